"""Plans on the simulated table reproduce the physics, not only the plumbing (physics.md §3–4)."""

from dataclasses import replace

import numpy as np
import pytest

from femtospin.acquisition import Session, load_run, sim_profile
from femtospin.plans import delay_grid, field_loop, find_time_zero, qwp_sweep, temperature_series, thz_emission
from femtospin.sim_devices import Noise, get_sample

DELAYS = delay_grid(-900.0, 900.0, 30.0)  # with the baseline the analysis needs


def _run(table, plan, tmp_path):
    session = Session(table, tmp_path / "data")
    (uid,) = session.run(plan)
    return load_run(uid, session.data_dir).table()


def _mean_by(data, field, value):
    sel = data[field] == value
    order = np.argsort(data["stage_delay"][sel])
    delays = np.round(data["stage_delay"][sel][order], -1)
    x = data["lockin_x"][sel][order]
    grid = np.unique(delays)
    return np.array([x[delays == d].mean() for d in grid])


def _odd_in_m(sample, tmp_path, seed=0):
    t = sim_profile(sample, fast=True, seed=seed)
    data = _run(t, thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, magnetization=(1, -1)), tmp_path)
    return 0.5 * (_mean_by(data, "magnetization", 1) - _mean_by(data, "magnetization", -1))


def test_odd_part_reverses_between_pt_and_w(tmp_path):
    pt = _odd_in_m("CoFeB(5)|Pt(3)", tmp_path / "pt")
    w = _odd_in_m("CoFeB(5)|W(3)", tmp_path / "w", seed=1)
    assert np.corrcoef(pt, w)[0, 1] < -0.98
    assert np.abs(pt).max() > 20 * 3e-6 and np.abs(w).max() > 20 * 3e-6


def test_turning_an_f_n_sample_by_180_degrees_reverses_its_signal(tmp_path):
    t = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=3)
    data = _run(t, thz_emission(t.lockin, t.stage, DELAYS, sample_rotation=t.sample_rotation,
                                angles=(0.0, 180.0)), tmp_path)
    s0, s180 = _mean_by(data, "angle_deg", 0.0), _mean_by(data, "angle_deg", 180.0)
    minus, plus = 0.5 * (s0 - s180), 0.5 * (s0 + s180)
    assert np.corrcoef(s0, s180)[0, 1] < -0.98
    assert np.abs(plus).max() < 0.05 * np.abs(minus).max()  # S+ holds only the small magnetic dipole


def _qwp_terms(sample, tmp_path):
    t = sim_profile(sample, fast=True, seed=4)
    peak = DELAYS[np.argmax(np.abs(t.sim.waveform(DELAYS)))]
    angles = np.arange(0.0, 180.0, 7.5)
    data = _run(t, qwp_sweep(t.lockin, t.stage, t.pump_qwp, peak, angles), tmp_path)
    phi = np.radians(data["qwp_deg"])
    basis = np.column_stack([np.sin(2 * phi), np.sin(4 * phi), np.cos(4 * phi), np.ones_like(phi)])
    coef, res, *_ = np.linalg.lstsq(basis, data["lockin_x"], rcond=None)
    sigma = np.sqrt(res[0] / (len(phi) - 4) * np.diag(np.linalg.inv(basis.T @ basis)))
    return coef, sigma


def test_bi_co_shows_a_helicity_term_that_cofeb_pt_does_not(tmp_path):
    (c_bi, *_), (s_bi, *_) = _qwp_terms("Bi(10)|Co(5)", tmp_path / "bi")
    (c_pt, *_), (s_pt, *_) = _qwp_terms("CoFeB(5)|Pt(3)", tmp_path / "pt")
    assert abs(c_bi) > 10 * s_bi
    assert abs(c_pt) < 4 * s_pt


