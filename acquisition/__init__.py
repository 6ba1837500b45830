"""Wiring: profiles, RunEngine session, durable storage, progress, demo and the command line."""

from ._catalog import catalog_client
from ._cli import main
from ._demo import DemoResult, run_demo
from ._live import LiveAnalysis
from ._profiles import Table, load_profile, sim_profile
from ._session import Session, data_directory
from ._storage import RunWriter, StoredRun, find_run_file, load_run

__all__ = [
    "DemoResult",
    "LiveAnalysis",
    "RunWriter",
    "Session",
    "StoredRun",
    "Table",
    "catalog_client",
    "data_directory",
    "find_run_file",
    "load_profile",
    "load_run",
    "main",
    "run_demo",
    "sim_profile",
]
