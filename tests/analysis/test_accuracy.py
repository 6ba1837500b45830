"""Accuracy against the simulator's ground truth, with its noise model and drift: every stack recovers its
time constant, stated uncertainties are calibrated, and the goodness of fit rejects a wrong model."""

import numpy as np
import pytest

from femtospin.analysis import analyze, fit_fluence, fit_qwp, fit_temperature, impulse_response, stack_physics
from femtospin.sim_devices import Detection, get_sample

from .simdata import make_table, read, saturate, scan

PAIRS = {"magnetization": [1, -1], "angle_deg": [0, 180]}


def fine_grid(start=-1000.0, stop=2000.0, coarse=20.0, fine=(-200.0, 400.0, 5.0)):
    """A physicist's grid: fine steps near time zero, coarse elsewhere."""
    c = np.arange(start, stop + coarse / 2, coarse)
    f = np.arange(fine[0], fine[1] + fine[2] / 2, fine[2])
    return np.concatenate([c[c < fine[0]], f, c[c > fine[1]]])


DELAYS = fine_grid()


def measure(sample="CoFeB(5)|Pt(3)", seed=0, conditions=PAIRS, delays=DELAYS, sweeps=3, **kwargs):
    """Long-format rows of ``sweeps`` passes over ``delays`` (every condition at each delay), with the sweep
    index and the pump power read before each point."""
    return sweep(make_table(sample, seed=seed, **kwargs), delays, conditions, sweeps)


def sweep(table, delays, conditions, sweeps):
    """``sweeps`` passes over ``delays`` on ``table`` as it is now, with their sweep index."""
    parts = []
    for r in range(sweeps):
        rows = scan(table, delays, conditions)
        rows["repeat"] = np.full(rows["signal"].size, r)
        parts.append(rows)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def run(rows, conditions=PAIRS, **options):
    return analyze(rows["delay_fs"], rows["signal"], {k: rows[k] for k in conditions}, repeat=rows["repeat"],
                   reference=rows["power"], **options)


def within(result, name, truth, k):
    p = result.fit.params[name]
    return abs(p["value"] - truth) < k * p["stderr"]


def test_cofeb_pt_on_a_fine_near_t0_grid_returns_tau_es_and_time_zero():
    rows = measure(seed=11)
    rows["delay_fs"] = rows["delay_fs"] + 137.0  # a miscalibrated time zero: the recorded delays are late
    r = run(rows, sample="CoFeB(5)|Pt(3)")
    assert r.component == "minus_angle"
    assert within(r, "tau_es_fs", 104.0, 3) and within(r, "t0_fs", 137.0, 3)
    assert r.fit.stderr("tau_es_fs") < 1.0
    assert 0.8 < r.fit.redchi < 1.2 and r.fit.p_value > 1e-3
    physics = stack_physics("CoFeB(5)|Pt(3)")
    for name in ("tau_ep_fs", "R"):
        p = r.fit.params[name]
        assert not p["vary"] and p["value"] == physics.fixed[name] and "CoFeB(5)|Pt(3)" in p["source"]
    assert r.noise.method == "repeats" and r.noise.n_sweeps == 3
    # the noise model is the simulator's (σ_β includes the power meter's own 0.5 % after normalization)
    assert r.noise.sigma_alpha == pytest.approx(3e-6, rel=0.15)
    assert r.noise.sigma_tau_fs == pytest.approx(0.3, rel=0.3)
    # the deconvolved current peaks after time zero, is zero before the pump, and has a band
    dec = r.deconvolution
    peak = dec.delay_fs[np.argmax(dec.field)]
    assert 137.0 < peak < 137.0 + 80.0
    assert np.all(dec.field[dec.delay_fs < 137.0 - 100] == 0)
    assert np.all(dec.stderr[dec.delay_fs > 137.0] > 0)
    assert 5.0 < r.resolution_fs < 40.0


@pytest.mark.parametrize("sample, name", [
    ("NiFe(9)|Pt(3)", "tau_es_fs"), ("CoFe(3)|Pt(3)", "tau_es_fs"), ("CoFeB(5)", "tau_es_fs"),
    ("Bi(100)|Co(5)", "tau_s_fs"), ("YIG(3um)|Pt(5.5)", "tau_ep_fs")])
def test_every_stack_recovers_its_time_constant_with_default_options(sample, name):
    r = run(measure(sample, seed=21), sample=sample)
    physics = stack_physics(sample)
    assert r.component == physics.component and r.fit.model == physics.model
    truth = physics.truth[name]
    assert within(r, name, truth, 2), (r.fit.value(name), r.fit.stderr(name), truth)
    assert 0.75 < r.fit.redchi < 1.3


def test_a_single_ferromagnet_is_read_through_s_plus():
    """S− of a single CoFeB layer is its structural dipole; the dM/dt model belongs to S+."""
    rows = measure("CoFeB(5)", seed=5)
    r = run(rows, sample="CoFeB(5)")
    assert r.component == "plus_angle"
    sample = get_sample("CoFeB(5)")
    assert r.fit.value("amplitude") == pytest.approx(sample.demag_amplitude, rel=0.15)


