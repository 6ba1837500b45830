"""Series fits recover generated ground truth; spin accumulation propagates the static Kerr normalization."""

import numpy as np
import pytest

from femtospin.analysis import (
    StaticKerr,
    fit_bandwidth,
    fit_field,
    fit_fluence,
    fit_qwp,
    fit_temperature,
    spin_accumulation,
    spin_accumulation_pap,
)

NOISE = [1e-3, 1e-2]


def noisy(y, rel, seed):
    se = rel * np.abs(y).max() * np.ones_like(y)
    return y + se * np.random.default_rng(seed).standard_normal(y.size), se


@pytest.mark.parametrize("rel", NOISE)
@pytest.mark.parametrize("tc, alpha", [(550.0, 2.0), (800.0, 0.5)])
def test_temperature_power_law(rel, tc, alpha):
    T = np.linspace(300.0, tc - 40.0, 9)
    y, se = noisy(3e-4 * (tc - T) ** alpha, rel, 1)
    fit = fit_temperature(T, y, se)
    assert abs(fit.value("alpha") - alpha) < 4 * fit.stderr("alpha")
    assert abs(fit.value("T_C_K") - tc) < 4 * fit.stderr("T_C_K")


@pytest.mark.parametrize("rel", NOISE)
def test_qwp_decomposition(rel):
    phi = np.arange(0.0, 360.0, 10.0)
    truth = {"C": 5.0, "L1": -0.4, "L2": 0.2, "D": 1.0}
    p = np.radians(phi)
    y0 = truth["C"] * np.sin(2 * p) + truth["L1"] * np.sin(4 * p) + truth["L2"] * np.cos(4 * p) + truth["D"]
    y, se = noisy(y0, rel, 2)
    fit = fit_qwp(phi, y, se)
    for name, value in truth.items():
        assert abs(fit.value(name) - value) < 4 * fit.stderr(name)


@pytest.mark.parametrize("rel", NOISE)
def test_field_loop(rel):
    h = np.concatenate([np.linspace(-30, 30, 61), np.linspace(30, -30, 61)])
    branch = np.array(["up"] * 61 + ["down"] * 61)
    y0 = 0.1 + 2.0 * np.tanh((h - np.where(branch == "up", 4.0, -4.0)) / 0.8)
    y, se = noisy(y0, rel, 3)
    fit = fit_field(h, y, branch, se)
    assert abs(fit.value("coercive_mT") - 4.0) < 4 * fit.stderr("coercive_mT")
    assert abs(fit.value("saturation") - 2.0) < 4 * fit.stderr("saturation")
    assert abs(fit.value("offset") - 0.1) < 4 * fit.stderr("offset")
    with pytest.raises(ValueError, match="both the up and the down branch"):
        fit_field(h[:61], y[:61], branch[:61], se[:61])


@pytest.mark.parametrize("rel", NOISE)
def test_fluence_linearity(rel):
    F = np.linspace(0.05, 1.0, 10)
    y, se = noisy(2.0 * F + 0.01, rel, 4)
    fit = fit_fluence(F, y, se)
    assert abs(fit.value("slope") - 2.0) < 4 * fit.stderr("slope")
    assert fit.extra["linearity"]["linear"]
    # saturation (20 % sublinear at the top) is detected
    bent, _ = noisy(2.0 * F / (1 + 0.25 * F), rel / 10, 5)
    assert not fit_fluence(F, bent, se / 10).extra["linearity"]["linear"]


@pytest.mark.parametrize("tau", [50.0, 120.0])
def test_bandwidth_of_a_lorentzian_spectrum(tau):
    """exp(−|t|/τ) has |J(f)| = 2τ/(1 + (2πfτ)²): a Lorentzian of HWHM 1/(2πτ)."""
    t = np.arange(-3000.0, 3000.0, 2.0)
    fit = fit_bandwidth(t, np.exp(-np.abs(t) / tau))
    assert fit.value("bandwidth_THz") == pytest.approx(1e3 / (2 * np.pi * tau), rel=0.02)


def test_spin_accumulation_cancels_magnetization_and_propagates_static_kerr():
    rng = np.random.default_rng(6)
    demag = np.linspace(0.0, 0.1, 50)
    acc_free, acc_ref = 0.012, 0.006
    static = StaticKerr(0.05, 0.001, 0.03, 0.0006)  # 2 % normalization errors
    rot_p = static.rotation * (demag + acc_free + acc_ref)
    rot_ap = static.rotation * (demag + acc_free - acc_ref)
    ell = static.ellipticity * demag
    err = 1e-6
    out = spin_accumulation_pap(rot_p, err, ell, err, rot_ap, err, ell, err, static)
    assert np.allclose(out["free"][0], acc_free) and np.allclose(out["ref"][0], acc_ref)
    # Monte Carlo over the static normalization (shared by P and AP) and the waveform noise
    samples = []
    for _ in range(4000):
        s = StaticKerr(static.rotation + 0.001 * rng.standard_normal(), 0, static.ellipticity
                       + 0.0006 * rng.standard_normal(), 0)
        n = [x + err * rng.standard_normal(x.shape) for x in (rot_p, ell, rot_ap, ell)]
        samples.append(spin_accumulation_pap(n[0], 0, n[1], 0, n[2], 0, n[3], 0, s)["ref"][0])
    mc = np.std(samples, axis=0)
    assert np.allclose(out["ref"][1], mc, rtol=0.1)
    # a single state: the normalization error grows with the signal it scales
    value, stderr = spin_accumulation(rot_p, err, ell, err, static)
    assert np.allclose(value, acc_free + acc_ref)
    assert stderr[-1] > 3 * stderr[0]


def test_series_results_are_json_and_judge_the_model_only_against_given_errors():
    import json

    T = np.array([300.0, 350.0, 400.0, 450.0])
    a = 2.0 * (550.0 - T) ** 2
    with_err = fit_temperature(T, a * (1 + 0.01 * np.array([1, -1, 1, -1])), 0.01 * a)
    assert with_err.dof == 1 and 0 <= with_err.p_value <= 1 and with_err.redchi == with_err.chi2
    without = fit_temperature(T, a)
    assert np.isnan(without.redchi) and np.isnan(without.p_value)
    text = json.dumps(without.to_dict(), allow_nan=False)  # NaN is written as null, never as NaN
    assert json.loads(text)["redchi"] is None
    assert with_err.to_dict()["stderr_source"] == "given" and without.to_dict()["stderr_source"] == "scatter"


def test_a_parameter_the_data_cannot_determine_is_null_with_its_reason():
    import json

    T = np.array([100.0, 200.0, 300.0, 350.0])
    flat = fit_temperature(T, np.ones(4), np.full(4, 0.01))  # no decrease: α is pinned at its bound 0
    alpha = json.loads(json.dumps(flat.to_dict(), allow_nan=False))["params"]["alpha"]
    assert alpha["stderr"] is None and alpha["why"] == "at its bound 0: the data do not determine it"
    assert np.isfinite(flat.stderr("scale"))  # what the data do determine keeps its error


def test_nothing_determined_is_an_error_not_a_result():
    # a loop that never switches: no coercive field, saturation or width to find
    h = [-5.0, -2.0, 0.0, 2.0, 5.0, 5.0, 2.0, 0.0, -2.0, -5.0]
    with pytest.raises(ValueError, match="field: the data determine none of coercive_mT, saturation"):
        fit_field(h, np.ones(10), ["up"] * 5 + ["down"] * 5, np.full(10, 0.1))
