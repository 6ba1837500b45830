"""TR-MOKE analysis against the simulated table's ground truth: τ_M over seeds, Δμ_s of both layers, the static
Kerr signal measured with the pump blocked and its error propagated, and clear errors instead of fits of noise."""

import numpy as np
import pytest

from femtospin import analysis
from femtospin.sim_devices import CHOP_FACTOR, Noise

from .mokedata import measure, moke_table, scan_rows, static_rows, static_signals, truth_accumulation

DELAYS = np.concatenate([np.arange(-400.0, 400.0, 10.0), np.arange(400.0, 3000.0, 50.0)])
SEEDS = range(24)


def _analyze(rows, static, **kwargs):
    return analysis.analyze_moke(rows["delay_fs"], rows["signal"], kerr=rows["kerr"], state=rows["state"],
                                 repeat=rows["repeat"], reference=rows["power"], reference_level=0.5, static=static,
                                 resolution_fwhm_fs=40.0, **kwargs)


@pytest.fixture(scope="module")
def runs():
    """24 seeded spin-valve runs (P, AP × rotation, ellipticity, 2 sweeps, static Kerr at start and end)."""
    out = []
    for seed in SEEDS:
        table, rows, srows = measure(seed, DELAYS)
        static = static_signals(srows)
        out.append((table, rows, static, _analyze(rows, static)))
    return out


def test_tau_m_is_calibrated_over_seeds(runs):
    """τ_M within its stated σ of the simulator's 100 fs: pulls of mean ≈ 0 and rms ≈ 1 over 24 seeds."""
    truth = runs[0][0].sample.layers[0].tau_m_fs
    z = np.array([(r.fit.value("tau_m_fs") - truth) / r.fit.stderr("tau_m_fs") for *_, r in runs])
    assert np.all(np.abs(z) < 4)
    assert np.mean(np.abs(z) < 2) >= 0.9  # within 2 stated σ in (about) 95 % of the runs
    assert abs(z.mean()) < 3 / np.sqrt(z.size)
    assert 0.65 < np.sqrt(np.mean(z**2)) < 1.4
    assert np.median([r.fit.redchi for *_, r in runs]) < 1.5  # the model describes the data


def test_spin_accumulation_of_both_layers_matches_the_simulator_within_its_band(runs):
    pulls = {"free": [], "ref": []}
    for table, _, _, res in runs:
        for layer in pulls:
            c = res.spin_accumulation[layer]
            truth = truth_accumulation(table, c["delay_fs"])[layer]
            pulls[layer].append((c["value"] - truth) / c["stderr"])
    for layer, z in pulls.items():
        z = np.concatenate(z)
        assert abs(z.mean()) < 0.15, layer
        assert 0.7 < np.sqrt(np.mean(z**2)) < 1.3, layer
    # and the layers are told apart: the free layer's accumulation is twice the reference's (0.012 vs 0.006)
    table, _, _, res = runs[0]
    for layer in ("free", "ref"):
        peak = analysis.peak_summary(res.spin_accumulation[layer])
        truth = truth_accumulation(table, np.array([peak["delay_fs"]]))[layer][0]
        assert peak["value"] == pytest.approx(truth, abs=3 * peak["stderr"])
    free, ref = (analysis.peak_summary(res.spin_accumulation[k])["value"] for k in ("free", "ref"))
    assert free / ref == pytest.approx(2.0, rel=0.15)


def test_static_kerr_is_measured_with_the_pump_blocked_and_calibrated_in_mrad(runs):
    table = runs[0][0]
    s = table.sample
    values = np.array([[r[2][q].value_V for q in ("rotation", "ellipticity")] for r in runs])
    errors = np.array([[r[2][q].stderr_V for q in ("rotation", "ellipticity")] for r in runs])
    truth = np.array([s.kerr_rotation_V, s.kerr_ellipticity_V])
    z = (values - truth) / errors
    assert np.sqrt(np.mean(z**2)) < 1.5  # start–end drift and reading noise are in the stated error
    static = runs[0][2]["rotation"]
    assert static.mrad == pytest.approx(s.kerr_rotation_mrad, rel=5 * static.mrad_stderr / static.mrad)
    assert static.V_per_mrad == pytest.approx(table.dc_V_per_mrad(), rel=0.02)
    assert [p["phase"] for p in static.phases] == ["start", "end"] and static.source == "measured"


def test_a_two_percent_static_error_is_covered_by_the_stated_band(runs):
    """§4e: 2 % on the static rotation moves Δμ_s by ≈ 10 % of itself; stated with that 2 %, the band covers it."""
    _, rows, static, _ = runs[1]
    rot, ell = static["rotation"], static["ellipticity"]
    typed = {"rotation": (rot.value_V, 0.02 * rot.value_V), "ellipticity": (ell.value_V, ell.stderr_V)}
    base = _analyze(rows, analysis.typed_static(typed))
    moved = _analyze(rows, analysis.typed_static({**typed, "rotation": (1.02 * rot.value_V, 0.02 * rot.value_V)}))
    for layer in ("free", "ref"):
        a, b = base.spin_accumulation[layer], moved.spin_accumulation[layer]
        shift = np.abs(b["value"] - a["value"])
        # visible: at the delays where −ΔM/M is large the shift is a good part of Δμ_s's peak, not 2 % of it
        assert shift.max() > 0.1 * np.abs(a["value"]).max()
        assert np.all(shift <= a["stderr"])  # …and covered by the stated band everywhere
        big = shift > 0.2 * shift.max()
        assert np.allclose(a["stderr_static"][big], shift[big], rtol=0.1)  # first-order propagation of the 2 %
    assert any("typed in" in w for w in base.warnings)
    # the measured static signal's own (smaller) error is propagated the same way, never dropped
    measured = runs[1][3].spin_accumulation["free"]
    assert np.all(measured["stderr_static"] > 0)


