"""TR-MOKE plans on the simulated MOKE table: the static Kerr signal measured in the run (pump blocked, ±M,
analyser calibration) at its start and end, the detection a plan needs, and its arguments checked first."""

import numpy as np
import pytest

from femtospin.acquisition import load_run, sim_profile
from femtospin.plans import PlanArgumentError, delay_grid, moke_scan, static_kerr, thz_emission
from femtospin.sim_devices import Detection

D = delay_grid(-300.0, 1200.0, 50.0)


@pytest.fixture
def moke_table():
    return sim_profile(fast=True, seed=4, detection=Detection(mode="moke"))


def _moke(t, **kwargs):
    roles = {"probe_qwp": t.probe_qwp, "magnet": t.magnet, "shutter": t.shutter, "analyser": t.analyser,
             "power_meter": t.power_meter, "setup": t.setup}
    return moke_scan(t.lockin, t.stage, D, **{**roles, **kwargs})


def test_moke_scan_measures_the_static_kerr_signal_at_start_and_end(moke_table, session_factory):
    t = moke_table
    session = session_factory(t, live=False)
    (uid,) = session.run(_moke(t, kerr=("rotation", "ellipticity"), states=("P", "AP"), reverse_mT=20.0,
                               static_reads=3))
    run = load_run(uid, session.data_dir)
    static = run.table("static_kerr")
    assert list(dict.fromkeys(static["static_phase"])) == ["start", "end"]
    primary = run.table("primary")
    first_sweep, last_sweep = np.min(primary["time"]), np.max(primary["time"])
    phase = np.asarray(static["static_phase"])
    assert np.all(np.asarray(static["time"])[phase == "start"] < first_sweep)
    assert np.all(np.asarray(static["time"])[phase == "end"] > last_sweep)
    # 2 quantities × (3 calibration/working settings at +M + 1 at −M) × 3 readings, per phase
    assert len(static["lockin_aux_in"]) == 2 * 2 * 4 * 3
    # the pump was blocked for every DC reading and open for every sweep point, and is open at the end
    assert run.start["static_kerr"]["measured"] and run.start["static_kerr"]["phases"] == ["start", "end"]
    assert t.sim.pump_open == 1.0 and t.sim.field_mT == 0.0 and t.sim.analyser_deg == 0.0
    dc = np.asarray(static["lockin_aux_in"])
    plus = dc[(np.asarray(static["static_magnetization"]) == 1) & (np.asarray(static["analyser_offset_deg"]) == 0)]
    assert np.all(np.abs(plus) > 0.05)  # the static level, not the pump-induced one (≤ 1e-2 V)


def test_static_kerr_plan_on_its_own(moke_table, session_factory):
    t = moke_table
    session = session_factory(t, live=False)
    (uid,) = session.run(static_kerr(t.lockin, t.magnet, t.probe_qwp, t.shutter, t.analyser, kerr=("rotation",),
                                     static_reads=4, setup=t.setup))
    static = load_run(uid, session.data_dir).table("static_kerr")
    assert set(static["static_kerr"]) == {"rotation"} and len(static["lockin_aux_in"]) == 16
    assert t.sim.pump_open == 1.0 and t.sim.field_mT == 0.0


def test_a_typed_in_static_signal_is_recorded_as_such(moke_table):
    m = _moke(moke_table, static_kerr_V={"rotation": 0.05, "stderr": {"rotation": 0.001}})
    assert m.md["static_kerr_V"] == {"source": "typed in", "rotation": 0.05, "stderr": {"rotation": 0.001}}
    assert "static_kerr" not in m.md


def test_each_plan_refuses_the_other_detection(moke_table, fast_table):
    with pytest.raises(PlanArgumentError, match="moke_scan: this table detects THz emission"):
        moke_scan(fast_table.lockin, fast_table.stage, D, probe_qwp=fast_table.probe_qwp, setup=fast_table.setup,
                  static_kerr_V={"rotation": 0.05})
    with pytest.raises(PlanArgumentError, match="thz_emission: this table detects TR-MOKE"):
        thz_emission(moke_table.lockin, moke_table.stage, D, setup=moke_table.setup)


@pytest.mark.parametrize("kwargs, fragment", [
    ({"shutter": None}, "shutter: required when measuring the static Kerr signal"),
    ({"analyser": None}, "analyser: required when measuring the static Kerr signal"),
    ({"static_reads": 1}, "static_reads: 1; must be a whole number in \\[2, 1000\\]"),
    ({"calibration_deg": 5.0}, "calibration_deg: 5.0 deg is outside"),
    ({"kerr": ("faraday",)}, "kerr: 'faraday' is not one of"),
    ({"kerr": ()}, "kerr: empty"),
    ({"static_kerr_V": {"rotation": float("nan")}}, "static_kerr_V: rotation = nan V"),
    ({"static_kerr_V": {"kerr": 1.0}}, "static_kerr_V: 'kerr' is not"),
    ({"states": ("P", "AP")}, "reverse_mT: required for the AP state"),
])
def test_bad_arguments_are_refused_before_anything_moves(moke_table, session_factory, kwargs, fragment):
    t = moke_table
    sim = t.sim
    before = (sim.carriage_mm, sim.field_mT, sim.probe_qwp_deg, sim.pump_open, sim.analyser_deg)
    with pytest.raises(PlanArgumentError, match=fragment):
        _moke(t, **{"kerr": ("rotation", "ellipticity"), **kwargs})
    assert (sim.carriage_mm, sim.field_mT, sim.probe_qwp_deg, sim.pump_open, sim.analyser_deg) == before
