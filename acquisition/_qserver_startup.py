"""Startup module of the RE worker of ``femtospin serve``; the worker imports it when a client opens the environment.

Its namespace is what clients can reach: ``RE`` (a :class:`Session`'s RunEngine),
the table's devices by role and the project's plans, nothing else (every other
name here is private and neither a plan nor a device).
"""

import os as _os

from bluesky import RunEngine as _RunEngine

from ._profiles import load_profile as _load_profile
from ._serve import ENV_CATALOG as _ENV_CATALOG
from ._serve import ENV_PROFILE as _ENV_PROFILE
from ._serve import client_metadata as _client_metadata
from ._serve import queue_plans as _queue_plans
from ._session import Session as _Session


class _ClientRunEngine(_RunEngine):
    """The worker calls the RunEngine with a queue item's ``meta``: it is a client's metadata like ``md``."""

    def __call__(self, *args, **metadata_kw):
        return super().__call__(*args, **_client_metadata(metadata_kw, self.md.get("sample")))


_table = _load_profile(_os.environ[_ENV_PROFILE])
_session = _Session(_table, _os.environ["FEMTOSPIN_DATA"], live=True, catalog=_os.environ[_ENV_CATALOG],
                    stop_signals=False, run_engine=_ClientRunEngine)  # the RE manager controls the worker

RE = _session.RE
globals().update(_table.devices())
globals().update(_queue_plans(_table, _session.laser))
