import numpy as np
import pytest

from femtospin.analysis import settle_time
from femtospin.plans import PlanArgumentError, delay_grid, delay_scan


def _messages(session):
    seen = []
    session.RE.msg_hook = seen.append
    return seen


@pytest.mark.parametrize("tau, slope", [(0.1, 24), (0.03, 6), (0.3, 12)])
def test_waits_the_computed_settling_time(fast_table, session_factory, tau, slope):
    fast_table.lockin.time_constant.put(tau)
    fast_table.lockin.slope_db.put(slope)
    session = session_factory(fast_table)
    seen = _messages(session)
    session.run(delay_scan(fast_table.lockin, fast_table.stage, [0.0, 50.0, 100.0]))
    sleeps = [m.args[0] for m in seen if m.command == "sleep"]
    assert sleeps == pytest.approx([settle_time(tau, slope)] * 3)


def test_settled_readings_follow_the_physics(quiet_table, session_factory):
    session = session_factory(quiet_table)
    delays = delay_grid(-900.0, 600.0, 30.0)  # the baseline the analysis needs
    (uid,) = session.run(delay_scan(quiet_table.lockin, quiet_table.stage, delays))
    from femtospin.acquisition import load_run

    t = load_run(uid, session.data_dir).table()
    expected = quiet_table.sim.waveform(t["stage_delay"])
    peak = np.abs(expected).max()
    # after 10τ at 24 dB the residual of each step is below 1 %
    assert np.max(np.abs(t["lockin_x"] - expected)) < 0.01 * peak
    # the recorded delay is the encoder readback, close to the command
    assert np.allclose(t["stage_delay"], delays, atol=10.0)


def test_plus_minus_magnetization_events_carry_condition(fast_table, session_factory):
    session = session_factory(fast_table)
    delays = delay_grid(-1000.0, 400.0, 20.0)
    (uid,) = session.run(delay_scan(fast_table.lockin, fast_table.stage, delays, magnet=fast_table.magnet,
                                    magnetization=(1, -1)))
    from femtospin.acquisition import load_run

    run = load_run(uid, session.data_dir)
    t = run.table()
    assert list(t["magnetization"]) == [1] * len(delays) + [-1] * len(delays)
    assert np.allclose(t["magnet_field"], 0.0, atol=0.1)  # measured at zero field after saturating
    plus, minus = t["lockin_x"][t["magnetization"] == 1], t["lockin_x"][t["magnetization"] == -1]
    assert np.corrcoef(plus, minus)[0, 1] < -0.95
    assert run.start["num_points"] == 2 * len(delays)
    assert run.start["conditions"] == ["magnetization"]


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"delays": []}, "delays: empty"),
        ({"delays": [0.0, 2e6]}, "outside the stage travel"),
        ({"delays": [0.0, float("nan")]}, "NaN"),
        ({"delays": [0.0], "magnetization": (1, 2)}, "magnetization: 2"),
        ({"delays": [0.0], "magnetization": (1,), "saturation_mT": 5000.0}, "saturation_mT: 5000"),
    ],
)
def test_bad_arguments_refused_before_anything_moves(fast_table, session_factory, kwargs, fragment):
    session = session_factory(fast_table)
    seen = _messages(session)
    before = fast_table.sim.carriage_mm, fast_table.sim.field_mT
    with pytest.raises(PlanArgumentError, match=fragment):
        session.run(delay_scan(fast_table.lockin, fast_table.stage, magnet=fast_table.magnet, **kwargs))
    assert seen == []
    assert (fast_table.sim.carriage_mm, fast_table.sim.field_mT) == before
    assert not session.data_dir.exists() or not list(session.data_dir.iterdir())


def test_magnetization_without_magnet_is_refused(fast_table, session_factory):
    with pytest.raises(PlanArgumentError, match="magnet: required"):
        session_factory(fast_table).run(delay_scan(fast_table.lockin, fast_table.stage, [0.0], magnetization=(1,)))


