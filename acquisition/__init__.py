"""Wiring: profiles and the RunEngine session here; by job, ``cli`` (the command line and the demo),
``storage`` (run files and the catalog), ``live`` (live analysis and reports), ``remote`` (the queue
server and its Redis).

Names are imported on first use (PEP 562): the ``femtospin`` command starts from ``main``
and must not pay for the RunEngine, the catalog and the analysis before it knows it needs them.
"""

from ._lazy import lazy_exports

_WHERE = {
    "DemoResult": ".cli._demo",
    "LiveAnalysis": ".live._live",
    "RunWriter": ".storage._storage",
    "Session": "._session",
    "StoredRun": ".storage._storage",
    "catalog_client": ".storage._catalog",
    "data_directory": ".storage._storage",
    "find_run_file": ".storage._storage",
    "load_profile": "._profiles",
    "load_run": ".storage._storage",
    "main": ".cli._cli",
    "run_demo": ".cli._demo",
    "sim_profile": "._profiles",
}

__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, _WHERE)


def __dir__():
    return __all__
