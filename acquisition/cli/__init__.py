"""The command line: ``femtospin`` and its commands, the run options built from the plans' source, the demo.

Names are imported on first use, so a command pays only for what it uses.
"""

from .._lazy import lazy_exports

_WHERE = {
    "DemoResult": "._demo",
    "entry": "._cli",
    "main": "._cli",
    "run_demo": "._demo",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_exports(__name__, _WHERE)
