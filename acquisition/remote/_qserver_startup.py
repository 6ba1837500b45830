"""Startup module of the RE worker of ``femtospin serve``; the worker imports it when a client opens the environment.

Its namespace is what clients can reach: ``RE`` (a :class:`Session`'s RunEngine),
the table's devices by role and the project's plans, nothing else (every other
name here is private and neither a plan nor a device).
"""

import os as _os

from bluesky import RunEngine as _RunEngine

from .._profiles import load_profile as _load_profile
from .._session import Session as _Session
from ..storage._recover import close_unfinished as _close_unfinished
from ..storage._recover import make_table_safe as _make_table_safe
from ._serve import ENV_CATALOG as _ENV_CATALOG
from ._serve import ENV_CLOSED as _ENV_CLOSED
from ._serve import ENV_PROFILE as _ENV_PROFILE
from ._serve import client_metadata as _client_metadata
from ._serve import queue_plans as _queue_plans


class _ClientRunEngine(_RunEngine):
    """The worker calls the RunEngine with a queue item's ``meta``: it is a client's metadata like ``md``."""

    def __call__(self, *args, **metadata_kw):
        return super().__call__(*args, **_client_metadata(metadata_kw, self.md.get("sample")))


_table = _load_profile(_os.environ[_ENV_PROFILE])
_session = _Session(_table, _os.environ["FEMTOSPIN_DATA"], live=True, catalog=_os.environ[_ENV_CATALOG],
                    stop_signals=False, run_engine=_ClientRunEngine)  # the RE manager controls the worker

RE = _session.RE

# a worker killed mid-plan left its runs open and the table wherever it was: close them, then make it safe
_closed = [u for u in _os.environ.get(_ENV_CLOSED, "").split(",") if u] + _close_unfinished(_session.data_dir)
if _closed:
    try:
        _state = _make_table_safe(_table, RE)
    except Exception as _exc:  # noqa: BLE001 — UnsafeTableError names each device; no plan runs on such a table
        print(str(_exc), flush=True)
        raise
    print(f"femtospin serve: table made safe after {len(_closed)} interrupted run(s) ({_state})", flush=True)
globals().update(_table.devices())
globals().update(_queue_plans(_table, _session.laser))
