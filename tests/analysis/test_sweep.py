"""The lock-in filter along a fly sweep, against closed forms."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammainc

from femtospin import analysis
from femtospin.analysis import SweepFilter, bin_samples, low_frequency_excess, noise_correlation, sweep_rate_fs_s
from femtospin.sim_devices._stream import filter_stream


@pytest.mark.parametrize("order", [1, 2, 4])
def test_transfer_is_the_gamma_kernel_in_delay(order):
    ell, dx = 3.0, 0.05
    x = np.arange(0.0, 400.0, dx)
    k = stats.gamma.pdf(x, order, scale=ell) * dx  # an upward sweep: causal in delay
    k[0] *= 0.5  # trapezoid rule at the kernel's edge
    f = np.fft.rfftfreq(x.size, dx)
    up = SweepFilter(ell, order, up_fraction=1.0).transfer(f)
    band = f < 0.5  # well below the sampling's Nyquist frequency (10 / fs)
    assert np.allclose(np.fft.rfft(k)[band], up[band], atol=2e-3)
    down = SweepFilter(ell, order, up_fraction=0.0).transfer(f)
    assert np.allclose(down, np.conj(up))
    assert np.allclose(SweepFilter(ell, order).transfer(f).imag, 0.0)  # a round trip has no lag


def test_moments_lag_and_rate():
    f = SweepFilter(2.0, 4, up_fraction=1.0)
    assert f.mean_lag_fs == pytest.approx(8.0) and f.rms_fs == pytest.approx(4.0)  # n·ℓ and √n·ℓ
    trip = SweepFilter(2.0, 4, bin_fs=6.0)
    assert trip.mean_lag_fs == 0.0
    assert trip.rms_fs == pytest.approx(np.sqrt(4 * 4 + 64 + 3))  # n·ℓ², the ±n·ℓ mixture, the bin
    rate = sweep_rate_fs_s(10.0, 0.1, 24, smear_per_step=0.5)
    assert np.sqrt(4) * rate * 0.1 == pytest.approx(5.0)  # √n·r·τ = half a step
    with pytest.raises(ValueError, match="slope_db=5"):
        sweep_rate_fs_s(10.0, 0.1, 5)


def test_noise_correlation_of_one_rc_stage_is_exponential():
    f = SweepFilter(3.0, 1)
    rho = noise_correlation(f, 10.0)
    assert rho[:4] == pytest.approx(np.exp(-np.arange(4) * 10.0 / 3.0), rel=1e-2)
    assert low_frequency_excess(f, 10.0) == pytest.approx(1 / np.tanh(10.0 / 6.0), rel=1e-3)  # coth(Δ/2ℓ)
    assert low_frequency_excess(SweepFilter(0.0, 4, bin_fs=10.0), 10.0) == pytest.approx(1.0)  # bins alone


def test_binned_noise_has_the_stated_correlation():
    """White noise through the simulator's filter, sampled and binned as a fly sweep does."""
    rng = np.random.default_rng(0)
    tau, rate, step, per_bin = 0.1, 25.0, 10.0, 24
    dt = step / rate / per_bin
    noise = filter_stream(rng.standard_normal(400_000), dt, tau, 24)[2000:]
    bins = noise[: noise.size // per_bin * per_bin].reshape(-1, per_bin).mean(axis=1)
    measured = [np.corrcoef(bins[:-k], bins[k:])[0, 1] for k in (1, 2)]
    expected = noise_correlation(SweepFilter.from_lockin(rate, tau, 24, bin_fs=step), step)[1:3]
    assert measured == pytest.approx(expected, abs=0.02)


def test_filter_stream_lags_a_ramp_by_n_tau_and_follows_the_step_response():
    tau, dt = 0.1, 0.005
    t = np.arange(0.0, 3.0, dt)
    step = filter_stream((t > 0).astype(float), dt, tau, 18)  # linear between samples: the step is at dt/2
    assert step[1:] == pytest.approx(gammainc(3, (t[1:] - dt / 2) / tau), abs=1e-3)
    ramp = filter_stream(np.maximum(t - 1.0, 0.0), dt, tau, 24)
    late = t > 2.5
    assert ramp[late] == pytest.approx(t[late] - 1.0 - 4 * tau, abs=1e-4)


def test_bins_put_the_value_at_the_centre():
    edges = np.array([0.0, 10.0, 20.0])
    d = np.array([1.0, 2.0, 3.0, 4.0, 11.0])  # the first bin's samples sit left of its centre
    value, count = bin_samples(edges, d, 2.0 * d + 1.0)
    assert count.tolist() == [4, 1]
    assert value == pytest.approx([11.0, 23.0])  # a line is read at the centre (5 fs), one sample as it is


def test_fly_grid_spans_the_delays_at_the_finest_step():
    grid = analysis.fly_grid(np.r_[np.arange(-1000.0, -200.0, 20.0), np.arange(-200.0, 400.0, 5.0)])
    assert grid[0] == -1000.0 and grid[-1] == 395.0 and np.allclose(np.diff(grid), 5.0)


def test_correlated_errors_of_a_mean_against_the_closed_form():
    """The mean of N equally weighted points: var = σ²/N² · Σ_ij R_ij; independent points would say σ²/N."""
    rho = np.array([1.0, 0.4, 0.1])
    n = 200
    R = sum(r * (np.eye(n, k=k) + (np.eye(n, k=-k) if k else 0)) for k, r in enumerate(rho))
    factor = analysis.correlated_error_factors(np.ones((n, 1)), rho)
    assert factor[0] ** 2 == pytest.approx(R.sum() / n)
    # a parameter set by alternating points (the grid's Nyquist frequency) sees less noise, not more
    alternating = analysis.correlated_error_factors(((-1.0) ** np.arange(n))[:, None], rho)[0]
    assert alternating**2 == pytest.approx(1 - 2 * 0.4 + 2 * 0.1, abs=0.01)
