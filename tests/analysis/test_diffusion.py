"""Spin diffusion through Bi (§4c): closed forms of the layer's response, and both sources' τ_s recovered."""

import numpy as np
import pytest
from scipy.signal import fftconvolve

from femtospin.analysis import (
    D_BI_NM2_PER_FS,
    analyze,
    diffusion_modes,
    fit_bandwidth,
    layer_response,
    spin_diffusion,
    spin_voltage,
    stack_physics,
)

from .simdata import make_table, saturate, scan


def _gain(tau_s, d):
    """Steady-state signal per unit injected current: λ·tanh(d/2λ), λ = √(D·τ_s)."""
    lam = np.sqrt(D_BI_NM2_PER_FS * tau_s)
    return lam * np.tanh(d / (2 * lam))


@pytest.mark.parametrize("tau_s, d", [(10.0, 100.0), (2000.0, 100.0), (2000.0, 10.0), (10.0, 3.0)])
def test_the_response_s_area_is_the_steady_state_gain(tau_s, d):
    rates, weights, instant = diffusion_modes(tau_s, d)
    assert np.sum(weights / rates) + instant == pytest.approx(_gain(tau_s, d), rel=1e-12)
    t = np.arange(-400.0, 40 * min(tau_s, d**2 / D_BI_NM2_PER_FS) + 2000.0, 0.5)
    assert np.trapezoid(spin_diffusion(t, tau_s, d, fwhm=40.0), t) == pytest.approx(_gain(tau_s, d), rel=1e-3)


def test_without_relaxation_the_injected_spin_is_kept():
    """τ_s → ∞: nothing is lost, and the area tends to d/2 (the mean depth the spin reaches)."""
    assert _gain(1e12, 20.0) == pytest.approx(10.0, rel=1e-6)
    rates, weights, instant = diffusion_modes(1e12, 20.0)
    assert np.sum(weights / rates) + instant == pytest.approx(10.0, rel=1e-6)


def test_a_thick_layer_responds_as_a_half_space():
    t = np.array([2.0, 5.0, 20.0, 40.0])
    half_space = np.sqrt(D_BI_NM2_PER_FS / (np.pi * t)) * np.exp(-t / 10.0)
    np.testing.assert_allclose(layer_response(t, 10.0, 1000.0), half_space, rtol=0.02)


@pytest.mark.parametrize("source", [None, (104.0, 420.0, 0.1)], ids=["pulse", "spin-voltage"])
def test_the_closed_form_is_the_numerical_convolution(source):
    dt = 0.02
    t = np.arange(-200.0, 2500.0, dt)
    tau_s, d = (10.0, 100.0) if source else (2000.0, 100.0)
    inject = (spin_voltage(t, *source, fwhm=40.0) if source else
              np.exp(-0.5 * (t / (40.0 / 2.3548)) ** 2) / (40.0 / 2.3548 * np.sqrt(2 * np.pi)))
    h = layer_response(t[t >= 0], tau_s, d)
    numerical = fftconvolve(inject, h)[: t.size] * dt + diffusion_modes(tau_s, d)[2] * inject
    closed = spin_diffusion(t, tau_s, d, fwhm=40.0, source=source)
    assert np.max(np.abs(numerical - closed)) < 5e-3 * np.max(np.abs(closed))


DELAYS = np.concatenate([np.arange(-1200.0, -200.0, 20.0), np.arange(-200.0, 800.0, 10.0),
                         np.arange(800.0, 3000.0, 20.0)])


@pytest.fixture(scope="module")
def bi_co():
    """Bi(100)|Co(5) at ±M × σ±, three sweeps, on the simulator with its noise and drift."""
    table = make_table("Bi(100)|Co(5)", seed=31)
    saturate(table, 1)
    parts = []
    for r in range(3):
        rows = scan(table, DELAYS, {"magnetization": [1, -1], "helicity": [1, -1]})
        rows["repeat"] = np.full(rows["signal"].size, r)
        parts.append(rows)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _analyze(rows, **options):
    return analyze(rows["delay_fs"], rows["signal"], {k: rows[k] for k in ("magnetization", "helicity")},
                   repeat=rows["repeat"], reference=rows["power"], sample="Bi(100)|Co(5)", **options)


def test_both_sources_spin_relaxation_is_recovered_within_two_sigma(bi_co):
    physics = stack_physics("Bi(100)|Co(5)")
    demag = _analyze(bi_co, component="odd_M")
    photo = _analyze(bi_co, component="odd_helicity", model="photo-spin")
    for result, truth in ((demag, physics.truth["tau_s_fs"]), (photo, physics.photo["truth"]["tau_s_fs"])):
        p = result.fit.params["tau_s_fs"]
        assert abs(p["value"] - truth) < 2 * p["stderr"], (result.fit.model, p, truth)
        assert result.fit.params["thickness_nm"]["value"] == 100.0 and not result.fit.params["thickness_nm"]["vary"]
        assert 0.7 < result.fit.redchi < 1.4
    # two orders of magnitude apart, and told apart by the fits
    assert photo.fit.value("tau_s_fs") - demag.fit.value("tau_s_fs") > 5 * np.hypot(
        photo.fit.stderr("tau_s_fs"), demag.fit.stderr("tau_s_fs"))


def test_the_helicity_odd_current_has_about_half_the_bandwidth(bi_co):
    """Lorentzian fits of |j_s(f)| of the two deconvolved currents (§4c)."""
    bands = {}
    for component in ("odd_M", "odd_helicity"):
        dec = _analyze(bi_co, component=component, model="none").deconvolution
        bands[component] = fit_bandwidth(dec.delay_fs, dec.field).value("bandwidth_THz")
    assert 0.35 < bands["odd_helicity"] / bands["odd_M"] < 0.7, bands
