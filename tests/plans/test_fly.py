"""Fly mode: round trips read from the lock-in's buffer, binned like step points; faults as in step mode."""

import bluesky.plan_stubs as bps
import numpy as np
import pytest
from bluesky.preprocessors import plan_mutator
from bluesky.utils import RunEngineInterrupted
from scipy import stats

from femtospin import analysis
from femtospin.acquisition import load_run, sim_profile
from femtospin.plans import PlanArgumentError, device_error, thz_emission
from femtospin.sim_devices import Noise

DELAYS = np.arange(-900.0, 600.0, 10.0)


def _table(noise=None, seed=3):
    t = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=seed, noise=noise)
    t.lockin.time_constant.put(0.01)  # short sweeps: the test's sample count stays small
    return t


def _fly(t, **kwargs):
    return thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, power_meter=t.power_meter,
                        magnetization=(1, -1), mode="fly", setup=t.setup, **kwargs)


def test_bins_are_the_signal_through_the_round_trip_kernel(session_factory):
    t = _table(Noise.off())
    session = session_factory(t)
    (uid,) = session.run(_fly(t))
    run = load_run(uid, session.data_dir)
    fly = run.start["fly"]
    assert run.start["mode"] == "fly" and run.start["plan_args"]["mode"] == "fly"
    data = run.table()
    grid = analysis.fly_grid(DELAYS)
    for sign in (1, -1):
        sel = data["magnetization"] == sign
        assert np.allclose(data["stage_delay"][sel], grid)
    # expected: the waveform through ½(k_up + k_down) ⊛ box, k_up the filter's gamma density in delay
    f = fly["filter"]
    dx = 0.25
    x = np.arange(-80.0, 80.0 + dx / 2, dx)
    k_up = stats.gamma.pdf(x, f["order"], scale=f["lag_fs"])
    nbox = int(round(f["bin_fs"] / dx))
    box = np.r_[0.5, np.ones(nbox - 1), 0.5]  # exactly one bin wide, centred
    kernel = np.convolve(0.5 * (k_up + k_up[::-1]), box, "same")
    kernel /= kernel.sum()
    t.sim.set_field(50.0)
    t.sim.set_field(0.0)  # back to +M: the last condition measured was −M
    expected = np.array([np.sum(kernel * t.sim.waveform(d - x)) for d in grid])
    level = data["power_meter_power"][data["magnetization"] == 1] / t.sim.pump.power_W  # drift is off
    measured = data["lockin_x"][data["magnetization"] == 1]
    assert np.allclose(level, 1.0)
    assert np.max(np.abs(measured - expected)) < 1e-3 * np.max(np.abs(expected))
    # the raw samples are kept: two sweeps per condition, up then down, delays from the encoder
    raw = run.table("fly")
    assert set(np.unique(raw["fly_sweep"])) == {0, 1, 2, 3}
    assert list(np.unique(raw["fly_direction"][raw["fly_sweep"] == 0])) == [1]
    assert list(np.unique(raw["fly_direction"][raw["fly_sweep"] == 1])) == [-1]
    assert raw["fly_delay"].min() < grid[0] - fly["run_up_fs"] / 2 and raw["fly_delay"].max() > grid[-1]


def test_mode_checked_before_anything_moves(fast_table):
    t = fast_table
    before = t.sim.carriage_mm
    with pytest.raises(PlanArgumentError, match="mode: 'glide' is not one of"):
        thz_emission(t.lockin, t.stage, DELAYS, mode="glide")
    with pytest.raises(PlanArgumentError, match="interleave: fly mode sweeps every delay"):
        thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, magnetization=(1, -1), interleave="point",
                     mode="fly")
    with pytest.raises(PlanArgumentError, match="fly mode needs at least 2 distinct delays"):
        thz_emission(t.lockin, t.stage, [100.0], mode="fly")
    t.lockin.time_constant.put(3.0)  # a 3 s lock-in sweeps so slowly that the buffer cannot hold a sweep
    with pytest.raises(PlanArgumentError, match="the lock-in's buffer holds 16383"):
        thz_emission(t.lockin, t.stage, np.arange(-900.0, 95000.0, 10.0), mode="fly")
    assert t.sim.carriage_mm == before


