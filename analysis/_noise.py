"""The noise of a component, measured without any fit model, and the drift between sweeps.

The noise of one sample follows physics.md §5,

    σ² = σ_α² + σ_β²·μ² + σ_τ²·(dμ/dt)²        (additive, laser amplitude, timing jitter),

for the mean waveform μ of its condition set. A component Σ c_k·S_k then has
the per-sweep variance Σ c_k²·σ²(μ_k), so σ_α, σ_β, σ_τ are estimated once,
in the units of a raw sample, from one of (in order of preference):

``repeats``
    the scatter of the component between sweeps, after each sweep's own
    amplitude and delay shift are taken out (thztools' ``scaleshift``);
``high-pass``
    a single sweep: the part of the data above the signal's band (which only
    noise has), corrected for the fraction of the band it keeps;
``baseline``
    only the scatter before time zero (σ_β, σ_τ unknown: reported as 0, with a warning).

μ and dμ/dt come from the measured waveforms, band-limited and differentiated
spectrally on the internal grid (a finite difference biases the jitter term),
never from the fitted model, so the goodness of fit can say the model is wrong.

Sweeps are the unit of drift: each sweep's amplitude and shift relative to the
mean are reported, and their scatter beyond what the noise explains is the
drift that enters the amplitude and time-zero uncertainties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft, rfftfreq
from scipy.optimize import nnls
from scipy.stats import chi2 as chi2_dist

from ._grid import Sampling
from ._symmetry import Component, ConditionAverages

MIN_KEEP = 0.2  # a single sweep sampled so coarsely that less than this of its noise is above the band: no high-pass
BASELINE_GAP_FS = 400.0
MIN_BASELINE_SAMPLES = 8


@dataclass
class NoiseModel:
    """Noise of one component.

    Attributes
    ----------
    sigma_alpha, sigma_beta, sigma_tau_fs : float
        Additive (V), relative amplitude, and timing jitter (fs) per raw sample.
    method : str
        ``repeats``, ``high-pass`` or ``baseline``.
    sigma : ndarray
        Noise of the component (the mean over its sweeps) at each of its delays.
    n_sweeps : int
    baseline_sigma : float
        Scatter of the component before time zero (NaN if the record has too little baseline).
    drift : list of dict
        ``{"repeat", "amplitude", "shift_fs"}`` per sweep (relative amplitude, 1 = the mean).
    drift_amplitude_var, drift_shift_var_fs2 : float
        Variance of the mean amplitude (relative²) and shift (fs²) over sweeps, from the sweeps' scatter,
        where it is significantly (95 %) larger than the noise explains; else 0.
    warnings : list of str
    """

    sigma_alpha: float
    sigma_beta: float
    sigma_tau_fs: float
    method: str
    sigma: np.ndarray
    n_sweeps: int
    baseline_sigma: float
    drift: list = field(default_factory=list)
    drift_amplitude_var: float = 0.0
    drift_shift_var_fs2: float = 0.0
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"sigma_alpha": self.sigma_alpha, "sigma_beta": self.sigma_beta, "sigma_tau_fs": self.sigma_tau_fs,
                "method": self.method, "sweeps": self.n_sweeps,
                "baseline_sigma": self.baseline_sigma if np.isfinite(self.baseline_sigma) else None}


def band_limited(samp: Sampling, delay_fs: np.ndarray, value: np.ndarray,
                 f_max_thz: float) -> tuple[np.ndarray, np.ndarray]:
    """A waveform band-limited to ``f_max_thz`` and its spectral time derivative, at its own delays.

    Parameters
    ----------
    samp : Sampling
        The internal grid.
    delay_fs, value : ndarray
        The waveform at any delays within the grid.
    f_max_thz : float
        Highest frequency kept (a cos² taper over its last 20 %).

    Returns
    -------
    mu, slope : ndarray
        The band-limited waveform and dμ/dt (per fs) at ``delay_fs``.
    """
    grid = samp.grid
    y = np.interp(grid, delay_fs, value)
    # the ends differ (baseline before, tail after): take out the line joining them so the FFT sees no step
    ramp = y[0] + (y[-1] - y[0]) * (grid - grid[0]) / (grid[-1] - grid[0])
    n = next_fast_len(2 * grid.size, real=True)
    f = rfftfreq(n, samp.dt_fs)  # 1/fs
    taper = np.clip((f_max_thz * 1e-3 - f) / (0.2 * f_max_thz * 1e-3), 0.0, 1.0)
    spec = rfft(y - ramp, n) * np.sin(0.5 * np.pi * taper) ** 2
    mu = irfft(spec, n)[: grid.size] + ramp
    slope = irfft(spec * 2j * np.pi * f, n)[: grid.size] + (y[-1] - y[0]) / (grid[-1] - grid[0])
    return np.interp(delay_fs, grid, mu), np.interp(delay_fs, grid, slope)


def _variance_fit(basis: np.ndarray, squares: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Non-negative (a, b, c) of squares ≈ basis·(a, b, c), reweighted by the model (var of a square ∝ σ⁴)."""
    norms = np.sqrt(np.sum(basis**2, axis=0))
    norms[norms == 0] = 1.0
    b = basis / norms
    w = np.ones(squares.size) if weight is None else weight
    coef, _ = nnls(b * w[:, None], squares * w)
    for _ in range(3):
        model = b @ coef
        floor = max(float(np.median(model)) * 1e-3, 1e-300)
        ww = w / np.maximum(model, floor)
        coef, _ = nnls(b * ww[:, None], squares * ww)
    return coef / norms


