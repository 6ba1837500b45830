"""The noise model measured without the fit: spectral derivative, the three noise terms, single sweeps."""

import numpy as np
import pytest

from femtospin.analysis import (
    average_conditions,
    band_limited,
    components,
    estimate_noise,
    sampling,
    spin_voltage,
)

T = np.arange(-1000.0, 2000.0, 10.0)


def waveform(t):
    """A bipolar, THz-like waveform with a closed form at any delay (peak ≈ 1 mV)."""
    return 1e-3 * (spin_voltage(t, 104.0, 350.0, 0.1, fwhm=40.0) - 0.8 * spin_voltage(t - 80.0, 60.0, 350.0, 0.1,
                                                                                      fwhm=40.0))


@pytest.mark.parametrize("step", [5.0, 10.0])
def test_spectral_derivative_is_unbiased_where_a_finite_difference_is_not(step):
    t = np.arange(-1000.0, 2000.0, step)
    fine = np.arange(-1000.0, 2000.0, 0.05)
    truth = np.interp(t, fine, np.gradient(waveform(fine), fine))
    _, slope = band_limited(sampling(t), t, waveform(t), 60.0)
    peak = np.abs(truth).max()
    inner = (t > -500) & (t < 1500)
    assert np.sqrt(np.mean((slope - truth)[inner] ** 2)) < 2e-3 * peak
    # np.gradient's rms of dμ/dt, which the jitter term squares, is low by percents at these steps
    rms = np.sqrt(np.mean(truth[inner] ** 2))
    assert np.sqrt(np.mean(np.gradient(waveform(t), t)[inner] ** 2)) < (1 - 1e-2 * step / 10) * rms
    assert np.sqrt(np.mean(slope[inner] ** 2)) == pytest.approx(rms, rel=2e-3)


def noisy_sweeps(alpha, beta, tau, sweeps, seed=0, t=T):
    mu = waveform(t)
    fine = np.arange(t[0], t[-1], 0.05)
    slope = np.interp(t, fine, np.gradient(waveform(fine), fine))
    rng = np.random.default_rng(seed)
    rows = {"delay_fs": [], "signal": [], "magnetization": []}
    for _ in range(sweeps):
        for m in (1, -1):
            sigma = np.sqrt(alpha**2 + (beta * mu) ** 2 + (tau * slope) ** 2)
            rows["delay_fs"].append(t)
            rows["signal"].append(m * mu + sigma * rng.standard_normal(t.size))
            rows["magnetization"].append(np.full(t.size, m))
    return {k: np.concatenate(v) for k, v in rows.items()}


def noise_of(rows, before=-500.0):
    avg = average_conditions(rows["delay_fs"], rows["signal"], {"magnetization": rows["magnetization"]})
    comp = components(avg)["odd_M"]
    return estimate_noise(comp, avg, sampling(comp.delay_fs), f_max_thz=40.0, before_fs=before), comp


@pytest.mark.parametrize("alpha, beta, tau", [(3e-6, 0.005, 0.3), (1e-5, 0.02, 0.0), (2e-6, 0.0, 1.0)])
def test_the_noise_terms_are_recovered_from_the_sweeps(alpha, beta, tau):
    noise, comp = noise_of(noisy_sweeps(alpha, beta, tau, sweeps=6, seed=1))
    assert noise.method == "repeats" and noise.n_sweeps == 6
    assert noise.sigma_alpha == pytest.approx(alpha, rel=0.1)
    # amplitude and jitter noise are large where μ and dμ/dt are, which overlap: each term is known to
    # tens of percent, the variance they predict at every delay to a few
    assert noise.sigma_beta == pytest.approx(beta, rel=0.4, abs=2e-3)
    assert noise.sigma_tau_fs == pytest.approx(tau, rel=0.4, abs=0.2)
    fine = np.arange(T[0], T[-1], 0.05)
    slope = np.interp(T, fine, np.gradient(waveform(fine), fine))
    truth = np.sqrt(alpha**2 + (beta * waveform(T)) ** 2 + (tau * slope) ** 2) / np.sqrt(2 * 6)
    signal = (T > -100) & (T < 600)
    assert np.median(noise.sigma[signal] / truth[signal]) == pytest.approx(1.0, abs=0.1)


def test_a_single_finely_sampled_sweep_measures_its_noise_above_the_signal_band():
    t = np.arange(-1000.0, 2000.0, 2.0)
    noise, _ = noise_of(noisy_sweeps(3e-6, 0.01, 0.0, sweeps=1, seed=2, t=t))
    assert noise.method == "high-pass"
    assert noise.sigma_alpha == pytest.approx(3e-6, rel=0.15)
    assert noise.sigma_beta == pytest.approx(0.01, rel=0.35)


def test_a_single_coarse_sweep_falls_back_to_the_baseline_and_says_so():
    t = np.arange(-1000.0, 2000.0, 25.0)
    noise, _ = noise_of(noisy_sweeps(3e-6, 0.01, 0.0, sweeps=1, seed=3, t=t))
    assert noise.method == "baseline"
    assert noise.sigma_alpha == pytest.approx(3e-6, rel=0.3)
    assert noise.warnings and "repeat the sweep" in noise.warnings[0]
    # no baseline either: the fit's residuals are the last resort, and the result says redchi means nothing
    last, _ = noise_of(noisy_sweeps(3e-6, 0.01, 0.0, sweeps=1, seed=3, t=t), before=-950.0)
    assert last.method == "residuals" and "cannot judge the model" in last.warnings[0]
