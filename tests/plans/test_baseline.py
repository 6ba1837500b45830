"""A THz-emission plan refuses, before anything moves, a delay grid too short before time zero for its analysis."""

import math

import numpy as np
import pytest

from femtospin.acquisition import sim_profile
from femtospin.analysis import baseline_needed_fs
from femtospin.devices import plan_devices
from femtospin.plans import (
    PlanArgumentError,
    delay_grid,
    delay_scan,
    field_loop,
    fluence_series,
    moke_scan,
    qwp_sweep,
    temperature_series,
    thz_emission,
)
from femtospin.sim_devices import Detection


def _needed(detector="gap250", dt=5.0, sweeps=1):
    return math.ceil(baseline_needed_fs(detector, dt, 20.0, sweeps=sweeps))


def _thz(t, delays, **kwargs):
    return thz_emission(t.lockin, t.stage, delays, magnet=t.magnet, magnetization=(1, -1), setup=t.setup, **kwargs)


def test_a_late_start_is_refused_before_anything_moves_or_is_stored(fast_table, session_factory):
    session = session_factory(fast_table)
    seen = []
    session.RE.msg_hook = seen.append
    sim = fast_table.sim
    before = sim.carriage_mm, sim.field_mT
    with pytest.raises(PlanArgumentError) as info:
        session.run(_thz(fast_table, delay_grid(-50.0, 1000.0, 5.0)))
    assert str(info.value) == (
        f"delays: the scan starts at -50 fs; the analysis needs a baseline from -{_needed()} fs or earlier "
        f"(GaP(110) 250 µm, 5 fs steps, 1 sweep); with 2 or more repeats from -{_needed(sweeps=2)} fs")
    assert seen == [] and (sim.carriage_mm, sim.field_mT) == before
    assert not session.data_dir.exists() or not list(session.data_dir.iterdir())


def test_the_limit_is_where_the_analysis_puts_it(fast_table):
    need = _needed(dt=10.0)
    _thz(fast_table, delay_grid(-need, 1000.0, 10.0))  # accepted: builds the plan
    with pytest.raises(PlanArgumentError, match=f"starts at {-need + 10:g} fs; .* from -{need} fs or earlier"):
        _thz(fast_table, delay_grid(-need + 10.0, 1000.0, 10.0))


def test_the_step_is_that_of_the_baseline_not_the_fine_grid(fast_table):
    # the README's grid: 20 fs steps before -200 fs, 5 fs near time zero
    _thz(fast_table, delay_grid(-1000.0, 3000.0, 20.0, fine=(-200.0, 400.0, 5.0)))
    start = -_needed(dt=20.0) + 40.0
    with pytest.raises(PlanArgumentError, match=rf"from -{_needed(dt=20.0)} fs or earlier \(GaP\(110\) 250 µm, 20 fs"):
        _thz(fast_table, delay_grid(start, 3000.0, 20.0, fine=(-200.0, 400.0, 5.0)))


def test_repeats_need_less_baseline(fast_table):
    short = delay_grid(-200.0, 1000.0, 5.0)
    assert _needed(sweeps=2) < 200 < _needed()
    _thz(fast_table, short, repeats=2)
    with pytest.raises(PlanArgumentError, match=r"1 sweep\); or measure 2 or more repeats$"):
        _thz(fast_table, short)
    with pytest.raises(PlanArgumentError, match=r"2 sweeps\)$"):
        _thz(fast_table, delay_grid(-50.0, 1000.0, 5.0), repeats=2)


def test_the_detector_comes_from_the_table():
    znte = sim_profile(fast=True, detection=Detection(detector="znte1000"))
    gap = sim_profile(fast=True)
    grid = delay_grid(-1000.0, 1000.0, 10.0)
    assert _needed(dt=10.0) < 1000 < _needed("znte1000", 10.0)  # the thicker crystal's precursor reaches further
    _thz(gap, grid)
    with pytest.raises(PlanArgumentError, match=rf"from -{_needed('znte1000', 10.0)} fs .*\(ZnTe\(110\) 1 mm"):
        _thz(znte, grid)
    # without the table's setup, GaP 250 µm is assumed
    thz_emission(znte.lockin, znte.stage, grid)
    # a measured h(t) has no detector model: GaP 250 µm too
    t_h = np.arange(-500.0, 1500.0, 5.0)
    measured = sim_profile(fast=True, detection=Detection(transfer=(tuple(t_h), tuple(np.exp(-(t_h / 50) ** 2)))))
    with pytest.raises(PlanArgumentError, match=r"GaP\(110\) 250 µm"):
        _thz(measured, delay_grid(-300.0, 1000.0, 10.0))


def test_every_thz_plan_checks_and_the_series_pass_the_setup(fast_table):
    t, short = fast_table, delay_grid(-100.0, 1000.0, 10.0)
    plans = [
        lambda: delay_scan(t.lockin, t.stage, short, setup=t.setup),
        lambda: temperature_series(t.lockin, t.stage, short, [300.0], heater=t.heater, magnet=t.magnet,
                                   setup=t.setup),
        lambda: fluence_series(t.lockin, t.stage, short, [0.1], attenuator=t.attenuator, magnet=t.magnet,
                               setup=t.setup),
    ]
    for make in plans:
        with pytest.raises(PlanArgumentError, match="delays: the scan starts at -100 fs"):
            make()
    with pytest.raises(PlanArgumentError, match=r"ZnTe\(110\) 1 mm"):  # the setup reaches the check
        znte = sim_profile(fast=True, detection=Detection(detector="znte1000"))
        delay_scan(znte.lockin, znte.stage, delay_grid(-1000.0, 1000.0, 10.0), setup=znte.setup)


def test_single_delays_short_grids_loops_and_tr_moke_are_exempt(fast_table):
    t = fast_table
    _thz(t, [100.0])  # a series at one delay
    _thz(t, delay_grid(0.0, 140.0, 10.0))  # 15 delays: no waveform to deconvolve
    with pytest.raises(PlanArgumentError):
        _thz(t, delay_grid(0.0, 150.0, 10.0))  # 16 are one
    field_loop(t.lockin, t.stage, t.magnet, delay_grid(0.0, 500.0, 10.0), max_field_mT=5.0, step_mT=1.0)
    qwp_sweep(t.lockin, t.stage, t.pump_qwp, 100.0, [0.0, 45.0])
    moke = sim_profile(fast=True, detection=Detection(mode="moke"))
    # a TR-MOKE table: not deconvolved through an EOS response, so any start will do
    moke_scan(moke.lockin, moke.stage, delay_grid(0.0, 1000.0, 10.0), probe_qwp=moke.probe_qwp, magnet=moke.magnet,
              magnetization=(1, -1), shutter=moke.shutter, analyser=moke.analyser, setup=moke.setup)


def test_the_command_line_and_queue_get_the_tables_setup():
    from femtospin.acquisition.remote._serve import queue_plans

    znte = sim_profile(fast=True, detection=Detection(detector="znte1000"))
    assert plan_devices(znte, thz_emission)["setup"] == znte.setup == {
        k: znte.metadata[k] for k in ("sample", "detection", "pump", "laser")}
    assert "setup" not in plan_devices(znte, field_loop)
    queued = queue_plans(znte)["thz_emission"]
    assert "setup" not in queued.__signature__.parameters  # filled in by the table, like a device
    with pytest.raises(PlanArgumentError, match=r"ZnTe\(110\) 1 mm"):
        queued(delays=delay_grid(-1000.0, 1000.0, 10.0).tolist())
