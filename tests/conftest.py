import os
import signal
import time
import uuid
from pathlib import Path

# One BLAS thread per process, set before numpy loads (child processes inherit it): the suite runs many small
# linear-algebra problems, and OpenBLAS threads spinning for a core that other work holds make them many times
# slower on a busy machine.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import bluesky.utils  # noqa: E402 — numpy loads from here on
import pytest  # noqa: E402

from femtospin.acquisition import Session, sim_profile  # noqa: E402
from femtospin.sim_devices import Noise  # noqa: E402

pytest_plugins = ["pytester"]  # tests/test_conftest.py runs a test session of its own


def _plan_without_stack(self, f, *args, **kwargs):
    self._iter = f(*args, **kwargs)
    self._stack = None


# bluesky's @plan formats the caller's stack on every plan call (bps.mv, trigger_and_read, …), only to warn if
# a plan is never iterated: on the simulated table that is half the RunEngine's CPU time. No test relies on the
# warning; the tests' own processes skip it (commands they start as subprocesses keep it).
bluesky.utils.Plan.__init__ = _plan_without_stack

# Commands default to the embedded catalog; tests that are about the catalog ask for it. Its ingest
# services (child processes, which inherit these) stop soon after a test and retry quickly.
os.environ["FEMTOSPIN_CATALOG"] = "off"
os.environ["FEMTOSPIN_CATALOG_LINGER_S"] = "20"
os.environ["FEMTOSPIN_CATALOG_BACKOFF_S"] = "1"
os.environ["FEMTOSPIN_CATALOG_TIMEOUT_S"] = "2"
os.environ["FEMTOSPIN_CATALOG_PROBE_S"] = "1"

# Every process this test run starts inherits this mark, also those that leave its process tree (the ingest
# service starts its own session), so the ones still running at the end can be found in /proc.
SESSION_MARK = f"FEMTOSPIN_TEST_SESSION={os.getpid()}-{uuid.uuid4().hex}".encode()
os.environ["FEMTOSPIN_TEST_SESSION"] = SESSION_MARK.split(b"=", 1)[1].decode()
LEFTOVER_GRACE_S = 30.0  # an ingest service lingers FEMTOSPIN_CATALOG_LINGER_S after its last work


def marked_processes() -> dict[int, str]:
    """pid → command line of every live process carrying this test run's mark (zombies carry none)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if SESSION_MARK in (proc / "environ").read_bytes().split(b"\0"):
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or not ours to read
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_outlives_the_tests():
    """Fails the run if a process it started is still running at the end (after a grace for lingering
    services); the survivors are killed, so a failing run leaves nothing behind either."""
    yield
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    while (left := marked_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, "processes started by the tests outlived them:\n" + "\n".join(
        f"  {pid}: {cmd}" for pid, cmd in left.items())


# The reliability suite's outcomes (tests/reliability), counted over the whole run: with parallel workers each
# worker sends its own to the controller, which prints the counts.
RELIABILITY = pytest.StashKey[list]()


def _outcomes(config) -> list[dict]:
    if RELIABILITY not in config.stash:
        config.stash[RELIABILITY] = []
    return config.stash[RELIABILITY]


@pytest.fixture
def reliability_outcomes(request) -> list[dict]:
    return _outcomes(request.config)


def pytest_xdist_auto_num_workers(config):
    """At most 4 workers: each runs servers and simulated tables of its own, and more would only contend."""
    return min(os.cpu_count() or 1, 4)


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # a parallel worker: hand the outcomes to the controller
        session.config.workeroutput["reliability"] = _outcomes(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _outcomes(node.config).extend(getattr(node, "workeroutput", {}).get("reliability", []))


def pytest_terminal_summary(terminalreporter, config):
    outcomes = _outcomes(config)
    if not outcomes:
        return

    def count(key, value=True):
        return sum(o[key] == value for o in outcomes)

    terminalreporter.write_line(
        f"reliability: {len(outcomes)} attacks; {count('kind', 'refused')} refused before anything moved, "
        f"{count('kind', 'safe exit')} runs ended early and left the table safe, {count('kind', 'data kept')} "
        f"damaged files read with the loss named; {count('one_line')} one-line messages; {count('traceback')} "
        f"tracebacks; {count('outside')} writes outside the data directory")


@pytest.fixture
def fast_table():
    """CoFeB(5)|Pt(3) on the accelerated simulated table, seeded noise."""
    return sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=1)


@pytest.fixture
def quiet_table():
    """As fast_table, without noise: readings equal the physics exactly."""
    return sim_profile("CoFeB(5)|Pt(3)", fast=True, noise=Noise.off())


@pytest.fixture
def session_factory(tmp_path):
    def make(table, **kwargs):
        return Session(table, tmp_path / "data", **kwargs)

    return make
