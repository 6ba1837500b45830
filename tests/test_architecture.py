"""The layers' contract: a package uses another only through its public API, and data flows one way.

Each package re-exports what others may use from its ``__init__``; its private
modules (``_name``) are its own. This walks every import of every module of the
project and fails on one that reaches into another package's private module, or
that goes against the flow (simulated or real table → devices → plans →
acquisition; analysis is pure numerics that the others use).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = {  # the package each folder installs as
    "analysis": "femtospin.analysis",
    "sim_devices": "femtospin.sim_devices",
    "devices": "femtospin.devices",
    "devices/drivers": "femtospin.devices.drivers",
    "plans": "femtospin.plans",
    "acquisition": "femtospin.acquisition",
}
# which packages each may import (besides itself and its own subpackages)
ALLOWED = {
    "femtospin.analysis": set(),
    "femtospin.devices.drivers": set(),
    "femtospin.devices": {"femtospin.devices.drivers"},
    "femtospin.sim_devices": {"femtospin.analysis", "femtospin.devices"},
    "femtospin.plans": {"femtospin.analysis", "femtospin.devices"},
    "femtospin.acquisition": {"femtospin.analysis", "femtospin.devices", "femtospin.devices.drivers",
                              "femtospin.sim_devices", "femtospin.plans"},
}


def _modules(root: Path):
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).glob("*.py")):
            yield path, package


def _imports(path: Path, package: str):
    """Absolute names of everything ``path`` imports from the project, with the line."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names = [f"{module}.{a.name}" for a in node.names]
            yield node.lineno, module, names
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, [a.name]


def _owner(module: str) -> str | None:
    """The project package ``module`` belongs to (the longest matching one), or None outside the project."""
    matches = [p for p in PACKAGES.values() if module == p or module.startswith(p + ".")]
    return max(matches, key=len) if matches else None


def _violations(root: Path = ROOT):
    for path, package in _modules(root):
        where = path.relative_to(root)
        for line, module, names in _imports(path, package):
            owner = _owner(module)
            if owner is None or owner == package:
                continue
            rest = module[len(owner):].lstrip(".").split(".") if module != owner else []
            private = [n.rsplit(".", 1)[1] for n in names if n.rsplit(".", 1)[1].startswith("_")
                       and not n.endswith("__")]
            if any(part.startswith("_") for part in rest) or private:
                yield f"{where}:{line}: imports {module}, a private module of {owner}"
            elif owner not in ALLOWED[package] and not owner.startswith(package + "."):
                yield f"{where}:{line}: {package} imports {owner}, against the flow of the layers"


def test_no_package_reaches_into_another_s_private_modules_or_against_the_flow():
    assert list(_violations()) == []


@pytest.mark.parametrize("source, expected", [
    ("from femtospin.devices._motion import N_AIR\n", "a private module of femtospin.devices"),
    ("from ..devices import _motion\n", "a private module of femtospin.devices"),
    ("from femtospin.acquisition import main\n", "against the flow of the layers"),
    ("from ._measure import measure\nfrom femtospin.devices import N_AIR\n", None),
])
def test_the_walk_finds_a_private_import_and_one_against_the_flow(tmp_path, source, expected):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "_new.py").write_text(source)
    found = list(_violations(tmp_path))
    assert found == [] if expected is None else (len(found) == 1 and expected in found[0])
