"""Goodness of fit that can say "this model is wrong", and the rows that must not be fitted."""

import numpy as np
import pytest

from femtospin.analysis import analyze

from .simdata import synthetic_sweeps
from .test_accuracy import fine_grid

DELAYS = fine_grid(-1000.0, 2500.0, 20.0, (-200.0, 500.0, 5.0))


def synthetic(second=0.0, snr=100.0, sweeps=3, seed=0, gains=None):
    """±M sweeps with white noise at peak/snr (plus amplitude and jitter noise) and ``second`` × a copy
    delayed by 250 fs."""
    return synthetic_sweeps(DELAYS, sweeps=sweeps, seed=seed, additive_V=1e-3 / snr, second=second, gains=gains)


def fit(rows, **options):
    return analyze(rows["delay_fs"], rows["signal"], {"magnetization": rows["magnetization"]},
                   repeat=rows["repeat"], sample="CoFeB(5)|Pt(3)", **options)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_right_model_has_redchi_near_one_and_a_wrong_one_is_rejected(seed):
    right = fit(synthetic(seed=seed))
    assert 0.8 <= right.fit.redchi <= 1.2 and right.fit.p_value > 1e-3
    assert not any("does not describe" in w for w in right.warnings)
    wrong = fit(synthetic(second=0.15, seed=seed))  # a second, delayed component the model lacks
    assert wrong.fit.redchi >= 1.5 and wrong.fit.p_value < 1e-6
    assert any("does not describe the data" in w for w in wrong.warnings)


def test_redchi_is_not_made_one_by_the_fit_itself():
    """The noise comes from the sweeps: a model missing a feature cannot absorb it into the weights."""
    rows = synthetic(second=0.15, seed=4)
    r = fit(rows)
    comp = r.components[r.component]
    scatter = np.std(comp.sweeps, axis=0, ddof=1) / np.sqrt(comp.n_sweeps)
    # the weights follow the sweeps' scatter, not the residuals of this fit
    assert np.median(r.fit.sigma / scatter) == pytest.approx(1.0, abs=0.15)
    assert np.mean(((comp.value - r.fit.best_fit) / r.fit.sigma) ** 2) > 1.5


def test_sweep_drift_is_reported_and_enters_the_amplitude_error():
    gains = [1.03, 0.97, 1.0]
    drifting = fit(synthetic(gains=gains, seed=6))
    steady = fit(synthetic(seed=6))
    per_sweep = [d["amplitude"] for d in drifting.noise.drift]
    assert per_sweep == pytest.approx(np.array(gains) / np.mean(gains), abs=0.003)
    # the amplitude error now holds the sweeps' scatter (≈ 3 %/√3 of the amplitude), τ_es is untouched
    rel = drifting.fit.stderr("amplitude") / drifting.fit.value("amplitude")
    assert rel == pytest.approx(np.std(gains, ddof=1) / np.sqrt(3), rel=0.1)
    assert steady.fit.stderr("amplitude") < 0.3 * drifting.fit.stderr("amplitude")
    assert drifting.fit.stderr("tau_es_fs") == pytest.approx(steady.fit.stderr("tau_es_fs"), rel=0.2)


def test_overloaded_points_are_named_and_left_out():
    rows = synthetic(seed=7)
    clean = fit(rows)
    overload = np.abs(rows["signal"]) > 0.8e-3  # the lock-in clipped the peak
    clipped = rows["signal"].copy()
    clipped[overload] = np.sign(clipped[overload]) * 0.8e-3
    result = fit(dict(rows, signal=clipped), overload=overload)
    assert result.excluded == {"overloaded": int(overload.sum())}
    assert any("overloaded" in w for w in result.warnings)
    assert abs(result.fit.value("tau_es_fs") - clean.fit.value("tau_es_fs")) < 3 * result.fit.stderr("tau_es_fs")
    naive = fit(dict(rows, signal=clipped))  # fitted as data, the clipped peak biases the fit and shows in χ²
    assert naive.fit.redchi > result.fit.redchi


def test_a_pump_power_reference_removes_laser_drift():
    rows = synthetic(seed=8, sweeps=2)
    drift = 1.0 + 0.02 * np.sin(np.arange(rows["signal"].size) / 300.0)  # slow laser power drift
    power = 0.5 * drift * (1 + 0.002 * np.random.default_rng(1).standard_normal(drift.size))
    normalized = fit(dict(rows, signal=rows["signal"] * drift), reference=power, reference_level=0.5)
    raw = fit(dict(rows, signal=rows["signal"] * drift))
    clean = fit(rows)
    assert normalized.reference["level"] == 0.5
    assert abs(normalized.fit.value("amplitude") - clean.fit.value("amplitude")) < \
        3 * normalized.fit.stderr("amplitude")
    assert any("no pump-power reference" in w for w in raw.warnings)
    assert not any("no pump-power reference" in w for w in normalized.warnings)
    with pytest.raises(ValueError, match="reference.*row 3"):
        fit(dict(rows), reference=np.where(np.arange(power.size) == 2, -1.0, power))


def test_non_uniform_and_uniform_grids_agree():
    rows = synthetic(seed=9)
    keep = np.isin(np.round(rows["delay_fs"]), np.arange(-1000.0, 2501.0, 20.0))
    coarse = fit({k: v[keep] for k, v in rows.items()})
    fine = fit(rows)
    assert coarse.delay_fs.size < fine.delay_fs.size
    diff = coarse.fit.value("tau_es_fs") - fine.fit.value("tau_es_fs")
    assert abs(diff) < 3 * coarse.fit.stderr("tau_es_fs")
    assert fine.fit.stderr("tau_es_fs") < coarse.fit.stderr("tau_es_fs")


def test_a_single_sweep_without_baseline_fits_but_says_its_redchi_means_nothing():
    rows = synthetic(sweeps=1, seed=10)
    late = rows["delay_fs"] > -150.0  # the scan starts just before time zero
    r = fit({k: v[late] for k, v in rows.items()})
    assert r.noise.method == "residuals"
    assert abs(r.fit.value("tau_es_fs") - 104.0) < 3 * r.fit.stderr("tau_es_fs")
    assert any("cannot judge the model" in w for w in r.warnings)
    wrong = fit({k: v[late] for k, v in synthetic(second=0.15, sweeps=1, seed=10).items()})
    assert wrong.fit.redchi < 1.5  # exactly why the warning is there


@pytest.mark.parametrize("detector", ["gap250", "znte1000"])
def test_the_baseline_a_scan_needs_depends_on_the_detector_and_the_sweeps(detector):
    from femtospin.analysis import baseline_needed_fs

    one = baseline_needed_fs(detector, 5.0)
    assert baseline_needed_fs(detector, 5.0, sweeps=2) < one
    assert baseline_needed_fs(detector, 20.0) > one  # 8 samples on the baseline
    if detector == "znte1000":
        assert one > baseline_needed_fs("gap250", 5.0)  # 1 mm of ZnTe reaches further back in time