def test_transient_reflectance_of_pt_is_the_m_even_part():
    """CoFeB|Pt at ±M: the odd part is −ΔM/M, the even part the Pt reflectance, exponential with 310 fs."""
    table = moke_table("CoFeB(5)|Pt(3)", seed=3)
    rows = scan_rows(table, DELAYS, states=(1, -1), kerr=("rotation",), repeats=2)
    static = static_signals(static_rows(table, kerr=("rotation",)))

    def run(model):
        return analysis.analyze_moke(rows["delay_fs"], rows["signal"], kerr=rows["kerr"],
                                     magnetization=rows["magnetization"], repeat=rows["repeat"],
                                     reference=rows["power"], reference_level=0.5, static=static, model=model,
                                     resolution_fwhm_fs=40.0)

    res = run("exp-offset")
    assert res.component == "rotation/even_M" and res.to_dict()["components"][res.component]["part"] == "even_M"
    tau = res.fit.params["tau_fs"]
    assert tau["value"] == pytest.approx(table.sample.reflectance_tau_fs, abs=3 * tau["stderr"])
    assert res.fit.p_value > 1e-3
    # the default analysis fits −ΔM/M to the odd part and the reflectance alongside, the same numbers
    both = run("three-temperature")
    assert both.component == "rotation"  # the odd part
    tau_m = both.fit.params["tau_m_fs"]
    assert tau_m["value"] == pytest.approx(table.sample.magnetic_layers[0].tau_m_fs, abs=3 * tau_m["stderr"])
    assert both.reflectance["component"] == "rotation/even_M"
    assert both.reflectance["fit"]["params"]["tau_fs"]["value"] == pytest.approx(tau["value"], rel=1e-6)


@pytest.mark.parametrize("reverse_mT, message", [(5.0, "did not switch the soft layer"),
                                                  (55.0, "switched both layers")])
def test_an_ap_state_that_is_not_antiparallel_is_named(runs, reverse_mT, message):
    """The soft layer switches at 8 mT, the hard one at 40 mT: −5 mT switches nothing, −55 mT both."""
    rows = scan_rows(moke_table(seed=8), DELAYS[::2], states=("P", "AP"), repeats=2, reverse_mT=reverse_mT)
    res = _analyze(rows, analysis.typed_static({"rotation": 0.05, "ellipticity": 0.03}))
    assert any(message in w for w in res.warnings)
    assert not any("AP looks like" in w for *_, r in runs for w in r.warnings)  # −20 mT: antiparallel


def test_noise_only_is_an_error_not_a_fit():
    """A run that recorded nothing but noise (pump blocked, probe off the sample) is refused in one line."""
    table = moke_table(seed=1)
    table.set_knob("pump_open", 0.0)
    rows = scan_rows(table, DELAYS, states=("P",), repeats=2)
    with pytest.raises(ValueError, match="no signal above the noise"):
        analysis.analyze_moke(rows["delay_fs"], rows["signal"], kerr=rows["kerr"], state=rows["state"],
                              repeat=rows["repeat"], static=analysis.typed_static({"rotation": 0.05,
                                                                                  "ellipticity": 0.03}))


def test_static_readings_that_do_not_differ_are_an_error():
    table = moke_table(seed=2, noise=Noise(seed=2))
    rows = static_rows(table, kerr=("rotation",))
    rows["dc_V"] = [0.001 * v for v in rows["dc_V"]]  # probe off the sample: the ±M levels drown in noise
    rows["dc_V"] = list(np.random.default_rng(0).normal(0, 1e-3, len(rows["dc_V"])))
    with pytest.raises(ValueError, match="not distinguishable from zero|do not differ|calibration"):
        analysis.static_kerr_from_readings(rows["kerr"], rows["magnetization"], rows["offset_deg"], rows["dc_V"],
                                           chop_factor=CHOP_FACTOR)


@pytest.mark.parametrize("kwargs, message", [
    ({"kerr": ["faraday"]}, "kerr: 'faraday' is not one of"),
    ({"state": ["PP"]}, "state: 'PP' is not one of"),
    ({"model": "spin-voltage"}, "unknown model 'spin-voltage' for TR-MOKE"),
])
def test_bad_conditions_are_named(kwargs, message):
    d = np.arange(32.0)
    cols = {k: v * 32 if isinstance(v, list) else v for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        analysis.analyze_moke(d, np.zeros(32), **cols)


def test_states_without_the_ellipticity_say_why_there_is_no_spin_accumulation(runs):
    _, rows, static, _ = runs[2]
    rot = rows["kerr"] == "rotation"
    res = _analyze({k: v[rot] for k, v in rows.items()}, static)
    assert res.spin_accumulation == {} and res.component == "rotation/P"
    assert any("needs the rotation and the ellipticity" in w for w in res.warnings)
    assert any("also holds the spin accumulation" in w for w in res.warnings)
