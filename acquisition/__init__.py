"""Wiring: profiles, RunEngine session, durable storage, progress, demo and the command line.

Names are imported on first use (PEP 562): the ``femtospin`` command starts from ``main``
and must not pay for the RunEngine, the catalog and the analysis before it knows it needs them.
"""

from importlib import import_module

_WHERE = {
    "DemoResult": "._demo",
    "LiveAnalysis": "._live",
    "RunWriter": "._storage",
    "Session": "._session",
    "StoredRun": "._storage",
    "catalog_client": "._catalog",
    "data_directory": "._storage",
    "find_run_file": "._storage",
    "load_profile": "._profiles",
    "load_run": "._storage",
    "main": "._cli",
    "run_demo": "._demo",
    "sim_profile": "._profiles",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