def test_laser_drop_mid_sweep_repeats_the_round_trip(session_factory):
    t = _table()
    session = session_factory(t)
    t.sim.inject_dropout(after_s=3.0, duration_s=2.0)  # inside the first up sweep
    (uid,) = session.run(_fly(t))
    run = load_run(uid, session.data_dir)
    data = run.table()
    assert run.stop["exit_status"] == "success"
    grid = analysis.fly_grid(DELAYS)
    for sign in (1, -1):  # each condition exactly once, whole
        assert np.allclose(data["stage_delay"][data["magnetization"] == sign], grid)
    assert data["power_meter_power"].min() > 0.9 * t.sim.pump.power_W
    raw = run.table("fly")
    assert len(np.unique(raw["fly_sweep"])) == 6  # the spoiled round trip is kept in the raw stream only
    assert raw["fly_power"].min() < 0.1


@pytest.mark.parametrize("device, kind, message", [
    ("stage", "stuck", "stage: sweep did not complete within"),
    ("lockin", "overflow", "lockin: buffer overflowed"),
])
def test_fault_mid_run_fails_safe_and_keeps_finished_sweeps(session_factory, device, kind, message):
    t = _table()
    session = session_factory(t)
    # once the first condition is recorded, into the next up sweep (field change, settling, then the sweep)
    primary = []

    def inject(name, doc):
        if name == "descriptor" and doc["name"] == "primary":
            primary.append(doc["uid"])
        elif name == "event" and doc["descriptor"] in primary and doc["seq_num"] == 1:
            t.sim.inject_fault(device, kind, after_s=2.0)

    session.RE.subscribe(inject)
    with pytest.raises(Exception) as info:
        session.run(_fly(t))
    context = info.value.__context__
    said = device_error(info.value) + repr(info.value) + repr(context) + (device_error(context) if context else "")
    assert message in said
    assert t.sim.field_mT == 0.0
    run = load_run(session.uids[0], session.data_dir)
    assert run.stop["exit_status"] == "fail"
    data = run.table()
    assert np.all(data["magnetization"] == 1)  # the first condition, whole; nothing of the failed one
    assert np.allclose(data["stage_delay"], analysis.fly_grid(DELAYS))
    if device != "stage":
        assert t.stage.delay.get() == pytest.approx(t.stage.park_fs.get(), abs=10.0)


def test_ctrl_c_mid_sweep_leaves_the_table_safe_and_keeps_the_data(session_factory):
    t = _table()
    session = session_factory(t)
    kickoffs = []

    def pause_at_third_kickoff(msg):
        if msg.command == "kickoff":
            kickoffs.append(1)
            if len(kickoffs) == 3:  # the first sweep of the second condition
                def then():
                    yield msg
                    yield from bps.pause()
                return then(), None
        return None, None

    with pytest.raises(RunEngineInterrupted):
        session.run(plan_mutator(_fly(t), pause_at_third_kickoff))
    run = load_run(session.uids[0], session.data_dir)
    assert run.stop["exit_status"] == "abort"
    assert t.sim.field_mT == 0.0
    assert t.stage.delay.get() == pytest.approx(t.stage.park_fs.get(), abs=10.0)
    data = run.table()
    assert np.all(data["magnetization"] == 1) and len(data["magnetization"]) == len(analysis.fly_grid(DELAYS))


def test_find_time_zero_flies_to_the_step_modes_answer(quiet_table):
    from bluesky import RunEngine

    from femtospin.plans import find_time_zero

    t = quiet_table
    t.lockin.time_constant.put(0.01)
    found = {}
    for mode in ("step", "fly"):
        RE = RunEngine({})
        t.attach(RE)
        t.stage.time_zero_mm.put(t.sim.true_time_zero_mm)
        RE(find_time_zero(t.lockin, t.stage, start_fs=-600.0, stop_fs=600.0, step_fs=40.0, fine_step_fs=5.0,
                          mode=mode))
        found[mode] = t.stage.time_zero_mm.get()  # the plan stores what it found
    shift_fs = (found["fly"] - found["step"]) * t.stage.fs_per_mm.get()
    assert abs(shift_fs) < 2.0  # the round trip cancels the lag; the smear moves the peak little


def test_a_table_that_cannot_fly_says_so_before_anything_moves(fast_table):
    from femtospin.sim_devices import PlaybackDelayStage

    t = fast_table
    stage = PlaybackDelayStage(t.sim, name="stage")
    with pytest.raises(PlanArgumentError, match="mode: stage: playback serves recorded points one at a time"):
        thz_emission(t.lockin, stage, DELAYS, mode="fly")