def test_nife_is_slower_than_cofeb():
    tau = {}
    for sample in ("CoFeB(5)|Pt(3)", "NiFe(9)|Pt(3)"):
        r = run(measure(sample, seed=3), sample=sample)
        tau[sample] = (r.fit.value("tau_es_fs"), r.fit.stderr("tau_es_fs"))
    (a, ea), (b, eb) = tau["CoFeB(5)|Pt(3)"], tau["NiFe(9)|Pt(3)"]
    assert b - a > 5 * np.hypot(ea, eb)
    assert b / a == pytest.approx(1.5, rel=0.1)


def calibration(n_runs=50):
    """τ_es (τ_ep fixed and free) and the amplitude over seeded runs with the simulator's drift on."""
    delays = fine_grid(-800.0, 1600.0, 20.0, (-200.0, 400.0, 10.0))
    out = {"tau": [], "tau_free": [], "amplitude": []}
    for seed in range(n_runs):
        rows = measure(seed=1000 + seed, conditions={"magnetization": [1, -1]}, delays=delays)
        conds = {"magnetization": [1, -1]}
        fixed = run(rows, conds, sample="CoFeB(5)|Pt(3)", reference_level=0.5)
        free = run(rows, conds, sample="CoFeB(5)|Pt(3)", reference_level=0.5, free=("tau_ep_fs",))
        out["tau"].append((fixed.fit.value("tau_es_fs"), fixed.fit.stderr("tau_es_fs")))
        out["amplitude"].append((fixed.fit.value("amplitude"), fixed.fit.stderr("amplitude")))
        out["tau_free"].append((free.fit.value("tau_es_fs"), free.fit.stderr("tau_es_fs")))
    return {k: np.array(v) for k, v in out.items()}


def test_stated_uncertainties_are_calibrated_with_drift_on():
    """std(estimate) / mean(stated stderr) ∈ [0.8, 1.25] over 50 seeded runs of 3 sweeps with 1 % laser drift."""
    assert get_sample("CoFeB(5)|Pt(3)") and make_table(seed=0).noise.drift_rms > 0
    results = calibration()
    for name, values in results.items():
        ratio = np.std(values[:, 0], ddof=1) / np.mean(values[:, 1])
        print(f"calibration {name}: std {np.std(values[:, 0], ddof=1):.3g} / mean stderr "
              f"{np.mean(values[:, 1]):.3g} = {ratio:.3f} over {len(values)} runs")
        assert 0.8 <= ratio <= 1.25, (name, ratio)
    # unbiased: the mean τ_es is within 3 standard errors of the truth
    taus = results["tau"][:, 0]
    assert abs(taus.mean() - 104.0) < 3 * taus.std(ddof=1) / np.sqrt(taus.size)


@pytest.mark.parametrize("step", [20.0, 40.0])
def test_a_coarse_uniform_grid_is_fitted_with_honest_errors(step):
    """Delays coarser than the pump and probe: the model is still resolved (redchi ≈ 1, amplitude errors honest).

    On a model grid as coarse as the delays, 40 fs gave redchi ≈ 16 and an amplitude
    scatter 2.4× its stated error: the per-point errors of a fluence series were too small.
    """
    delays = np.arange(-1100.0, 900.0, step)
    conds = {"magnetization": [1, -1]}
    fits = [run(measure(seed=300 + seed, conditions=conds, delays=delays, sweeps=2), conds,
                sample="CoFeB(5)|Pt(3)", reference_level=0.5).fit for seed in range(20)]
    amp = np.array([(f.value("amplitude"), f.stderr("amplitude")) for f in fits])
    assert np.mean([f.redchi for f in fits]) < 1.5
    assert 0.6 < np.std(amp[:, 0], ddof=1) / np.mean(amp[:, 1]) < 1.5


def test_measured_h_file_works_as_well_as_the_detector_model():
    t_h, h = impulse_response("gap250", 10.0, 1024)  # on another step than the data's fine part: resampled
    det = Detection(transfer=(tuple(t_h), tuple(h)))
    model = run(measure(seed=5), sample="CoFeB(5)|Pt(3)")
    measured = run(measure(seed=5, detection=det), sample="CoFeB(5)|Pt(3)", transfer=(t_h, h))
    for r in (model, measured):
        assert within(r, "tau_es_fs", 104.0, 3)
    assert measured.fit.stderr("tau_es_fs") < 1.3 * model.fit.stderr("tau_es_fs")
    assert measured.resolution_fs == pytest.approx(model.resolution_fs, rel=0.3)


def set_temperature(table, kelvin):
    table.thermal.set(table.clock.now(), kelvin, 0.0)
    table.clock.advance(20 * table.thermal.lag_s)


