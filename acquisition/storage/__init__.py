"""Durable run storage: one JSON-lines file per run, read back whole or damaged line by line; the Tiled
catalog and its ingest service; recovery of runs cut off by a crash.

Names are imported on first use, so a command pays only for what it uses.
"""

from .._lazy import lazy_exports

_WHERE = {
    "RunWriter": "._storage",
    "StoredRun": "._storage",
    "Target": "._catalog",
    "catalog_client": "._catalog",
    "data_directory": "._storage",
    "find_run_file": "._storage",
    "load_run": "._storage",
    "stop_service": "._catalog",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_exports(__name__, _WHERE)
