"""The distribution ships every package of the source tree (a normal, non-editable install included)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_package_is_in_the_distribution():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    folders = config["package-dir"]
    for package, folder in folders.items():
        assert package in declared, f"{package} is mapped but not listed"
        for init in (ROOT / folder).rglob("__init__.py"):
            sub = init.parent.relative_to(ROOT / folder)
            name = ".".join([package, *sub.parts])
            assert name in declared, f"{name} ({init.parent.relative_to(ROOT)}) is not in [tool.setuptools] packages"
            assert folders.get(name) == str(init.parent.relative_to(ROOT)), f"{name} has no package-dir entry"