def test_yig_pt_temperature_series_returns_alpha_and_curie_temperature():
    sample = get_sample("YIG(3um)|Pt(5.5)")
    table = make_table(sample, seed=7)
    temps = np.array([300.0, 340.0, 380.0, 420.0, 460.0, 500.0])
    amp, err = [], []
    delays = fine_grid(-800.0, 1600.0, 20.0, (-200.0, 400.0, 10.0))
    for T in temps:
        set_temperature(table, T)
        rows = sweep(table, delays, {"magnetization": [1, -1]}, 2)
        res = run(rows, {"magnetization": [1, -1]}, sample=sample.name, reference_level=table.pump.power_W)
        amp.append(res.fit.value("amplitude"))
        err.append(res.fit.stderr("amplitude"))
    fit = fit_temperature(temps, amp, err)
    assert abs(fit.value("alpha") - sample.alpha) < 3 * fit.stderr("alpha")
    assert abs(fit.value("T_C_K") - sample.curie_K) < 3 * fit.stderr("T_C_K")
    assert fit.stderr("alpha") < 0.5
    assert fit.redchi < 3.0  # the amplitudes' errors are honest inputs to the series fit


def test_a_linear_fluence_series_is_declared_linear():
    """Amplitudes with drift-aware errors are honest inputs: a linear sample passes the linearity test."""
    table = make_table("CoFeB(5)|Pt(3)", seed=13)
    delays = fine_grid(-800.0, 1600.0, 20.0, (-200.0, 400.0, 10.0))
    fluences, amp, err = [0.05, 0.1, 0.2, 0.3, 0.4], [], []
    for F in fluences:
        table.set_knob("attenuator_deg", float(np.degrees(0.5 * np.arccos(np.sqrt(F / table.pump.max_fluence_mJcm2)))))
        rows = sweep(table, delays, {"magnetization": [1, -1]}, 2)
        res = run(rows, {"magnetization": [1, -1]}, sample="CoFeB(5)|Pt(3)", reference_level=table.pump.power_W)
        amp.append(res.fit.value("amplitude"))
        err.append(res.fit.stderr("amplitude"))
    fit = fit_fluence(fluences, amp, err)
    assert fit.extra["linearity"]["linear"], fit.extra["linearity"]
    assert fit.redchi < 3.0
    assert abs(fit.value("intercept")) < 3 * fit.stderr("intercept")


def test_bi_co_quarter_wave_plate_sweep_returns_the_helicity_term():
    sample = get_sample("Bi(100)|Co(5)")
    table = make_table(sample, seed=9)
    saturate(table, 1)
    # the helicity waveform's peak delay
    probe = np.arange(-200.0, 600.0, 5.0)
    table.set_knob("pump_qwp_deg", 45.0)
    plus = table.waveform(probe)
    table.set_knob("pump_qwp_deg", 135.0)
    delay = probe[np.argmax(np.abs(plus - table.waveform(probe)))]
    phis = np.arange(0.0, 180.0, 7.5)
    reads = []
    for phi in phis:
        table.set_knob("pump_qwp_deg", phi)
        reads.append([read(table, delay) for _ in range(4)])
    reads = np.array(reads)
    # one pooled error for every angle: weights from four reads each would scatter by ±40 % and bias the fit
    pooled = np.sqrt(np.mean(np.var(reads, axis=1, ddof=1)) / reads.shape[1])
    fit = fit_qwp(phis, reads.mean(axis=1), np.full(phis.size, pooled))
    # ratios to the linear terms do not depend on the waveform's value at that delay
    l1, l2 = sample.linear_qwp
    c = fit.value("C")
    assert c / fit.value("L1") == pytest.approx(sample.helicity_amplitude / l1, rel=0.15)
    assert c / fit.value("L2") == pytest.approx(sample.helicity_amplitude / l2, rel=0.3)
    assert abs(c) > 20 * fit.stderr("C")


def test_the_spin_seebeck_variants_show_their_published_signatures():
    """YIG|W and Pt|YIG reverse the signal; a Cu(1.9 nm) spacer makes it ≈ 6× smaller (§4b)."""
    amplitude = {}
    for sample in ("YIG(3um)|Pt(5.5)", "YIG(3um)|W(5.5)", "Pt(5.5)|YIG(3um)", "YIG(3um)|Cu(1.9)|Pt(5.5)"):
        r = run(measure(sample, seed=8), sample=sample)
        assert r.fit.model == "sse" and 0.7 < r.fit.redchi < 1.4
        amplitude[sample] = (r.fit.value("amplitude"), r.fit.stderr("amplitude"))
    (pt, ept) = amplitude["YIG(3um)|Pt(5.5)"]
    for reversed_ in ("YIG(3um)|W(5.5)", "Pt(5.5)|YIG(3um)"):
        value, err = amplitude[reversed_]
        assert value < 0 < pt and abs(value + pt) < 3 * np.hypot(err, ept)
    cu, ecu = amplitude["YIG(3um)|Cu(1.9)|Pt(5.5)"]
    ratio, eratio = pt / cu, pt / cu * np.hypot(ept / pt, ecu / cu)
    assert abs(ratio - 6.0) < 3 * eratio and eratio < 1.0