def test_field_loop_shows_the_coercive_field(tmp_path):
    t = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=5)
    peak = DELAYS[np.argmax(np.abs(t.sim.waveform(DELAYS)))]
    data = _run(t, field_loop(t.lockin, t.stage, t.magnet, peak, max_field_mT=6.0, step_mT=0.25), tmp_path)
    crossings = {}
    for branch in ("down", "up"):
        sel = data["branch"] == branch
        field, x = data["field_mT"][sel], data["lockin_x"][sel]
        i = np.flatnonzero(np.diff(np.sign(x)))[0]
        crossings[branch] = field[i] - x[i] * (field[i + 1] - field[i]) / (x[i + 1] - x[i])
    coercive = get_sample("CoFeB(5)|Pt(3)").coercive_mT
    assert crossings["down"] == pytest.approx(-coercive, abs=0.3)
    assert crossings["up"] == pytest.approx(coercive, abs=0.3)


def test_yig_pt_amplitude_falls_with_temperature(tmp_path):
    t = sim_profile("YIG(3um)|Pt(5.5)", fast=True, seed=6)
    temps = (300.0, 400.0, 500.0)
    data = _run(t, temperature_series(t.lockin, t.stage, DELAYS, temps, heater=t.heater, magnet=t.magnet,
                                      ramp_K_per_min=20.0), tmp_path)
    rms = []
    for T in temps:
        at = {k: v[data["temperature_K"] == T] for k, v in data.items()}
        odd = 0.5 * (_mean_by(at, "magnetization", 1) - _mean_by(at, "magnetization", -1))
        rms.append(np.sqrt(np.mean(odd**2)))
    assert rms[0] > rms[1] > rms[2] > 0
    # (T_C − T)^2 with T_C = 550 K: 250² : 150² : 50²
    assert rms[2] / rms[0] == pytest.approx((50 / 250) ** 2, rel=0.35)
    assert np.all(np.abs(data["heater_temperature"] - data["temperature_K"]) < 0.5)  # stable when measured


@pytest.mark.parametrize("order", ["abba", "cyclic"])
def test_abba_interleaving_cancels_a_linear_drift(tmp_path, order):
    sample = replace(get_sample("CoFeB(5)|Pt(3)"), background=0.0)  # nothing even in M but the drift's leak
    noise = Noise(additive_V=1e-6, amplitude=0.0, jitter_fs=0.0, drift_rms=0.0, drift_linear_per_s=2e-3, seed=7)
    t = sim_profile(sample, fast=True, noise=noise)
    data = _run(t, thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, magnetization=(1, -1), repeats=2,
                                order=order), tmp_path)
    plus, minus = _mean_by(data, "magnetization", 1), _mean_by(data, "magnetization", -1)
    leak = np.sqrt(np.mean((0.5 * (plus + minus)) ** 2)) / np.sqrt(np.mean((0.5 * (plus - minus)) ** 2))
    if order == "abba":  # + − − +
        assert leak < 0.005
    else:  # + − + − leaves the drift over one sweep in the even part
        assert leak > 0.02


def test_find_time_zero_puts_the_signal_peak_at_zero_delay(tmp_path):
    t = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=8)
    fs_per_mm = t.stage.fs_per_mm.get()
    t.stage.time_zero_mm.put(25.06)  # miscalibrated by 400 fs
    fine = np.arange(-500.0, 500.0, 0.5)
    true_peak_fs = fine[np.argmax(np.abs(t.sim.waveform(fine)))]  # on the table's true delay axis
    session = Session(t, tmp_path / "data")
    (uid,) = session.run(find_time_zero(
        t.lockin, t.stage, start_fs=-1500.0, stop_fs=1500.0, step_fs=40.0, fine_step_fs=5.0))
    expected_mm = t.sim.true_time_zero_mm + true_peak_fs / fs_per_mm
    assert t.stage.time_zero_mm.get() == pytest.approx(expected_mm, abs=5.0 / fs_per_mm)
    stored = load_run(uid, session.data_dir).table("time_zero")
    assert stored["stage_time_zero_mm"][0] == pytest.approx(t.stage.time_zero_mm.get())