def test_delay_grid():
    assert np.allclose(delay_grid(-100, 100, 50), [-100, -50, 0, 50, 100])
    assert np.allclose(delay_grid(0, 95, 10), np.arange(0, 91, 10))
    with pytest.raises(PlanArgumentError, match="step_fs"):
        delay_grid(0, 100, 0)
    with pytest.raises(PlanArgumentError, match="stop_fs"):
        delay_grid(100, 0, 10)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"saturation_mT": -50.0}, "saturation_mT: -50.0 mT is outside the allowed range"),
        ({"saturation_mT": 50.0, "field_mT": 60.0}, r"field_mT: 60.0 mT is outside \[0, saturation_mT"),
        ({"saturation_mT": 50.0, "field_mT": -1.0}, "field_mT: -1.0 mT"),
    ],
)
def test_field_arguments_must_be_magnitudes(fast_table, session_factory, kwargs, fragment):
    with pytest.raises(PlanArgumentError, match=fragment):
        session_factory(fast_table).run(delay_scan(fast_table.lockin, fast_table.stage, [0.0],
                                                   magnet=fast_table.magnet, magnetization=(1,), **kwargs))
    assert fast_table.sim.field_mT == 0.0


class _Boom(RuntimeError):
    pass


def test_failure_mid_run_leaves_the_table_safe_and_the_run_closed(fast_table, session_factory):
    session = session_factory(fast_table)
    events = []

    def fail_on_fifth(name, doc):
        if name == "event" and doc["seq_num"] == 5:
            events.append(doc)
            raise _Boom("instrument fault")

    session.RE.subscribe(fail_on_fifth)
    session.RE.ignore_callback_exceptions = False
    with pytest.raises(_Boom):
        session.run(delay_scan(fast_table.lockin, fast_table.stage, delay_grid(-800, 500, 10),
                               magnet=fast_table.magnet, magnetization=(1, -1), field_mT=5.0))
    assert events  # the fault came mid-sweep, with the field on
    assert fast_table.sim.field_mT == 0.0
    assert fast_table.stage.setpoint.get() == fast_table.stage.park_fs.get()
    from femtospin.acquisition import load_run

    uid = next(session.data_dir.glob("*.jsonl")).stem
    run = load_run(uid, session.data_dir)
    assert run.stop["exit_status"] == "fail"
    assert len(run.table()["seq_num"]) >= 4


def test_plain_run_engine_attached_to_a_fast_table_reads_settled_values(quiet_table):
    from bluesky import RunEngine

    RE = RunEngine({})
    quiet_table.attach(RE)
    rows = []
    RE.subscribe(lambda name, doc: rows.append(doc["data"]) if name == "event" else None)
    RE(delay_scan(quiet_table.lockin, quiet_table.stage, delay_grid(-1000.0, 400.0, 40.0)))
    x = np.array([r["lockin_x"] for r in rows])
    expected = quiet_table.sim.waveform(np.array([r["stage_delay"] for r in rows]))
    assert np.max(np.abs(x - expected)) < 0.01 * np.abs(expected).max()


def test_wall_clock_scan_waits_and_reads_settled_values(session_factory):
    from femtospin.acquisition import load_run, sim_profile
    from femtospin.sim_devices import Noise

    table = sim_profile("CoFeB(5)|Pt(3)", fast=False, noise=Noise.off())
    table.lockin.time_constant.put(0.002)
    session = session_factory(table)
    start = table.clock.now()
    (uid,) = session.run(delay_scan(table.lockin, table.stage, delay_grid(-100.0, 300.0, 50.0)))
    elapsed = table.clock.now() - start
    assert elapsed >= 9 * settle_time(0.002, 24)  # the waits are real on the wall clock
    t = load_run(uid, session.data_dir).table()
    expected = table.sim.waveform(t["stage_delay"])
    assert np.max(np.abs(t["lockin_x"] - expected)) < 0.02 * np.abs(expected).max()
