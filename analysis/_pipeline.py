"""One entry point for the offline CLI and the live callback: components → fit → deconvolution.

:func:`analyze` takes long-format samples (delay, signal, condition columns),
forms the symmetry components, picks the one that carries the spin current,
fits the forward model to it (parameters independent of the regularization),
and deconvolves it to E ∝ j_s with the causal support starting at the fitted
time zero. :meth:`AnalysisResult.to_dict` is the ``femtospin analyze`` JSON of
design.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._deconvolution import (
    Deconvolution,
    Response,
    deconvolve,
    detector_operator,
    sampled_operator,
)
from ._fits import FitResult, fit_waveform
from ._symmetry import Component, ConditionAverages, average_conditions, components
from ._transfer import check_uniform

# which component carries the spin current, in order of preference (physics.md §3)
PREFERENCE = ("minus_angle", "odd_M", "odd_helicity", "mean")
NOISE_GAP_FS = 400.0  # the noise is measured this far before the signal's peak (h's precursor and the rise)
MIN_NOISE_SAMPLES = 8
EOS_MODELS = ("spin-voltage", "sse", "exp-offset", "none")


def _clean(x):
    """JSON-safe float: NaN and ±inf become None."""
    x = float(x)
    return x if np.isfinite(x) else None


@dataclass
class AnalysisResult:
    """Everything :func:`analyze` found.

    Attributes
    ----------
    delay_fs : ndarray
        Common delay grid.
    components : dict of Component
        Every symmetry component the conditions allow.
    component : str
        The component that was fitted and deconvolved.
    fit : FitResult or None
        Forward-model fit (None for ``model="none"``).
    deconvolution : Deconvolution
        Recovered E ∝ j_s, λ, resolution kernel.
    t0_fs : float
        Time zero: the fitted ``t0_fs``, or (``model="none"``) the half-rise time of E.
    noise_sigma : float
        Noise level of the component measured before the signal.
    """

    delay_fs: np.ndarray
    components: dict[str, Component]
    component: str
    fit: FitResult | None
    deconvolution: Deconvolution
    t0_fs: float
    noise_sigma: float

    @property
    def resolution_fs(self) -> float:
        return self.deconvolution.resolution_fs

    @property
    def spin_current(self) -> np.ndarray:
        return self.deconvolution.field

    def to_dict(self) -> dict:
        """The ``femtospin analyze`` JSON (design.md), plus ``component``, ``regularization``
        and ``resolution_kernel``. Non-finite numbers are written as null."""
        d = self.deconvolution
        if self.fit is None:
            fit = {"model": "none", "redchi": None, "params": {}}
        else:
            fit = {"model": self.fit.model, "redchi": _clean(self.fit.redchi),
                   "params": {k: {"value": _clean(v["value"]), "stderr": _clean(v["stderr"]), "vary": v["vary"]}
                              for k, v in self.fit.params.items()}}
        return {
            "resolution_fs": _clean(d.resolution_fs),
            "t0_fs": _clean(self.t0_fs),
            "fit": fit,
            "spin_current": {"delay_fs": self.delay_fs.tolist(), "value": d.field.tolist()},
            "components": {k: c.to_dict() for k, c in self.components.items()},
            "component": self.component,
            "resolution_kernel": {"delay_fs": d.kernel_t_fs.tolist(), "value": d.kernel.tolist()},
            "regularization": {"method": "tikhonov, discrepancy principle, causal support",
                               "lambda": _clean(d.lam), "noise_sigma": _clean(self.noise_sigma),
                               "support_fs": _clean(d.support_fs) if d.support_fs is not None else None,
                               "iterations": d.iterations},
        }


def noise_level(delay_fs: np.ndarray, value: np.ndarray, before_fs: float | None = None) -> float:
    """Standard deviation of a waveform before its signal.

    Parameters
    ----------
    delay_fs, value : ndarray
    before_fs : float, optional
        Use samples before this delay; default 400 fs before the largest |value|.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        With fewer than 8 samples in that range.
    """
    if before_fs is None:
        before_fs = float(delay_fs[np.argmax(np.abs(value))]) - NOISE_GAP_FS
    pre = value[delay_fs < before_fs]
    if pre.size < MIN_NOISE_SAMPLES:
        raise ValueError(f"need at least {MIN_NOISE_SAMPLES} samples before {before_fs:g} fs to measure the "
                         f"noise level, have {pre.size}; start the scan earlier")
    sigma = float(np.std(pre, ddof=1))
    if not sigma > 0:
        raise ValueError(f"the signal before {before_fs:g} fs is constant: cannot measure the noise level")
    return sigma


def response_for(n: int, dt_fs: float, *, detector: str | None = "gap250",
                 transfer: tuple[np.ndarray, np.ndarray] | None = None, probe_fwhm_fs: float = 20.0) -> Response:
    """Detector response on a grid: a measured ``transfer = (t_h, h)`` if given, else the detector model."""
    if transfer is not None:
        return sampled_operator(transfer[0], transfer[1], n, dt_fs)
    if detector is None:
        raise ValueError("give a detector model or a measured transfer function")
    return detector_operator(detector, n, dt_fs, probe_fwhm_fs)


def half_rise_time(delay_fs: np.ndarray, field: np.ndarray) -> float:
    """First delay at which |E| reaches half its peak (linear interpolation)."""
    a = np.abs(field)
    k = int(np.argmax(a >= 0.5 * a.max()))
    if k == 0:
        return float(delay_fs[0])
    frac = (0.5 * a.max() - a[k - 1]) / (a[k] - a[k - 1])
    return float(delay_fs[k - 1] + frac * (delay_fs[k] - delay_fs[k - 1]))


def analyze(delay_fs: np.ndarray, signal: np.ndarray, conditions: dict[str, np.ndarray] | None = None, *,
            detector: str | None = "gap250", transfer: tuple[np.ndarray, np.ndarray] | None = None,
            probe_fwhm_fs: float = 20.0, model: str = "spin-voltage", fix: dict[str, float] | None = None,
            component: str | None = None, noise_before_fs: float | None = None,
            support_margin_fs: float | None = None, lam: float | None = None) -> AnalysisResult:
    """Analyze one composite THz-emission measurement.

    Parameters
    ----------
    delay_fs, signal : ndarray
        Long format: one sample per row (repeats and conditions interleaved in any order).
    conditions : dict, optional
        Condition columns (``magnetization``, ``angle_deg``, ``helicity``), one value per row.
    detector : {"gap250", "znte1000"}, optional
        Detector model for h, used when ``transfer`` is not given.
    transfer : (t_h, h), optional
        Measured impulse response on the data's step (``load_transfer``).
    probe_fwhm_fs : float, optional
        Probe duration for the detector model.
    model : str, optional
        ``spin-voltage`` (default), ``sse``, ``exp-offset`` or ``none`` (deconvolution only).
    fix : dict, optional
        ``{param: value}`` fixed in the fit (overrides defaults such as ``tau_ep_fs``).
    component : str, optional
        Component to fit and deconvolve; default the first available of
        ``minus_angle``, ``odd_M``, ``odd_helicity``, ``mean``. An explicit
        component that the conditions cannot form raises ValueError.
    noise_before_fs : float, optional
        The noise is measured before this delay (default 400 fs before the peak).
    support_margin_fs : float, optional
        E is constrained to zero before t0 − margin; default 1.5 × the
        resolution FWHM of the model (60 fs).
    lam : float, optional
        Fixed regularization strength instead of the discrepancy principle.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    ValueError
        For NaNs, non-uniform delays, unknown conditions/models/parameters, a
        transfer function on another step, a missing component, too short a baseline.
    """
    if model not in EOS_MODELS:
        raise ValueError(f"unknown model {model!r} for a THz waveform; known: {', '.join(EOS_MODELS)}")
    avg: ConditionAverages = average_conditions(delay_fs, signal, conditions)
    t = avg.delay_fs
    if t.size < 16:
        raise ValueError(f"need at least 16 distinct delays, have {t.size}")
    dt = check_uniform(t, what="delay_fs")
    comps = components(avg, require=(component,) if component else ())
    name = component or next(c for c in PREFERENCE if c in comps)
    comp = comps[name]
    before = noise_before_fs if noise_before_fs is not None else float(t[np.argmax(np.abs(comp.value))]) - NOISE_GAP_FS
    sigma = noise_level(t, comp.value, before)
    for c in comps.values():  # single samples: the stderr is the noise measured before the signal
        if not np.all(np.isfinite(c.stderr)):
            c.stderr = np.full(t.size, noise_level(t, c.value, before))
    op = response_for(t.size, dt, detector=detector, transfer=transfer, probe_fwhm_fs=probe_fwhm_fs)
    fit = None
    fwhm = 40.0
    if model != "none":
        variances = comp.stderr**2 if avg.has_repeats else None
        fit = fit_waveform(t, comp.value, model, response=op, sigma=sigma, variances=variances, fix=fix)
        t0 = fit.value("t0_fs")
        fwhm = fit.value("resolution_fwhm_fs")
        noise = fit.sigma
    else:
        noise = sigma
        t0 = half_rise_time(t, deconvolve(t, comp.value, op, sigma=sigma, lam=lam).field)
    margin = 1.5 * fwhm if support_margin_fs is None else support_margin_fs
    dec = deconvolve(t, comp.value, op, sigma=noise, support_fs=t0 - margin, lam=lam)
    return AnalysisResult(t, comps, name, fit, dec, float(t0), sigma)