def _basis(comp: Component, avg: ConditionAverages, samp: Sampling, f_max: float) -> np.ndarray:
    """Columns Σc², Σc²μ², Σc²μ'² of the component's per-sweep variance, at its delays."""
    keep = np.isin(np.round(avg.delay_fs, 9), np.round(comp.delay_fs, 9))
    cols = np.zeros((comp.delay_fs.size, 3))
    for key, c in comp.coef.items():
        mu, slope = band_limited(samp, comp.delay_fs, avg.groups[key][0][keep], f_max)
        cols += c**2 * np.column_stack([np.ones_like(mu), mu**2, slope**2])
    return cols


def baseline_sigma(delay_fs: np.ndarray, value: np.ndarray, before_fs: float) -> float:
    """Scatter (standard deviation) of a waveform before ``before_fs``; NaN with fewer than 8 samples."""
    pre = value[delay_fs < before_fs]
    return float(np.std(pre, ddof=1)) if pre.size >= MIN_BASELINE_SAMPLES else float("nan")


def estimate_noise(comp: Component, avg: ConditionAverages, samp: Sampling, *, f_max_thz: float,
                   before_fs: float, repeats: list | None = None) -> NoiseModel:
    """Noise model and sweep drift of a component, independent of any fit model.

    Parameters
    ----------
    comp : Component
        The component (with its sweeps and coefficients).
    avg : ConditionAverages
        The condition averages it was formed from.
    samp : Sampling
        Internal grid covering the component's delays.
    f_max_thz : float
        Highest frequency the signal has (detector band, pump spectrum).
    before_fs : float
        The baseline ends here (time zero minus the detector's precursor).
    repeats : list, optional
        Labels of the sweeps for the drift report (default 0, 1, …).

    Returns
    -------
    NoiseModel
    """
    t, y = comp.delay_fs, comp.value
    base = baseline_sigma(t, y, before_fs)
    basis = _basis(comp, avg, samp, f_max_thz)
    warnings = []
    R = comp.n_sweeps
    if R >= 2:
        mu, slope = band_limited(samp, t, y, f_max_thz)
        design = np.column_stack([mu, -slope])
        resid = comp.sweeps - y  # deviation of each sweep from the mean
        gs, _, _, _ = np.linalg.lstsq(design, resid.T, rcond=None)  # per-sweep (relative scale, shift)
        squares = np.sum((resid - (design @ gs).T) ** 2, axis=0) / (R - 1)
        a, b, c = _variance_fit(basis, squares)
        var_sweep = basis @ np.array([a, b, c])
        # each sweep's scale and shift again, weighted by the noise, and their spread from the noise alone
        normal = design.T @ (design / var_sweep[:, None])
        cov_stat = np.linalg.inv(normal) if np.linalg.cond(normal) < 1e12 else np.full((2, 2), np.inf)
        g, s = cov_stat @ (design.T @ (resid / var_sweep).T)
        # drift enters only where the sweeps scatter more than their noise allows (95 %): a max(0, excess)
        # from a few sweeps would otherwise inflate every error; then the sweep scatter itself is the error
        limit = chi2_dist.ppf(0.95, R - 1) / (R - 1)
        drift_g = float(np.var(g, ddof=1)) if np.var(g, ddof=1) > limit * cov_stat[0, 0] else 0.0
        drift_s = float(np.var(s, ddof=1)) if np.var(s, ddof=1) > limit * cov_stat[1, 1] else 0.0
        labels = repeats if repeats is not None and len(repeats) == R else list(range(R))
        drift = [{"repeat": int(r), "amplitude": float(1 + gi), "shift_fs": float(si)}
                 for r, gi, si in zip(labels, g, s)]
        return NoiseModel(float(np.sqrt(a)), float(np.sqrt(b)), float(np.sqrt(c)), "repeats",
                          np.sqrt(var_sweep / R), R, base, drift, drift_g / R, drift_s / R, warnings)
    # a single sweep: noise is what lies above the signal's band
    mu, _ = band_limited(samp, t, y, f_max_thz)
    spacing = np.gradient(t) if t.size > 1 else np.ones(1)
    keep = 1.0 - 2.0 * f_max_thz * 1e-3 * spacing  # fraction of white noise above the band at the local sampling
    usable = keep >= MIN_KEEP
    if usable.sum() >= 32:
        a, b, c = _variance_fit(basis[usable], ((y - mu) ** 2 / np.where(usable, keep, 1.0))[usable])
        method = "high-pass"
    elif np.isfinite(base):
        a, b, c = base**2 / max(basis[:, 0].mean(), 1e-300), 0.0, 0.0
        method = "baseline"
        warnings.append("one sweep sampled too coarsely to measure amplitude and timing noise: the noise is the "
                        "baseline's only, so redchi near the peak may exceed 1; repeat the sweep")
    else:
        raise ValueError(f"cannot measure the noise: a single sweep with fewer than {MIN_BASELINE_SAMPLES} samples "
                         f"before {before_fs:g} fs; start the scan earlier or repeat it")
    var = basis @ np.array([a, b, c])
    return NoiseModel(float(np.sqrt(a)), float(np.sqrt(b)), float(np.sqrt(c)), method, np.sqrt(var), max(R, 1),
                      base, [], 0.0, 0.0, warnings)
