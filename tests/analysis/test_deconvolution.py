"""Deconvolution S → E: the estimator is the stated linear filter, causality restores the DC part,
the noise-driven λ, and a measured h on the data's step behaves as the detector model."""

import numpy as np
import pytest
from scipy.fft import irfft, rfft

from femtospin.analysis import (
    deconvolve,
    detector_operator,
    impulse_response,
    resolution_kernel,
    sampled_operator,
    spin_seebeck,
    spin_voltage,
)

DT = 5.0
N = 1024
T = -1000.0 + DT * np.arange(N)


def measure(field_fn, detector="gap250", noise=0.0, seed=0):
    op = detector_operator(detector, N, DT)
    src = field_fn(-1000.0 + DT * np.arange(N + op.n_ext))
    s = op.convolve(src)
    rng = np.random.default_rng(seed)
    return op, src[:N], s + noise * rng.standard_normal(N)


def sv(t):
    return spin_voltage(t, 104.0, 350.0, 0.1, fwhm=40.0)


# ZnTe's phonon ringing (≈ 3.5 ps) outlasts the 5 ps record: S after the record is missing from the data
@pytest.mark.parametrize("detector, tol", [("gap250", 1e-3), ("znte1000", 2.5e-2)])
def test_unconstrained_solution_is_the_field_through_the_resolution_kernel(detector, tol):
    op, e, s = measure(sv, detector)
    lam = 1e-3
    d = deconvolve(T, s, op, sigma=1e-3, lam=lam)
    H2 = np.abs(op.H) ** 2
    expected = irfft(rfft(e, op.nfft) * H2 / (H2 + lam), op.nfft)[:N]
    inner = (T > -500) & (T < 2000)  # the record's ends see the truncation of S
    assert np.max(np.abs(d.field - expected)[inner]) < tol * np.abs(e).max()
    # the reported kernel is that filter, and a larger λ blurs more
    t_k, k, fwhm = resolution_kernel(op, lam)
    assert k[t_k == 0][0] == pytest.approx(1.0) and np.allclose(k, k[::-1])
    assert 2 * DT < fwhm < resolution_kernel(op, 1e-1)[2]


@pytest.mark.parametrize("detector", ["gap250", "znte1000"])
def test_causal_support_recovers_the_dc_part(detector):
    """A spin Seebeck field decays to an offset; h has no DC, so only causality brings it back."""
    op, e, s = measure(lambda t: spin_seebeck(t, fwhm=40.0), detector, noise=1e-4 * 0.1)
    free = deconvolve(T, s, op, sigma=1e-5)
    causal = deconvolve(T, s, op, sigma=1e-5, support_fs=-60.0)
    late = (T > 1000) & (T < 2500)
    true_level = e[late].mean()
    assert abs(causal.field[late].mean() - true_level) < 0.1 * true_level
    assert abs(free.field[late].mean() - true_level) > 0.3 * true_level
    assert np.all(causal.field[T < -60.0] == 0.0)
    peak = np.abs(e).max()
    assert np.max(np.abs(causal.field - e)[(T > 200) & (T < 3000)]) < 0.1 * peak  # away from the record end


@pytest.mark.parametrize("rel_noise", [1e-3, 1e-2])
def test_discrepancy_principle_fits_to_the_noise(rel_noise):
    op, e, s0 = measure(sv)
    sigma = rel_noise * np.abs(s0).max()
    s = s0 + sigma * np.random.default_rng(1).standard_normal(N)
    d = deconvolve(T, s, op, sigma=sigma, support_fs=-60.0)
    assert d.residual_rms == pytest.approx(sigma, rel=0.25)
    # more noise → stronger regularization → coarser resolution; the field is still recovered near its peak
    assert np.abs(d.field).max() == pytest.approx(np.abs(e).max(), rel=0.15 if rel_noise > 5e-3 else 0.05)


def test_resolution_coarsens_with_noise():
    op, _, s0 = measure(sv)
    res = [deconvolve(T, s0 + r * np.abs(s0).max() * np.random.default_rng(2).standard_normal(N), op,
                      sigma=r * np.abs(s0).max()).resolution_fs for r in (1e-4, 1e-3, 1e-2)]
    assert res[0] < res[1] < res[2]


@pytest.mark.parametrize("detector", ["gap250", "znte1000"])
def test_measured_h_on_the_data_step_equals_the_model(detector):
    t_h, h = impulse_response(detector, DT, 8192)
    model = detector_operator(detector, N, DT)
    measured = sampled_operator(t_h, h, N, DT)
    e = sv(T)
    assert np.max(np.abs(model.convolve(e) - measured.convolve(e))) < 1e-4 * np.abs(model.convolve(e)).max()
    assert measured.n_ext > 0  # velocity mismatch: h reaches back in time


def test_transfer_on_another_step_is_refused():
    t_h, h = impulse_response("gap250", 2 * DT, 1024)
    with pytest.raises(ValueError, match="step 10 fs differs from the data step 5 fs"):
        sampled_operator(t_h, h, N, DT)
