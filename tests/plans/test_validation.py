"""Every plan checks every argument before its first message: nothing moves, nothing is stored."""

import pytest

from femtospin.plans import (
    PlanArgumentError,
    delay_grid,
    field_loop,
    find_time_zero,
    moke_scan,
    qwp_sweep,
    temperature_series,
    thz_emission,
)

D = [0.0, 100.0]


def _thz(t, **kw):
    roles = {k: v for k, v in t.devices().items() if k not in ("lockin", "stage")}
    return thz_emission(t.lockin, t.stage, kw.pop("delays", D), **roles, **kw)


CASES = [
    (lambda t: _thz(t, delays=[0.0, 5e5]), "delays: 500000 fs is outside the stage travel"),
    (lambda t: _thz(t, magnetization=(1, 0)), "magnetization: 0 is not one of"),
    (lambda t: _thz(t, magnetization=(1, -1), saturation_mT=500.0), r"saturation_mT: 500.0 mT .* \(0, 200\]"),
    (lambda t: _thz(t, magnetization=(1, -1), field_mT=60.0), "field_mT: 60.0 mT is outside"),
    (lambda t: _thz(t, angles=(0.0, float("nan"))), "angles: nan deg is outside"),
    (lambda t: _thz(t, helicities=(1, 2)), "helicities: 2 is not one of"),
    (lambda t: _thz(t, temperatures=(300.0, 2000.0)), r"temperatures: 2000 K is outside the allowed range \(0, "),
    (lambda t: _thz(t, temperatures=(350.0,), ramp_K_per_min=100.0), "ramp_K_per_min: 100.0 K/min"),
    (lambda t: _thz(t, spots=(30.0,)), r"spots: 30 mm is outside the allowed range \[0, 25\] mm"),
    (lambda t: _thz(t, fluences=(0.0,)), r"fluences: 0 mJ/cm² is outside the allowed range \(0, 1\]"),
    (lambda t: _thz(t, states=("AP",)), "reverse_mT: required"),
    (lambda t: _thz(t, kerr=("faraday",)), "kerr: 'faraday' is not one of"),
    (lambda t: _thz(t, magnetization=(1,), fast=("helicity",)), "fast: 'helicity' is not one of"),
    (lambda t: _thz(t, magnetization=(1,), repeats=0), "repeats: 0"),
    (lambda t: _thz(t, delays=[]), "delays: empty"),
    (lambda t: thz_emission(t.lockin, t.stage, D, magnetization=(1,)), "magnet: required when magnetization"),
    (lambda t: field_loop(t.lockin, t.stage, t.magnet, 100.0, max_field_mT=300.0, step_mT=1.0), "max_field_mT"),
    (lambda t: field_loop(t.lockin, t.stage, t.magnet, 100.0, max_field_mT=20.0, step_mT=-1.0), "step_mT: -1.0"),
    (lambda t: qwp_sweep(t.lockin, t.stage, t.pump_qwp, 100.0, []), "angles: empty"),
    (lambda t: temperature_series(t.lockin, t.stage, D, [], heater=t.heater, magnet=t.magnet), "temperatures: empty"),
    (lambda t: find_time_zero(t.lockin, t.stage, step_fs=0.0), "step_fs: 0.0 fs; must be > 0"),
    (lambda t: moke_scan(t.lockin, t.stage, D, probe_qwp=t.probe_qwp, static_kerr_V={"rotation": 0.0}),
     "static_kerr_V: rotation = 0.0"),
]


@pytest.mark.parametrize("make, fragment", CASES)
def test_bad_argument_is_refused_before_anything_moves_or_is_stored(fast_table, session_factory, make, fragment):
    session = session_factory(fast_table)
    seen = []
    session.RE.msg_hook = seen.append
    sim = fast_table.sim
    before = (sim.carriage_mm, sim.field_mT, sim.angle_deg, sim.pump_qwp_deg, sim.thermal.target, sim.spot_mm)
    with pytest.raises(PlanArgumentError, match=fragment):
        session.run(make(fast_table))
    assert seen == []
    assert (sim.carriage_mm, sim.field_mT, sim.angle_deg, sim.pump_qwp_deg, sim.thermal.target, sim.spot_mm) == before
    assert not session.data_dir.exists() or not list(session.data_dir.iterdir())


def test_missing_role_is_named(fast_table):
    with pytest.raises(PlanArgumentError, match="sample_rotation: required when angles are given; this table has none"):
        thz_emission(fast_table.lockin, fast_table.stage, D, angles=(0.0, 180.0))


def test_delay_grid_fine_near_time_zero():
    grid = delay_grid(-500.0, 1000.0, 100.0, fine=(-100.0, 200.0, 10.0))
    assert list(grid[:4]) == [-500.0, -400.0, -300.0, -200.0]
    assert (grid == 150.0).any() and (grid == -100.0).any()
    assert (grid[1:] > grid[:-1]).all()
    with pytest.raises(PlanArgumentError, match="fine: \\[-600, 200\\] fs is not within"):
        delay_grid(-500.0, 1000.0, 100.0, fine=(-600.0, 200.0, 10.0))
