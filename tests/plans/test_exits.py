"""Every exit leaves the table safe (field 0, heater at its safe setpoint, stage parked) and a stop document."""

import bluesky.plan_stubs as bps
import numpy as np
import pytest
from bluesky.preprocessors import plan_mutator
from bluesky.utils import RunEngineInterrupted

from femtospin.acquisition import load_run, sim_profile
from femtospin.plans import UnsafeTableError, thz_emission

DELAYS = np.arange(-200.0, 400.0, 50.0)


@pytest.fixture
def table():
    t = sim_profile("YIG(3um)|Pt(5.5)", fast=True, seed=2)
    t.lockin.time_constant.put(0.01)
    return t


def _plan(t):
    return thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, heater=t.heater, magnetization=(1, -1),
                        temperatures=(320.0,), ramp_K_per_min=10.0)


def _assert_safe(t):
    sim = t.sim
    assert sim.field_mT == 0.0
    assert sim.thermal.target == t.heater.safe_K.get()
    assert t.stage.delay.get() == pytest.approx(t.stage.park_fs.get(), abs=10.0)


def _pause_after(plan, n_events):
    """The plan with a pause after its n-th event: what Ctrl-C (SIGINT) asks the RunEngine for."""
    count = []

    def insert(msg):
        if msg.command == "save":
            count.append(1)
            if len(count) == n_events:
                def then():
                    yield msg
                    yield from bps.pause()
                return then(), None
        return None, None

    return plan_mutator(plan, insert)


def _stored(session):
    (path,) = session.data_dir.glob("*.jsonl")
    return load_run(path.stem, session.data_dir)


def test_normal_end(table, session_factory):
    session = session_factory(table)
    session.run(_plan(table))
    _assert_safe(table)
    run = _stored(session)
    assert run.stop["exit_status"] == "success"
    end = run.table("baseline")
    assert abs(end["magnet_field"][-1]) < 0.1  # the closing baseline shows the safe state
    assert end["heater_setpoint"][-1] == table.heater.safe_K.get()


@pytest.mark.parametrize("action, status", [("stop", "success"), ("abort", "abort")])
def test_stop_and_abort_after_a_pause(table, session_factory, action, status):
    session = session_factory(table)
    with pytest.raises(RunEngineInterrupted):
        session.RE(_pause_after(_plan(table), 5))  # the bare RunEngine stays paused; the user chooses
    getattr(session.RE, action)()
    _assert_safe(table)
    run = _stored(session)
    assert run.stop["exit_status"] == status
    assert 5 <= len(run.table()["lockin_x"]) < 2 * len(DELAYS)


def test_ctrl_c_in_a_session_aborts_and_leaves_the_table_safe(table, session_factory):
    session = session_factory(table)
    with pytest.raises(RunEngineInterrupted):
        session.run(_pause_after(_plan(table), 3))
    assert session.RE.state == "idle"
    _assert_safe(table)
    assert _stored(session).stop["exit_status"] == "abort"


def test_exception_in_the_plan(table, session_factory):
    session = session_factory(table)

    def boom(name, doc):
        if name == "event" and doc["seq_num"] == 4:
            raise RuntimeError("analysis callback crashed")

    session.RE.subscribe(boom)
    with pytest.raises(RuntimeError, match="analysis callback crashed"):
        session.run(_plan(table))
    _assert_safe(table)
    run = _stored(session)
    assert run.stop["exit_status"] == "fail"
    assert "analysis callback crashed" in run.stop["reason"]
    assert len(run.table()["lockin_x"]) >= 3


def test_unsafe_device_is_named_and_the_others_still_made_safe(table, session_factory):
    session = session_factory(table)
    table.sim.inject_fault("magnet", "disconnect", after_s=60.0)
    with pytest.raises(Exception) as info:
        session.run(_plan(table))
    chain = f"{info.value!r} {info.value.__context__!r}"
    assert "magnet: instrument disconnected" in chain
    assert table.sim.thermal.target == table.heater.safe_K.get()
    assert table.stage.delay.get() == pytest.approx(table.stage.park_fs.get(), abs=10.0)
    run = _stored(session)
    assert run.stop["exit_status"] == "fail"


def test_unsafe_table_error_lists_every_failure(fast_table, session_factory):
    from femtospin.plans import make_safe

    fast_table.sim.inject_fault("magnet", "disconnect")
    fast_table.sim.inject_fault("stage", "stuck", timeout_s=5.0)
    session = session_factory(fast_table)
    with pytest.raises(UnsafeTableError) as info:
        session.RE(make_safe(fast_table.stage, fast_table.magnet))
    lines = str(info.value).splitlines()
    assert lines[0] == "TABLE NOT SAFE: magnet in an unknown state — instrument disconnected"  # never read
    assert lines[1].startswith("TABLE NOT SAFE: stage in an unknown state — move did not complete within 5 s")
    assert [d.name for d in info.value.devices] == ["magnet", "stage"]


def test_an_abort_that_cannot_make_the_table_safe_says_so(table, session_factory):
    """Interrupted, then the magnet does not answer: the abort raises the unsafe table, the run is closed."""
    session = session_factory(table)
    session.RE.subscribe(lambda name, doc: doc["seq_num"] == 3 and table.sim.inject_fault("magnet", "disconnect"),
                         "event")
    with pytest.raises(UnsafeTableError) as info:
        session.run(_pause_after(_plan(table), 3))
    assert [d.name for d in info.value.devices] == ["magnet"]
    assert session.RE.state == "idle"
    assert table.sim.thermal.target == table.heater.safe_K.get()
    run = _stored(session)
    assert run.stop["exit_status"] == "fail"
    assert len(run.table("baseline")["magnet_field"]) == 2
