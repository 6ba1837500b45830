"""The plans' names, summaries and parameters for ``femtospin run PLAN --help``, read from the plans' source.

Importing ``femtospin.plans`` imports bluesky and ophyd (about a second); building the
``run`` parser only needs each plan's signature and docstring, so they are read from
the plans' source files with :mod:`ast`, which costs milliseconds. The source is the
one the plans are imported from, so the table cannot drift from them; anything the
reader does not understand (a default that is not a literal, a registry it cannot
parse) makes it fall back to importing the plans.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class PlanInfo:
    name: str
    doc: str  # as inspect.getdoc gives it
    params: tuple[tuple[str, object], ...]  # (name, default or REQUIRED), in signature order

    @property
    def summary(self) -> str:
        return plain(self.doc.strip().splitlines()[0]) if self.doc.strip() else ""


class _Unreadable(Exception):
    pass


def plain(text: str) -> str:
    """Docstring text for a terminal: Sphinx roles (``:func:`delay_grid```) and double backticks removed."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def _from_source() -> dict[str, PlanInfo]:
    spec = importlib.util.find_spec("femtospin.plans")  # imports the (empty) parent package only
    if spec is None or not spec.submodule_search_locations:
        raise _Unreadable("no plans package")
    folder = Path(next(iter(spec.submodule_search_locations)))
    names = _registry(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
    functions = {}
    for path in sorted(folder.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = node
    missing = [n for n in names if n not in functions]
    if missing:
        raise _Unreadable(f"plans not found: {missing}")
    return {n: PlanInfo(n, inspect.cleandoc(ast.get_docstring(functions[n], clean=False) or ""),
                        _params(functions[n].args)) for n in names}


def _registry(module: ast.Module) -> list[str]:
    """The names in ``PLANS = {p.__name__: p for p in (a, b, …)}``."""
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PLANS" for t in node.targets):
            value = node.value
            if isinstance(value, ast.DictComp) and isinstance(value.generators[0].iter, (ast.Tuple, ast.List)):
                elements = value.generators[0].iter.elts
                if all(isinstance(e, ast.Name) for e in elements):
                    return [e.id for e in elements]
    raise _Unreadable("PLANS registry not understood")


def _params(args: ast.arguments) -> tuple[tuple[str, object], ...]:
    positional = [*args.posonlyargs, *args.args]
    defaults = [REQUIRED] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    out = []
    for arg, default in pairs:
        if default is None or default is REQUIRED:  # ast gives None for a keyword-only argument without default
            out.append((arg.arg, REQUIRED))
            continue
        try:
            out.append((arg.arg, ast.literal_eval(default)))
        except ValueError:
            raise _Unreadable(f"default of {arg.arg} is not a literal") from None
    return tuple(out)


def _from_import() -> dict[str, PlanInfo]:
    from femtospin.plans import PLANS

    return {n: PlanInfo(n, inspect.getdoc(p) or "",
                        tuple((q.name, q.default) for q in inspect.signature(p).parameters.values()
                              if q.kind not in (q.VAR_POSITIONAL, q.VAR_KEYWORD)))
            for n, p in PLANS.items()}


def plan_table() -> dict[str, PlanInfo]:
    """Every plan of ``femtospin.plans.PLANS``: from the source when it can be read, else by importing the plans."""
    try:
        return _from_source()
    except (_Unreadable, OSError, SyntaxError):
        return _from_import()
