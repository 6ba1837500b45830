"""Public names imported on first use (PEP 562): a command pays only for the modules it uses."""

from __future__ import annotations

import sys
from importlib import import_module


def lazy_exports(package: str, where: dict[str, str]):
    """A module ``__getattr__`` for ``package`` that imports each name of ``where`` (name → relative module)
    when it is first asked for, and keeps it."""

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(where[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
