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
    only the scatter before time zero (σ_β, σ_τ unknown: reported as 0, with a warning);
``residuals``
    a single sweep with no baseline: the fit's own residuals, the old way, with a
    warning that redchi then cannot judge the model.

The baseline ends before the detector's precursor (h reaches back in time).

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
from scipy.special import chdtri

from ._grid import Sampling
from ._symmetry import Component, ConditionAverages

MIN_KEEP = 0.2  # a run of delays so coarse that less than this of its noise is above the band: no high-pass
MIN_HIGH_PASS = 32  # samples the high-pass estimate needs
EDGE_SAMPLES = 4  # a finite run leaks at its ends
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
    basis: np.ndarray | None = field(default=None, repr=False)  # per-sweep variance columns (Σc², Σc²μ², Σc²μ'²)
    dof: float = float("inf")  # degrees of freedom the noise level was measured with (NaN: from the fit itself)

    def to_dict(self) -> dict:
        return {"sigma_alpha": self.sigma_alpha, "sigma_beta": self.sigma_beta, "sigma_tau_fs": self.sigma_tau_fs,
                "method": self.method, "sweeps": self.n_sweeps, "dof": self.dof,
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


def _variance_fit(basis: np.ndarray, squares: np.ndarray, known: np.ndarray | float = 0.0,
                  counts: np.ndarray | None = None) -> np.ndarray:
    """Non-negative coefficients of squares ≈ known + basis·coef, reweighted by the model (var of a square ∝ σ⁴).

    ``known`` is a part of the variance measured elsewhere (the baseline's): it is
    subtracted from the squares and counts in the weights. ``counts`` are the degrees of
    freedom behind each square (var of a square ∝ 1/counts); default equal.
    """
    norms = np.sqrt(np.sum(basis**2, axis=0))
    norms[norms == 0] = 1.0
    b = basis / norms
    target = squares - known
    dof = np.ones(target.size) if counts is None else np.sqrt(np.asarray(counts, float))
    coef, _ = nnls(b * dof[:, None], target * dof)
    for _ in range(3):
        model = known + b @ coef
        floor = max(float(np.median(model)) * 1e-3, 1e-300)
        ww = dof / np.maximum(model, floor)
        coef, _ = nnls(b * ww[:, None], target * ww)
    return coef / norms


def _basis(comp: Component, avg: ConditionAverages, samp: Sampling, f_max: float) -> np.ndarray:
    """Columns Σc², Σc²μ², Σc²μ'² of the component's per-sweep variance, at its delays."""
    keep = np.isin(np.round(avg.delay_fs, 9), np.round(comp.delay_fs, 9))
    cols = np.zeros((comp.delay_fs.size, 3))
    for key, c in comp.coef.items():
        mu, slope = band_limited(samp, comp.delay_fs, avg.groups[key][0][keep], f_max)
        cols += c**2 * np.column_stack([np.ones_like(mu), mu**2, slope**2])
    return cols


def uniform_runs(t: np.ndarray, rtol: float = 0.02) -> list[slice]:
    """Maximal runs of equally spaced delays (within ``rtol`` of the step), as slices."""
    steps = np.diff(t)
    runs, start = [], 0
    for i in range(1, steps.size + 1):
        if i == steps.size or abs(steps[i] - steps[start]) > rtol * steps[start]:
            runs.append(slice(start, i + 1))
            start = i
    return runs


def high_pass_squares(t: np.ndarray, y: np.ndarray, f_max_thz: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample noise variance estimates from the part of a sweep above the signal's band.

    Each run of equally spaced delays is high-passed above ``f_max_thz`` at its own
    step (its ends, where a finite record leaks, are dropped); a white sample keeps
    the fraction 1 − 2·f_max·step of its variance there, which the squares are divided by.

    Returns
    -------
    index, squares : ndarray
        Which samples, and their estimated σ².
    """
    idx, squares = [], []
    for run in uniform_runs(t):
        seg_t, seg = t[run], y[run]
        n = seg.size
        if n < 2 * EDGE_SAMPLES + 16:
            continue
        step = float(np.mean(np.diff(seg_t)))
        f = rfftfreq(n, step)
        above = f > f_max_thz * 1e-3
        keep = above.sum() / f.size
        if keep < MIN_KEEP:
            continue
        # the even extension has no step at the ends, so the signal leaks far less above the band
        ext = np.concatenate([seg, seg[::-1]])
        f = rfftfreq(2 * n, step)
        resid = irfft(rfft(ext) * (f > f_max_thz * 1e-3), 2 * n)[:n]
        inner = np.arange(EDGE_SAMPLES, n - EDGE_SAMPLES)
        idx.append(np.arange(run.start, run.stop)[inner])
        squares.append(resid[inner] ** 2 / keep)
    if not idx:
        return np.array([], int), np.array([])
    idx_all, sq_all = np.concatenate(idx), np.concatenate(squares)
    _, first = np.unique(idx_all, return_index=True)  # runs share their end samples
    return idx_all[first], sq_all[first]


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
        return _from_sweeps(comp, samp, basis, f_max_thz, base, repeats, warnings)
    # a single sweep: the additive part from the baseline (where nothing else is), the rest from above the band
    if not np.isfinite(base):
        warnings.append(f"one sweep and no baseline before {before_fs:.0f} fs: the noise is taken from the fit's own "
                        f"residuals, so redchi ≈ 1 by construction and cannot judge the model; start the scan "
                        f"earlier or repeat the sweep")
        return NoiseModel(np.nan, np.nan, np.nan, "residuals", np.full(t.size, np.nan), 1, base, [], 0.0, 0.0,
                          warnings, basis, float("nan"))
    a = base**2 / max(float(basis[:, 0].mean()), 1e-300)
    dof = float(np.sum(t < before_fs) - 1)
    idx, squares = high_pass_squares(t, y, f_max_thz)
    if idx.size >= MIN_HIGH_PASS:
        b, c = _variance_fit(basis[idx, 1:], squares, known=a * basis[idx, 0])
        method = "high-pass"
        dof = min(dof, float(idx.size - 2))
    else:
        b = c = 0.0
        method = "baseline"
        warnings.append("one sweep sampled too coarsely to measure amplitude and timing noise: the noise is the "
                        "baseline's only, so redchi near the peak may exceed 1; repeat the sweep")
    var = basis @ np.array([a, b, c])
    return NoiseModel(float(np.sqrt(a)), float(np.sqrt(b)), float(np.sqrt(c)), method, np.sqrt(var), 1,
                      base, [], 0.0, 0.0, warnings, basis, dof)


MIN_SWEEP_POINTS = 6  # a sweep with fewer delays keeps its own scale and shift (too few to fit them)


def _from_sweeps(comp: Component, samp: Sampling, basis: np.ndarray, f_max_thz: float, base: float,
                 repeats: list | None, warnings: list) -> NoiseModel:
    """The ``repeats`` method: scatter between sweeps, each sweep's scale and shift taken out.

    Sweeps need not cover the same delays (an adaptive design measures each batch at
    its own): a delay measured n times contributes n − 1 degrees of freedom, each
    sweep's scale and shift are fitted on its own delays, and the per-sample variance
    is corrected for the 2(R − 1) degrees of freedom those fits take.
    """
    t, y, sweeps = comp.delay_fs, comp.value, comp.sweeps
    R = sweeps.shape[0]
    seen = np.isfinite(sweeps)
    n = seen.sum(axis=0)
    mu, slope = band_limited(samp, t, y, f_max_thz)
    design = np.column_stack([mu, -slope])
    resid = np.where(seen, sweeps - y, 0.0)  # deviation of each sweep from the mean
    fits = [seen[r].sum() >= MIN_SWEEP_POINTS for r in range(R)]
    removed = np.zeros_like(resid)
    for r in np.nonzero(fits)[0]:  # per-sweep (relative scale, shift)
        rows = seen[r]
        gs, _, _, _ = np.linalg.lstsq(design[rows], resid[r, rows], rcond=None)
        removed[r, rows] = design[rows] @ gs
    scatter = n >= 2
    dof_points = float(np.sum(n[scatter] - 1))
    dof_left = dof_points - 2.0 * max(int(np.sum(fits)) - 1, 0)
    correction = dof_points / dof_left if dof_left > 0 else 1.0
    squares = np.sum((resid - removed)[:, scatter] ** 2, axis=0) / (n[scatter] - 1) * correction
    a, b, c = _variance_fit(basis[scatter], squares, counts=n[scatter] - 1)
    var_sample = basis @ np.array([a, b, c])
    # each sweep's scale and shift again, weighted by the noise, and their spread from the noise alone
    g, s, var_g, var_s, which = [], [], [], [], []
    for r in np.nonzero(fits)[0]:
        rows = seen[r]
        normal = design[rows].T @ (design[rows] / var_sample[rows, None])
        if np.linalg.cond(normal) >= 1e12:
            continue
        cov = np.linalg.inv(normal)
        gr, sr = cov @ (design[rows].T @ (resid[r, rows] / var_sample[rows]))
        g.append(gr)
        s.append(sr)
        var_g.append(cov[0, 0])
        var_s.append(cov[1, 1])
        which.append(r)
    drift_g = drift_s = 0.0
    if len(g) >= 2:
        # drift enters only where the sweeps scatter more than their noise allows (95 %): a max(0, excess)
        # from a few sweeps would otherwise inflate every error; then the sweep scatter itself is the error
        limit = chdtri(len(g) - 1, 0.05) / (len(g) - 1)  # the 95 % point of χ²/dof
        drift_g = float(np.var(g, ddof=1)) if np.var(g, ddof=1) > limit * np.mean(var_g) else 0.0
        drift_s = float(np.var(s, ddof=1)) if np.var(s, ddof=1) > limit * np.mean(var_s) else 0.0
    labels = repeats if repeats is not None and len(repeats) == R else list(range(R))
    drift = [{"repeat": int(labels[r]), "amplitude": float(1 + gi), "shift_fs": float(si)}
             for r, gi, si in zip(which, g, s)]
    with np.errstate(divide="ignore"):
        sigma = np.sqrt(var_sample / np.maximum(n, 1))
    return NoiseModel(float(np.sqrt(a)), float(np.sqrt(b)), float(np.sqrt(c)), "repeats", sigma, R, base, drift,
                      drift_g / max(len(g), 1), drift_s / max(len(g), 1), warnings, basis, float(dof_left - 3))


def from_residuals(noise: NoiseModel, squares: np.ndarray) -> NoiseModel:
    """The last resort of a single sweep without baseline: the noise model fitted to a fit's squared residuals."""
    a, b, c = _variance_fit(noise.basis, squares)
    var = noise.basis @ np.array([a, b, c])
    return NoiseModel(float(np.sqrt(a)), float(np.sqrt(b)), float(np.sqrt(c)), "residuals", np.sqrt(var), 1,
                      noise.baseline_sigma, [], 0.0, 0.0, noise.warnings, noise.basis, float("nan"))
