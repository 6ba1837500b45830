"""One entry point for the offline CLI and the live callback: components → noise → fit → deconvolution.

:func:`analyze` takes long-format samples (delay, signal, condition columns,
sweep index) on any delay grid, forms the symmetry components, picks the one
that carries the physics of the sample (materials table), measures its noise
without any model (scatter between sweeps, or above the signal's band),
fits the forward model through the sampling operator with those weights,
puts the sweep-to-sweep drift into the amplitude and time-zero errors, and
deconvolves the component to E ∝ j_s with the causal support starting at
the fitted time zero. :meth:`AnalysisResult.to_dict` is the ``femtospin
analyze`` JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.fft import rfftfreq
from scipy.special import fdtrc

from ._deconvolution import (
    SLOW_WINDOW_FS,
    Deconvolution,
    Response,
    deconvolve,
    detector_operator,
    reach_back,
    sampled_operator,
)
from ._fits import FitResult, ForwardModel, fit_waveform, get_model, json_safe
from ._grid import Sampling, sampling
from ._materials import StackPhysics, stack_physics
from ._models import FWHM_TO_SIGMA
from ._noise import BASELINE_GAP_FS, NoiseModel, estimate_noise, from_residuals
from ._sweep import SweepFilter, correlated_error_factors, noise_correlation, with_sweep
from ._symmetry import Component, average_conditions, components

# which component carries the spin current without a sample to say, in order of preference (physics.md §3)
PREFERENCE = ("minus_angle", "odd_M", "odd_helicity", "mean")
MIN_DELAYS = 16
EOS_MODELS = ("spin-voltage", "sse", "spin-diffusion", "photo-spin", "exp-offset", "none")
SCALE_PARAMS = ("amplitude",)  # parameters a sweep's amplitude drift scales
BAND_REL = 1e-3  # the signal's band ends where h times the pump spectrum falls below this
SLOW_RECOVERY_MIN = 0.8
SLOW_LOSS_MAX = 0.03  # of the peak: a slow part lost beyond this is worth a warning
P_VALUE_MIN = 1e-3
DEFAULT_FWHM_FS = 40.0  # pump–probe resolution the model is convolved with unless given


@dataclass
class AnalysisResult:
    """Everything :func:`analyze` found.

    Attributes
    ----------
    delay_fs : ndarray
        Delays of the fitted component.
    components : dict of Component
        Every symmetry component the conditions allow.
    component : str
        The component that was fitted and deconvolved.
    fit : FitResult or None
        Forward-model fit (None for ``model="none"``).
    deconvolution : Deconvolution
        Recovered E ∝ j_s on the internal grid, its noise band, λ, resolution kernel.
    t0_fs : float
        Time zero: the fitted ``t0_fs``, or (``model="none"``) the half-rise time of E.
    noise : NoiseModel
        Noise and drift of the component.
    sample : StackPhysics or None
    warnings : list of str
        What the user must know before trusting a number.
    excluded : dict
        Rows left out and why (``{"overloaded": n}``).
    reference : dict or None
        Normalization by a reference (pump power): ``{"level": …}``.
    """

    delay_fs: np.ndarray
    components: dict[str, Component]
    component: str
    fit: FitResult | None
    deconvolution: Deconvolution
    t0_fs: float
    noise: NoiseModel
    sample: StackPhysics | None = None
    warnings: list = field(default_factory=list)
    excluded: dict = field(default_factory=dict)
    reference: dict | None = None
    sweep: dict | None = None

    @property
    def resolution_fs(self) -> float:
        return self.deconvolution.resolution_fs

    @property
    def spin_current(self) -> np.ndarray:
        return self.deconvolution.field

    def to_dict(self) -> dict:
        """The ``femtospin analyze`` JSON. Non-finite numbers are written as null."""
        d, noise = self.deconvolution, self.noise
        if self.fit is None:
            fit = {"model": "none", "redchi": None, "chi2": None, "dof": None, "p_value": None, "params": {}}
        else:
            fit = {**self.fit.to_dict(), "correlations": self.fit.correlations}
        return json_safe({
            "resolution_fs": d.resolution_fs,
            "t0_fs": self.t0_fs,
            "component": self.component,
            "sample": None if self.sample is None else {
                "stack": self.sample.stack, "model": self.sample.model, "component": self.sample.component,
                "fixed": self.sample.fixed},
            "fit": fit,
            "noise": noise.to_dict(),
            "drift": {"per_repeat": noise.drift,
                      "amplitude_rel_std_of_mean": np.sqrt(noise.drift_amplitude_var),
                      "shift_std_of_mean_fs": np.sqrt(noise.drift_shift_var_fs2)},
            "spin_current": {"delay_fs": d.delay_fs, "value": d.field, "stderr": d.stderr},
            "resolution_kernel": {"delay_fs": d.kernel_t_fs, "value": d.kernel, "probe_fs": d.probe_fs,
                                  "meaning": "spin_current(t) ≈ Σ_lag value(lag)·truth(t − lag), per grid sample"},
            "slow_recovery": d.slow_recovery,
            "components": {k: c.to_dict() for k, c in self.components.items()},
            "regularization": {"method": "roughness penalty, discrepancy principle, causal support",
                               "lambda": d.lam, "grid_step_fs": d.delay_fs[1] - d.delay_fs[0],
                               "support_fs": d.support_fs, "iterations": d.iterations},
            "warnings": self.warnings,
            "excluded": self.excluded,
            "reference": self.reference,
            "sweep": self.sweep,
        })


def response_for(n: int, dt_fs: float, *, detector: str | None = "gap250",
                 transfer: tuple[np.ndarray, np.ndarray] | None = None, probe_fwhm_fs: float = 20.0) -> Response:
    """Detector response on a grid: a measured ``transfer = (t_h, h)`` (resampled to the step) or the model."""
    if transfer is not None:
        return sampled_operator(transfer[0], transfer[1], n, dt_fs)
    if detector is None:
        raise ValueError("give a detector model or a measured transfer function")
    return detector_operator(detector, n, dt_fs, probe_fwhm_fs)


def signal_band_thz(op: Response, fwhm_fs: float) -> float:
    """Highest frequency (THz) at which h times the pump spectrum exceeds BAND_REL of its peak."""
    f = rfftfreq(op.nfft, op.dt_fs)  # 1/fs
    gain = np.exp(-0.5 * (2 * np.pi * f * fwhm_fs * FWHM_TO_SIGMA) ** 2) * np.abs(op.H)
    above = np.nonzero(gain >= BAND_REL * gain.max())[0]
    return float(f[above[-1]] * 1e3)


def precursor_fs(op: Response) -> float:
    """How far h reaches back in time (velocity mismatch), where |h| exceeds 1 % of its peak."""
    return reach_back(op.H, op.nfft, 1e-2) * op.dt_fs


def baseline_needed_fs(detector: str = "gap250", dt_fs: float = 5.0, probe_fwhm_fs: float = 20.0,
                       fwhm_fs: float = DEFAULT_FWHM_FS, sweeps: int = 1) -> float:
    """How far before time zero a THz delay grid must start for the analysis to run.

    The causal support starts 1.5 FWHM before time zero and needs a few samples
    before it. Two or more sweeps measure the noise from their scatter; a single
    sweep measures its additive noise on a baseline that ends before the
    detector's precursor (h reaches back in time by the velocity mismatch) and
    half the baseline gap, with at least 8 samples on it. The precursor is
    computed on a 5 fs grid (or ``dt_fs`` if finer): a property of the detector.
    """
    if sweeps >= 2:
        return float(1.5 * fwhm_fs + 4 * float(dt_fs))
    op = detector_operator(detector, 1024, min(float(dt_fs), 5.0), probe_fwhm_fs)
    return float(max(1.5 * fwhm_fs, precursor_fs(op) + 0.5 * BASELINE_GAP_FS) + 8 * float(dt_fs))


def half_rise_time(delay_fs: np.ndarray, field: np.ndarray) -> float:
    """First delay at which |E| reaches half its peak (linear interpolation)."""
    a = np.abs(field)
    k = int(np.argmax(a >= 0.5 * a.max()))
    if k == 0:
        return float(delay_fs[0])
    frac = (0.5 * a.max() - a[k - 1]) / (a[k] - a[k - 1])
    return float(delay_fs[k - 1] + frac * (delay_fs[k] - delay_fs[k - 1]))


def _clean_rows(delay_fs, signal, conditions, repeat, overload, reference, reference_level):
    """Rows to analyse: overloaded ones out, signal normalized to the reference; what was done."""
    d = np.asarray(delay_fs, float)
    s = np.asarray(signal, float)
    keep = np.ones(d.size, bool)
    excluded, warnings, ref_info = {}, [], None
    if overload is not None:
        ov = np.asarray(overload).astype(bool)
        if ov.shape != d.shape:
            raise ValueError(f"overload has {ov.size} values for {d.size} rows")
        if ov.any():
            excluded["overloaded"] = int(ov.sum())
            bad = np.unique(np.round(d[ov], 1))
            warnings.append(f"{int(ov.sum())} overloaded lock-in reading(s) left out of the fit (delays "
                            f"{', '.join(f'{x:g}' for x in bad[:5])}{' …' if bad.size > 5 else ''} fs): "
                            f"raise the sensitivity range")
            keep &= ~ov
    if reference is not None:
        ref = np.asarray(reference, float)
        if ref.shape != d.shape:
            raise ValueError(f"reference has {ref.size} values for {d.size} rows")
        if not np.all(np.isfinite(ref) & (ref > 0)):
            row = int(np.argmin(np.isfinite(ref) & (ref > 0)))
            raise ValueError(f"reference (pump power) must be finite and > 0; row {row + 1} has {ref[row]!r}")
        level = float(np.median(ref[keep])) if reference_level is None else float(reference_level)
        if not (np.isfinite(level) and level > 0):
            raise ValueError(f"reference level {level!r} must be finite and > 0")
        s = s * level / ref
        ref_info = {"level": level, "source": "median of the run" if reference_level is None else "given",
                    "relative_rms": float(np.std(ref[keep]) / np.mean(ref[keep]))}
    conds = {k: np.asarray(v)[keep] for k, v in (conditions or {}).items()}
    rep = None if repeat is None else np.asarray(repeat)[keep]
    return d[keep], s[keep], conds or None, rep, excluded, warnings, ref_info


def analyze(delay_fs: np.ndarray, signal: np.ndarray, conditions: dict[str, np.ndarray] | None = None, *,
            repeat: np.ndarray | None = None, overload: np.ndarray | None = None,
            reference: np.ndarray | None = None, reference_level: float | None = None,
            sample: str | None = None, detector: str | None = "gap250",
            transfer: tuple[np.ndarray, np.ndarray] | None = None, probe_fwhm_fs: float = 20.0,
            model: str | None = None, fix: dict[str, float] | None = None, fix_sources: dict[str, str] | None = None,
            free: tuple[str, ...] = (), component: str | None = None,
            noise_before_fs: float | None = None, support_margin_fs: float | None = None,
            lam: float | None = None, sweep: SweepFilter | dict | None = None) -> AnalysisResult:
    """Analyze one composite THz-emission measurement.

    Parameters
    ----------
    delay_fs, signal : ndarray
        Long format: one sample per row (sweeps and conditions in any order, any delay grid).
    conditions : dict, optional
        Condition columns (``magnetization``, ``angle_deg``, ``helicity``), one value per row.
    repeat : ndarray, optional
        Sweep index per row (sweeps are the unit of drift).
    overload : ndarray of bool, optional
        Rows the lock-in recorded as overloaded: left out, with a warning.
    reference : ndarray, optional
        Pump power per row: the signal is normalized to ``reference_level``
        (default the median), which removes laser-power drift.
    sample : str, optional
        Stack (``CoFeB(5)|Pt(3)``…): decides the model, the component and the
        literature values held fixed (materials table). Without it every model
        parameter but the resolution is fitted.
    detector : {"gap250", "znte1000"}, optional
        Detector model for h, used when ``transfer`` is not given.
    transfer : (t_h, h), optional
        Measured impulse response (any uniform step; resampled to the internal grid).
    probe_fwhm_fs : float, optional
        Probe duration for the detector model.
    model : str, optional
        ``spin-voltage``, ``sse``, ``exp-offset`` or ``none`` (deconvolution
        only); default the sample's, else ``spin-voltage``.
    fix : dict, optional
        ``{param: value}`` held fixed (overrides the sample's values).
    fix_sources : dict, optional
        Where a ``fix`` value came from (default ``"--fix"``), as the output reports it.
    free : sequence of str, optional
        Parameters the sample would hold fixed that are fitted instead.
    component : str, optional
        Component to fit and deconvolve; default the sample's, else the first
        available of ``minus_angle``, ``odd_M``, ``odd_helicity``, ``mean``.
    noise_before_fs : float, optional
        The baseline ends here (default 400 fs before the component's peak).
    support_margin_fs : float, optional
        E is constrained to zero before t0 − margin; default 1.5 × the resolution FWHM.
    lam : float, optional
        Fixed regularization strength instead of the discrepancy principle.
    sweep : SweepFilter or dict, optional
        Fly scans: the lock-in filter along the sweep (and the binning) as a kernel
        in delay; the fit's forward model and the deconvolution include it, so the
        resolution kernel states its effect. The filter also correlates the noise of
        neighbouring bins: the fitted parameters' errors are scaled by √ of its
        low-frequency excess (:func:`low_frequency_excess`), reported under ``sweep``.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    ValueError
        For NaNs, unknown conditions/models/parameters/stacks, a missing
        component, too few delays, or no way to measure the noise.
    """
    physics = stack_physics(sample) if sample else None
    model = model or (physics.model if physics else "spin-voltage")
    if model not in EOS_MODELS:
        raise ValueError(f"unknown model {model!r} for a THz waveform; known: {', '.join(EOS_MODELS)}")
    d, s, conds, rep, excluded, warnings, ref_info = _clean_rows(delay_fs, signal, conditions, repeat, overload,
                                                                  reference, reference_level)
    if d.size == 0:
        raise ValueError("no rows left to analyse")
    avg = average_conditions(d, s, conds, rep)
    comps = components(avg, require=(component,) if component else ())
    wanted = component or (physics.component if physics else None)
    if wanted is not None and wanted not in comps:
        fallback = next(c for c in PREFERENCE if c in comps)
        warnings.append(f"sample {physics.stack}: its physics is in {wanted}, which needs the 0°/180° pair; "
                        f"fitted {fallback} instead, which also holds the parts that do not reverse "
                        f"({'the spurious dipole, as large as dM/dt' if wanted == 'plus_angle' else 'dM/dt, ≈ 1 %'})")
        wanted = fallback
    name = wanted or next(c for c in PREFERENCE if c in comps)
    if physics is None and component is None and name == "minus_angle":
        warnings.append("no sample stack the materials table knows: fitted S− (j_s of an F|N stack) with every "
                        "model parameter free; a single ferromagnet is read through S+")
    comp = comps[name]
    t = comp.delay_fs
    if t.size < MIN_DELAYS:
        raise ValueError(f"need at least {MIN_DELAYS} distinct delays in component {name!r}, have {t.size}")
    fix_all, sources = {}, {}
    fixed_by_sample = (physics.fixed if physics is not None and model == physics.model else
                       physics.photo["fixed"] if physics is not None and physics.photo and model == "photo-spin"
                       else None)
    if fixed_by_sample is not None:
        held = {k: v for k, v in fixed_by_sample.items() if k not in free}
        fix_all.update(held)
        sources.update(dict.fromkeys(held, physics.source))
    for k, v in (fix or {}).items():
        fix_all[k], sources[k] = float(v), (fix_sources or {}).get(k, "--fix")
    fwhm = float(fix_all.get("resolution_fwhm_fs", DEFAULT_FWHM_FS))
    if model != "none" and "resolution_fwhm_fs" not in fix_all and "resolution_fwhm_fs" in get_model(model).params:
        fix_all["resolution_fwhm_fs"], sources["resolution_fwhm_fs"] = fwhm, "default: pump–probe resolution"
    # the grid resolves the shortest duration in the forward model, however coarse the delays
    samp = sampling(t, resolve_fs=min(fwhm, probe_fwhm_fs))
    op = response_for(samp.n, samp.dt_fs, detector=detector, transfer=transfer, probe_fwhm_fs=probe_fwhm_fs)
    sweep = SweepFilter(**sweep) if isinstance(sweep, dict) else sweep
    op = with_sweep(op, sweep)
    before = noise_before_fs if noise_before_fs is not None else \
        float(t[np.argmax(np.abs(comp.value))]) - precursor_fs(op) - 0.5 * BASELINE_GAP_FS
    noise = estimate_noise(comp, avg, samp, f_max_thz=signal_band_thz(op, fwhm), before_fs=before,
                           repeats=np.unique(rep).tolist() if rep is not None else None)
    warnings.extend(noise.warnings)
    if reference is None and model != "none":
        warnings.append("no pump-power reference: laser drift slower than the run is not in the amplitude error")
    fit = None
    probe = None
    if model != "none":
        if noise.method == "residuals":
            first = fit_waveform(samp, comp.value, model, response=op, sigma=np.std(comp.value), fix=fix_all,
                                 sources=sources)
            noise = from_residuals(noise, (comp.value - first.best_fit) ** 2)
        fit = fit_waveform(samp, comp.value, model, response=op, sigma=noise.sigma, fix=fix_all, sources=sources)
        fit.p_value = _p_value(fit, noise)
        if sweep is not None:
            _widen_for_correlated_noise(fit, ForwardModel(samp, get_model(model), op), sweep,
                                        float(np.median(np.diff(t))))
        _add_drift(fit, noise)
        t0 = fit.value("t0_fs")
        shape = get_model(model).shape
        src = shape(samp.grid - t0, {k: v["value"] for k, v in fit.params.items()})
        probe = float(samp.grid[int(np.argmax(np.abs(src)))])
        if fit.p_value < P_VALUE_MIN and noise.method == "baseline":
            warnings.append(f"redchi {fit.redchi:.2f} against the baseline noise alone: amplitude and timing noise "
                            f"or a wrong model — repeat the sweep to tell them apart")
        elif fit.p_value < P_VALUE_MIN:
            warnings.append(f"the {model} model does not describe the data: redchi {fit.redchi:.2f} "
                            f"(p = {fit.p_value:.1e}); its parameters and errors are not to be trusted")
        at_bound = [k for k, v in fit.params.items() if v["vary"] and _at_bound(model, k, v["value"])]
        if at_bound:
            warnings.append(f"parameter(s) {', '.join(at_bound)} at the edge of their allowed range")
    else:
        grid_s = np.interp(samp.grid, t, comp.value)
        t0 = half_rise_time(samp.grid, deconvolve(samp.grid, grid_s, op, sigma=np.interp(samp.grid, t, noise.sigma),
                                                  lam=lam).field)
    margin = 1.5 * fwhm if support_margin_fs is None else support_margin_fs
    support = max(t0 - margin, float(samp.grid[0]))
    if t0 - margin < samp.grid[0]:
        warnings.append(f"the record starts {t0 - samp.grid[0]:.0f} fs before time zero: too short a baseline to "
                        f"constrain the deconvolution; start the scan earlier")
    dec = deconvolve(t, comp.value, op, sigma=noise.sigma, support_fs=support, lam=lam, sampling=samp,
                     probe_fs=probe)
    lost = _slow_part_lost(dec, fit, samp, model)
    if lost is not None:
        warnings.append(f"the deconvolved j_s keeps only {dec.slow_recovery:.0%} of a slow component (offset, long "
                        f"tail) 1–2 ps after it starts{lost}: read slow parts from the fit, not from j_s")
    sweep_info = None if sweep is None else {
        **sweep.to_dict(), "mean_lag_fs": sweep.mean_lag_fs, "rms_fs": sweep.rms_fs,
        "noise_correlation": noise_correlation(sweep, float(np.median(np.diff(t))), 4).tolist(),
        "error_factors": {k: v.get("correlation_factor") for k, v in (fit.params if fit else {}).items()
                          if v.get("correlation_factor") is not None}}
    return AnalysisResult(t, comps, name, fit, dec, float(t0), noise, physics, warnings, excluded, ref_info,
                          sweep_info)


def _slow_part_lost(dec: Deconvolution, fit: FitResult | None, samp: Sampling, model: str) -> str | None:
    """Why the slow part of j_s is not to be read off the curve, or None where it does not matter.

    With a fit, it matters when the model's own level 1–2 ps after the probe, times the part of it
    the estimator loses, exceeds SLOW_LOSS_MAX of the peak; without one, whenever much is lost.
    """
    r = dec.slow_recovery
    if not np.isfinite(r) or r >= SLOW_RECOVERY_MIN:
        return None
    if fit is None:
        return ""
    p = {k: v["value"] for k, v in fit.params.items()}
    t = dec.probe_fs + np.linspace(*SLOW_WINDOW_FS, 50)
    src = get_model(model).shape(np.concatenate([samp.grid, t]) - p["t0_fs"], p)
    level = float(np.mean(src[samp.n:])) / float(np.max(np.abs(src[: samp.n])))
    loss = abs(level) * (1.0 - r)
    if loss < SLOW_LOSS_MAX:
        return None
    return f", so its level there is low by ≈ {loss:.0%} of the peak"


def _p_value(fit: FitResult, noise: NoiseModel) -> float:
    """Probability of a redchi this large if the model were right, given how well the noise is known.

    The noise level is itself measured (with ``noise.dof`` degrees of freedom), so redchi
    follows F(dof, noise dof), not χ²/dof; from the fit's own residuals it judges nothing.
    """
    if not np.isfinite(noise.dof):
        return float("nan") if np.isnan(noise.dof) else fit.p_value
    return float(fdtrc(fit.dof, max(noise.dof, 1.0), fit.redchi))


def _at_bound(model: str, name: str, value: float) -> bool:
    spec = get_model(model).params[name]
    span = spec.max - spec.min
    tol = 1e-3 * span if np.isfinite(span) else 0.0
    return (np.isfinite(spec.min) and value - spec.min <= tol) or (np.isfinite(spec.max) and spec.max - value <= tol)


def _widen_for_correlated_noise(fit: FitResult, fwd: ForwardModel, sweep: SweepFilter, step_fs: float) -> None:
    """Fly scans: neighbouring bins share the filter's noise; each varied parameter's error becomes the sandwich one."""
    names = [k for k, v in fit.params.items() if v["vary"]]
    if not names:
        return
    p = {k: v["value"] for k, v in fit.params.items()}
    columns = []
    for name in names:
        h = max(1e-4 * abs(p[name]), 1e-3 * (fit.params[name]["stderr"] or 0.0), 1e-9)
        up, down = fwd({**p, name: p[name] + h}), fwd({**p, name: p[name] - h})
        columns.append((up - down) / (2 * h) / fit.sigma)
    factors = correlated_error_factors(np.column_stack(columns), noise_correlation(sweep, step_fs))
    for name, factor in zip(names, factors):
        if np.isfinite(factor):
            fit.params[name]["stderr"] *= float(factor)
            fit.params[name]["correlation_factor"] = float(factor)


def _add_drift(fit: FitResult, noise: NoiseModel) -> None:
    """Where the sweeps drift beyond their noise, their scatter is the amplitude and time-zero error."""
    for name, p in fit.params.items():
        if not p["vary"]:
            continue
        if name in SCALE_PARAMS:
            p["stderr"] = float(max(p["stderr"], abs(p["value"]) * np.sqrt(noise.drift_amplitude_var)))
        elif name == "t0_fs":
            p["stderr"] = float(max(p["stderr"], np.sqrt(noise.drift_shift_var_fs2)))


__all__ = ["AnalysisResult", "Sampling", "analyze", "baseline_needed_fs", "response_for"]
