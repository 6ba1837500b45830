"""The lock-in filter along a continuous (fly) sweep, in delay coordinates.

While the stage moves at a constant rate r (fs of delay per s), the lock-in's
RC^n filter (n = slope / 6 dB/oct, time constant τ) acts on the signal as a
kernel in *delay*: a gamma density of shape n and scale ℓ = r·τ fs,

    k_up(x) = x^(n−1)·exp(−x/ℓ) / ((n − 1)!·ℓ^n),  x ≥ 0,

so an upward sweep records S ⊛ k_up (the waveform lags by n·ℓ and is smeared
by √n·ℓ rms) and a downward sweep S ⊛ k_down, k_down(x) = k_up(−x). Samples
are averaged into bins of the output grid (a box of the grid's step). A
round trip (up then down, averaged) has the even kernel ½(k_up + k_down) ⊛ box:
the lag cancels, the smear stays and is put into the forward model and the
deconvolution by multiplying the detector's H with :meth:`SweepFilter.transfer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.fft import rfftfreq

from ._deconvolution import Response
from ._lockin import filter_order

SMEAR_PER_STEP = 0.5  # default: the filter's rms smear along the sweep is half a delay step


@dataclass(frozen=True)
class SweepFilter:
    """The lock-in filter and the binning as a kernel in delay, for a mix of sweep directions.

    Attributes
    ----------
    lag_fs : float
        ℓ = r·τ, the filter's time constant expressed in delay (fs).
    order : int
        Number of RC stages n (1–4).
    up_fraction : float
        Weight of upward sweeps in the average (0.5 for round trips).
    bin_fs : float
        Width of the bins the samples are averaged into (0: point samples).
    """

    lag_fs: float
    order: int
    up_fraction: float = 0.5
    bin_fs: float = 0.0

    def __post_init__(self):
        if not (np.isfinite(self.lag_fs) and self.lag_fs >= 0):
            raise ValueError(f"lag_fs must be finite and ≥ 0, got {self.lag_fs}")
        if self.order not in (1, 2, 3, 4):
            raise ValueError(f"order must be 1–4 RC stages, got {self.order}")
        if not 0.0 <= self.up_fraction <= 1.0:
            raise ValueError(f"up_fraction must be in [0, 1], got {self.up_fraction}")
        if not (np.isfinite(self.bin_fs) and self.bin_fs >= 0):
            raise ValueError(f"bin_fs must be finite and ≥ 0, got {self.bin_fs}")

    @classmethod
    def from_lockin(cls, rate_fs_s: float, tau_s: float, slope_db: int, *, up_fraction: float = 0.5,
                    bin_fs: float = 0.0) -> SweepFilter:
        """The kernel of a lock-in (τ, slope) on a stage sweeping at ``rate_fs_s`` fs/s."""
        return cls(abs(float(rate_fs_s)) * float(tau_s), filter_order(slope_db), up_fraction, bin_fs)

    @property
    def mean_lag_fs(self) -> float:
        """Mean shift of the measured waveform: n·ℓ·(2·up_fraction − 1); 0 for round trips."""
        return self.order * self.lag_fs * (2 * self.up_fraction - 1)

    @property
    def rms_fs(self) -> float:
        """rms width of the kernel about its mean (filter, direction mix and bin)."""
        n, ell, w = self.order, self.lag_fs, self.up_fraction
        mix = 4 * w * (1 - w) * (n * ell) ** 2  # the spread of the two directions' lags
        return float(np.sqrt(n * ell**2 + mix + self.bin_fs**2 / 12))

    def transfer(self, f_per_fs: np.ndarray) -> np.ndarray:
        """K(f) at frequencies in 1/fs, numpy FFT convention (multiply ``rfft`` spectra).

        An upward sweep's kernel (causal in delay) has (1 + i·2πfℓ)^−n, a downward
        sweep's its complex conjugate; the bin contributes sinc(f·bin).
        """
        f = np.asarray(f_per_fs, float)
        up = (1.0 + 2j * np.pi * f * self.lag_fs) ** (-self.order)
        k = self.up_fraction * up + (1 - self.up_fraction) * np.conj(up)
        return k * np.sinc(f * self.bin_fs)

    def to_dict(self) -> dict:
        return {"lag_fs": self.lag_fs, "order": self.order, "up_fraction": self.up_fraction, "bin_fs": self.bin_fs}


def noise_correlation(sweep: SweepFilter, step_fs: float, max_lag: int = 64) -> np.ndarray:
    """Correlation ρ_k (k = 0 … max_lag) of the binned noise of one sweep between bins k steps apart.

    The noise at the lock-in's input is white; along a sweep it reaches a bin
    through the filter's kernel in delay and the bin's box, so bins closer than
    the kernel's width share noise. Up and down sweeps have independent noise
    with the same correlation, and so has their average.

    Parameters
    ----------
    sweep : SweepFilter
    step_fs : float
        Spacing of the bins (fs), > 0.
    max_lag : int, optional

    Returns
    -------
    ndarray
        ρ_0 = 1, ρ_1, …
    """
    if not step_fs > 0:
        raise ValueError(f"step_fs must be > 0, got {step_fs}")
    scales = [v for v in (sweep.lag_fs, sweep.bin_fs, step_fs) if v > 0]
    dx = min(scales) / 32
    n, ell = sweep.order, sweep.lag_fs
    if ell > 0:
        x = np.arange(0.0, ell * (n + 14 * np.sqrt(n)) + dx, dx)
        kernel = x ** (n - 1) * np.exp(-x / ell)
    else:
        kernel = np.ones(1)
    if sweep.bin_fs > 0:
        kernel = np.convolve(kernel, np.ones(max(1, int(round(sweep.bin_fs / dx)))))
    auto = np.correlate(kernel, kernel, "full")[kernel.size - 1:]
    lags = np.arange(max_lag + 1) * step_fs / dx
    return np.interp(lags, np.arange(auto.size), auto, right=0.0) / auto[0]


def low_frequency_excess(sweep: SweepFilter, step_fs: float) -> float:
    """1 + 2·Σ_{k≥1} ρ_k: how much more noise a smooth feature sees than independent bins would give.

    A fit that weights the bins as independent states parameter errors too small
    by √ of this for parameters set by features broader than the correlation
    (τ_es, amplitude); the analysis scales them by it.
    """
    rho = noise_correlation(sweep, step_fs)
    return float(1.0 + 2.0 * np.sum(rho[1:]))


def correlated_error_factors(jacobian: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """By how much correlated noise widens each parameter's error over what independent points state.

    With the fit weighting the points as independent, its covariance is A⁻¹,
    A = JᵀJ (J the Jacobian of the model divided by each point's σ); with noise of
    correlation R between points the estimate's covariance is the sandwich
    A⁻¹·JᵀRJ·A⁻¹. Points are assumed evenly spaced (R Toeplitz in ρ_k).

    Parameters
    ----------
    jacobian : ndarray, shape (points, parameters)
        ∂model/∂p / σ at the best fit.
    rho : ndarray
        ρ_0 = 1, ρ_1, … between points k apart.

    Returns
    -------
    ndarray
        √(sandwich_jj / (A⁻¹)_jj) per parameter.
    """
    J = np.asarray(jacobian, float)
    RJ = J.copy()
    for k in range(1, min(len(rho), J.shape[0])):
        if rho[k] == 0.0:
            continue
        RJ[k:] += rho[k] * J[:-k]
        RJ[:-k] += rho[k] * J[k:]
    a_inv = np.linalg.pinv(J.T @ J)
    sandwich = a_inv @ (J.T @ RJ) @ a_inv
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.clip(np.diag(sandwich), 0, None) / np.diag(a_inv))


def sweep_rate_fs_s(step_fs: float, tau_s: float, slope_db: int, smear_per_step: float = SMEAR_PER_STEP) -> float:
    """Delay rate (fs/s) at which the filter smears a sweep by ``smear_per_step`` of a step, rms.

    The filter's rms width in delay is √n·r·τ; setting it to ``smear_per_step``·step gives
    r = smear_per_step·step / (√n·τ). Faster smears more (and the model must undo it);
    slower wastes table time.

    Parameters
    ----------
    step_fs : float
        Wanted delay resolution (the output grid's step), > 0.
    tau_s : float
        Lock-in time constant, > 0.
    slope_db : int
        Filter slope, 6/12/18/24 dB/oct.
    smear_per_step : float, optional
        rms smear in units of the step, > 0.

    Returns
    -------
    float
    """
    if not (step_fs > 0 and tau_s > 0 and smear_per_step > 0):
        raise ValueError(f"step_fs, tau_s and smear_per_step must be > 0, got {step_fs}, {tau_s}, {smear_per_step}")
    return float(smear_per_step * step_fs / (np.sqrt(filter_order(slope_db)) * tau_s))


def with_sweep(response: Response, sweep: SweepFilter | None) -> Response:
    """The detector's response followed by the lock-in filter along the sweep (same grid)."""
    if sweep is None or (sweep.lag_fs == 0 and sweep.bin_fs == 0):
        return response
    f = rfftfreq(response.nfft, response.dt_fs)
    return Response.build(response.n, response.dt_fs, response.nfft, response.H * sweep.transfer(f))


def bin_samples(edges_fs: np.ndarray, delay_fs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each bin's value at its centre from the samples in [edges[i], edges[i+1]), and their count.

    The value is the samples' mean, moved to the bin's centre along the line fitted
    through them: discrete sample times leave the samples' mean delay up to half a
    sample spacing off the centre, which on a steep waveform is a bias of that
    spacing times the slope. For uniformly spaced samples this is the box average
    over the bin to second order.

    Parameters
    ----------
    edges_fs : ndarray
        Increasing bin edges (fs), one more than the bins.
    delay_fs, values : ndarray
        Samples: delay of each (from the encoder) and its value.

    Returns
    -------
    value : ndarray
        NaN where a bin got no sample.
    count : ndarray of int
    """
    edges = np.asarray(edges_fs, float)
    d, v = np.asarray(delay_fs, float), np.asarray(values, float)
    idx = np.searchsorted(edges, d, side="right") - 1
    ok = (idx >= 0) & (idx < edges.size - 1)
    m = edges.size - 1
    idx, d, v = idx[ok], d[ok], v[ok]
    count = np.bincount(idx, minlength=m)
    sums = [np.bincount(idx, weights=w, minlength=m) for w in (d, v, d * d, d * v)]
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.maximum(count, 1)
        mean_d, mean_v = sums[0] / n, sums[1] / n
        var_d = sums[2] / n - mean_d**2
        slope = (sums[3] / n - mean_d * mean_v) / var_d
        centre = 0.5 * (edges[1:] + edges[:-1])
        spread_ok = (count >= 3) & (var_d > 1e-6 * np.diff(edges) ** 2)
        value = np.where(spread_ok, mean_v + np.where(spread_ok, slope, 0.0) * (centre - mean_d), mean_v)
    return np.where(count > 0, value, np.nan), count


def fly_grid(delays_fs: np.ndarray) -> np.ndarray:
    """The uniform output grid of a fly sweep: the finest step of the requested delays over their span."""
    d = np.unique(np.asarray(delays_fs, float))
    if d.size < 2:
        raise ValueError("a fly sweep needs at least 2 distinct delays")
    step = float(np.min(np.diff(d)))
    n = int(np.floor((d[-1] - d[0]) / step + 1e-9)) + 1
    return d[0] + step * np.arange(n)
