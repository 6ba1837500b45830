"""Deconvolution S → E: the estimator is the stated linear filter, causality restores the DC part,
the noise-driven λ, and a measured h on the data's step behaves as the detector model."""

import numpy as np
import pytest
from scipy.fft import irfft, rfft

from femtospin.analysis import (
    deconvolve,
    detector_operator,
    impulse_response,
    penalty,
    resolution_kernel,
    sampled_operator,
    sampling,
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
    expected = irfft(rfft(e, op.nfft) * H2 / (H2 + lam * penalty(op)), op.nfft)[:N]
    inner = (T > -500) & (T < 2000)  # the record's ends see the truncation of S
    assert np.max(np.abs(d.field - expected)[inner]) < tol * np.abs(e).max()
    # without the support the reported kernel is that filter (zero-phase, peak at lag 0), and a larger λ blurs more
    t_k, k, fwhm = resolution_kernel(op, lam)
    assert np.argmax(k) == np.nonzero(t_k == 0)[0][0] and np.allclose(k, k[::-1])
    assert np.allclose(d.kernel, k)
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


@pytest.mark.parametrize("step", [2 * DT, 0.5 * DT])
def test_transfer_on_another_step_is_resampled_through_its_spectrum(step):
    """A measured h on a coarser or finer step acts on the data's grid as the detector model does."""
    t_h, h = impulse_response("gap250", step, int(8192 * DT / step))
    model = detector_operator("gap250", N, DT)
    measured = sampled_operator(t_h, h, N, DT)
    e = sv(T)
    assert np.max(np.abs(model.convolve(e) - measured.convolve(e))) < 1e-2 * np.abs(model.convolve(e)).max()


def test_kernel_of_the_causal_estimator_describes_what_it_returns():
    """Noise-free data: kernel ⊛ truth reproduces the returned E near the probe, the filter's kernel does not."""
    op, e, s = measure(sv)
    d = deconvolve(T, s, op, sigma=1e-5 * np.abs(s).max(), support_fs=-60.0, probe_fs=40.0)
    lags = np.round(d.kernel_t_fs / DT).astype(int)
    predicted = np.array([np.sum(d.kernel * np.interp(t - lags * DT, T, e, left=0.0)) for t in T])
    near = (T > 0) & (T < 150)  # the kernel was taken at 40 fs; it is the estimator's response there
    assert np.max(np.abs(predicted - d.field)[near]) < 0.03 * np.abs(e).max()
    # its area is the estimator's gain for slow parts, which the step response measures independently
    assert d.kernel.sum() == pytest.approx(d.slow_recovery, abs=0.1)
    assert 2 * DT < d.resolution_fs < 100.0


def test_noise_band_is_the_scatter_over_noise_realizations():
    op, e, s0 = measure(sv)
    sigma = 3e-3 * np.abs(s0).max()
    rng = np.random.default_rng(4)
    runs = [deconvolve(T, s0 + sigma * rng.standard_normal(N), op, sigma=sigma, lam=1e-3, support_fs=-60.0)
            for _ in range(40)]
    scatter = np.std([r.field for r in runs], axis=0, ddof=1)
    band = runs[0].stderr
    inner = (T > 0) & (T < 2000)
    assert np.median(band[inner] / scatter[inner]) == pytest.approx(1.0, abs=0.2)
    assert np.all(band[T < -60.0] == 0.0)


def test_any_delay_grid_gives_the_uniform_result():
    """Fine near time zero, coarse elsewhere: the sampled problem returns what the uniform one does."""
    op, e, s = measure(sv)
    keep = (T % 20 == 0) | ((T > -200) & (T < 400)) | (T == T[-1])
    samp = sampling(T[keep])
    assert samp.dt_fs == DT and samp.n == N
    sigma = 1e-4 * np.abs(s).max()
    full = deconvolve(T, s, op, sigma=sigma, lam=1e-3, support_fs=-60.0)
    sub = deconvolve(T[keep], s[keep], op, sigma=sigma, lam=1e-3, support_fs=-60.0, sampling=samp)
    inner = (T > -100) & (T < 1500)
    assert np.max(np.abs(sub.field - full.field)[inner]) < 0.05 * np.abs(full.field).max()
    assert sub.resolution_fs == pytest.approx(full.resolution_fs, rel=0.25)


def test_step_response_says_how_much_of_a_slow_offset_survives():
    """The spin Seebeck offset is recovered as far as the estimator's step response says."""
    op, e, s = measure(lambda t: spin_seebeck(t, fwhm=40.0), "gap250")
    recovered = []
    for rel, lam in ((1e-4, None), (3e-2, None), (3e-2, 30.0)):
        sigma = rel * np.abs(s).max()
        noisy = s + sigma * np.random.default_rng(3).standard_normal(N)
        d = deconvolve(T, noisy, op, sigma=sigma, support_fs=-60.0, probe_fs=0.0, lam=lam)
        late = (T > 1500) & (T < 2500)
        kept = d.field[late].mean() / e[late].mean()
        assert kept == pytest.approx(d.slow_recovery, abs=0.15)
        recovered.append(d.slow_recovery)
    # the roughness penalty keeps an offset at the data's own λ; a heavy-handed λ loses it, and says so
    assert recovered[0] > 0.9 and recovered[1] > 0.8 and recovered[2] < 0.6


@pytest.mark.parametrize("delays, resolve, step", [
    (np.arange(0.0, 400.0, 40.0), 20.0, 10.0),   # coarse delays: the grid resolves the shortest duration
    (np.arange(0.0, 400.0, 5.0), 20.0, 5.0),     # already finer than needed: the delays' own step
    (np.arange(0.0, 400.0, 40.0), None, 40.0),   # nothing to resolve: the delays' step
    (np.arange(0.0, 400.0, 40.0), 0.1, 0.5),     # never below the smallest step
])
def test_the_grid_step_resolves_the_model_whatever_the_delays(delays, resolve, step):
    from femtospin.analysis import grid_step

    assert grid_step(delays, resolve) == pytest.approx(step)
    samp = sampling(delays, resolve_fs=resolve)
    assert samp.dt_fs == pytest.approx(step)
    x = np.sin(samp.grid / 50.0)  # the sampling operator still lands on the data's delays
    np.testing.assert_allclose(samp.sample(x), np.sin(delays / 50.0), atol=1e-12)
