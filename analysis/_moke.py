"""TR-MOKE analysis (physics.md §4d–e): static Kerr normalization, −ΔM/M fits, spin accumulation.

Input is long format, as for THz emission: one row per reading with its delay,
the lock-in signal and the conditions ``kerr`` (rotation/ellipticity, the probe
quarter-wave plate), ``state`` (P/AP spin-valve states), ``magnetization`` (±1)
and ``repeat`` (the sweep). Per (kerr, state) the analysis forms a waveform —
odd in M where both signs were measured (magnetic), the M-even part besides
(transient reflectance leaking through the detector's imbalance) — measures its
noise without any model (scatter between sweeps, or the baseline before time
zero) and normalizes it by the static Kerr signal of that quantity.

The static Kerr signal is measured with the pump blocked: the balanced
detector's DC difference at ±M saturation, calibrated in mrad by turning the
analyser half-wave plate by a known angle (:func:`static_kerr_from_readings`).
Its error enters every normalized number; for the spin accumulation
Δμ_s = Δθ̄ − Δε̄ (free = (P + AP)/2, ref = (P − AP)/2) it is propagated with its
correlation and reported separately (``stderr_static``), because a 2 % error in
it moves Δμ_s by far more than 2 %: Δθ̄ and Δε̄ are each ≈ 10× larger than
their difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np
from scipy.optimize import nnls
from scipy.special import fdtrc

from ._fits import MODELS, FitResult, ParamSpec, fit_waveform, json_safe
from ._pipeline import DEFAULT_FWHM_FS, MIN_DELAYS
from ._series import StaticKerr, spin_accumulation_pap
from ._symmetry import delay_points

KERR = ("rotation", "ellipticity")
STATES = ("P", "AP")
MOKE_MODELS = ("three-temperature", "exp-offset", "none")
MIN_BASELINE = 8
BASELINE_GAP_FS = 150.0  # the baseline ends this far before the signal's onset
P_VALUE_MIN = 1e-3
SNR_MIN = 5.0  # a waveform whose peak is below this many σ of its noise is noise, not a signal


# ------------------------------------------------------------------ static Kerr signal
@dataclass(frozen=True)
class StaticSignal:
    """The static Kerr signal of one quantity, as the normalization uses it.

    Attributes
    ----------
    value_V, stderr_V : float
        In lock-in volts (what the pump-induced signal is divided by): the DC
        half-difference between ±M times the chop factor.
    mrad, mrad_stderr : float
        The static Kerr angle, through the analyser calibration (NaN if typed in).
    V_per_mrad : float
        DC volts per mrad of probe rotation (NaN if typed in).
    source : str
        ``measured`` (with the pump blocked, this run) or ``typed in``.
    phases : list of dict
        ``{"phase", "value_V", "stderr_V"}`` per measurement (start, end).
    """

    value_V: float
    stderr_V: float
    mrad: float = float("nan")
    mrad_stderr: float = float("nan")
    V_per_mrad: float = float("nan")
    source: str = "measured"
    phases: tuple = ()

    def to_dict(self) -> dict:
        return {"value_V": self.value_V, "stderr_V": self.stderr_V, "mrad": self.mrad,
                "mrad_stderr": self.mrad_stderr, "V_per_mrad": self.V_per_mrad, "source": self.source,
                "phases": list(self.phases)}


def _mean_sem(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, float)
    if x.size < 2:
        raise ValueError(f"need at least 2 readings per setting for an error, got {x.size}")
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def static_kerr_from_readings(kerr, magnetization, offset_deg, dc_V, *, phase=None, reference=None,
                              reference_level: float | None = None,
                              chop_factor: float) -> dict[str, StaticSignal]:
    """Static Kerr signals from the DC readings of a static-Kerr measurement.

    Parameters
    ----------
    kerr : array of str
        ``rotation`` or ``ellipticity`` per reading.
    magnetization : array of ±1
        Saturated state of each reading (measured at zero field).
    offset_deg : array of float
        Analyser half-wave-plate offset from its working angle; the probe turns by twice it.
        The calibration readings are those at ±δ (at +M); the static ones at 0.
    dc_V : array of float
        The balanced detector's DC difference (lock-in AUX input).
    phase : array of str, optional
        Which measurement a reading belongs to (``start``/``end``); each is evaluated alone.
    reference, reference_level : optional
        Pump power per reading and its nominal level: the DC level follows the laser as
        the pump-induced signal does, so it is normalized the same way.
    chop_factor : float
        Lock-in X per volt of a pump-chopped change of the DC difference.

    Returns
    -------
    dict
        ``{quantity: StaticSignal}``; with several phases the value is their mean, and
        their scatter (the normalization drifting during the run) enters the error.
    """
    kerr = np.asarray(kerr, dtype=object)
    m = np.asarray(magnetization, float)
    off = np.asarray(offset_deg, float)
    v = np.asarray(dc_V, float).copy()
    if not (np.isfinite(chop_factor) and chop_factor > 0):
        raise ValueError(f"chop_factor {chop_factor!r} must be finite and > 0")
    if reference is not None:
        ref = np.asarray(reference, float)
        if not np.all(np.isfinite(ref) & (ref > 0)):
            raise ValueError("static Kerr readings: the pump power must be finite and > 0")
        level = float(np.median(ref)) if reference_level is None else float(reference_level)
        v = v * level / ref
    ph = np.asarray(phase, dtype=object) if phase is not None else np.full(v.size, "start", dtype=object)
    out = {}
    for q in dict.fromkeys(kerr.tolist()):
        if q not in KERR:
            raise ValueError(f"static Kerr readings: kerr {q!r} is not one of {KERR}")
        per_phase = []
        for p in dict.fromkeys(ph[kerr == q].tolist()):
            sel = (kerr == q) & (ph == p)
            plus, e_plus = _mean_sem(v[sel & (m > 0) & (off == 0)])
            minus, e_minus = _mean_sem(v[sel & (m < 0) & (off == 0)])
            cal = sel & (m > 0) & (off != 0)
            if np.unique(off[cal]).size < 2:
                raise ValueError(f"static Kerr {q} ({p}): the calibration needs readings at two analyser offsets")
            # the probe turns by 2δ: slope of DC against 2δ in mrad
            x = 2e3 * np.radians(off[cal])
            slope, intercept = np.polyfit(x, v[cal], 1)
            resid = v[cal] - (slope * x + intercept)
            slope_err = np.sqrt(np.sum(resid**2) / max(x.size - 2, 1) / np.sum((x - x.mean()) ** 2))
            half = 0.5 * (plus - minus)
            half_err = 0.5 * np.hypot(e_plus, e_minus)
            per_phase.append({"phase": p, "dc_V": half, "dc_stderr_V": half_err, "V_per_mrad": float(slope),
                              "V_per_mrad_stderr": float(slope_err)})
        dc = np.array([r["dc_V"] for r in per_phase])
        dc_err = np.array([r["dc_stderr_V"] for r in per_phase])
        value = float(dc.mean())
        stat = float(np.sqrt(np.sum(dc_err**2)) / dc.size)
        drift = float(dc.std(ddof=1) / np.sqrt(dc.size)) if dc.size > 1 else 0.0
        err = float(np.hypot(stat, drift))
        if value == 0 or not np.isfinite(value):
            raise ValueError(f"static Kerr {q}: the ±M readings do not differ; is the sample magnetic?")
        if abs(value) < SNR_MIN * err:
            raise ValueError(f"static Kerr {q}: {value:.3g} ± {err:.2g} V is not distinguishable from zero "
                             f"(saturation too low, or the probe misses the sample)")
        slopes = np.array([r["V_per_mrad"] for r in per_phase])
        slope = float(slopes.mean())
        slope_err = float(np.sqrt(np.sum(np.array([r["V_per_mrad_stderr"] for r in per_phase]) ** 2)) / slopes.size)
        mrad = value / slope
        mrad_err = abs(mrad) * float(np.hypot(err / value, slope_err / slope))
        phases = tuple({"phase": r["phase"], "value_V": chop_factor * r["dc_V"],
                        "stderr_V": chop_factor * r["dc_stderr_V"]} for r in per_phase)
        out[q] = StaticSignal(chop_factor * value, chop_factor * err, float(mrad), float(mrad_err), slope,
                              "measured", phases)
    return out


def typed_static(values: dict) -> dict[str, StaticSignal]:
    """Static signals a user typed in: ``{quantity: V}`` or ``{quantity: (V, stderr)}``, marked ``typed in``."""
    out = {}
    for q, given in values.items():
        if q not in KERR:
            raise ValueError(f"static Kerr: {q!r} is not one of {KERR}")
        value, err = (given, 0.0) if np.isscalar(given) else given
        value, err = float(value), float(err)
        if not (np.isfinite(value) and value != 0 and np.isfinite(err) and err >= 0):
            raise ValueError(f"static Kerr {q}: {value} ± {err} V; the value must be finite and non-zero, "
                             f"its error finite and ≥ 0")
        out[q] = StaticSignal(value, err, source="typed in")
    return out


# ------------------------------------------------------------------ waveforms and their noise
@dataclass
class MokeWaveform:
    """One (kerr, state) waveform: mean over sweeps, its standard error and how the noise was measured.

    ``value``/``stderr`` are normalized by the static Kerr signal when ``normalized``
    (Δθ̄, Δε̄, dimensionless), else in lock-in volts.
    """

    kerr: str
    state: str
    part: str  # "odd_M", "even_M" or "raw"
    delay_fs: np.ndarray
    value: np.ndarray
    stderr: np.ndarray
    n_sweeps: int
    noise_method: str
    noise_dof: float
    normalized: bool = False

    @property
    def name(self) -> str:
        return "/".join(x for x in (self.kerr, self.state, self.part if self.part == "even_M" else "") if x)

    def to_dict(self) -> dict:
        return {"delay_fs": self.delay_fs, "value": self.value, "stderr": self.stderr, "kerr": self.kerr,
                "state": self.state, "part": self.part, "n_sweeps": self.n_sweeps, "noise_method": self.noise_method,
                "normalized": self.normalized}


def _sweeps(point: np.ndarray, repeat: np.ndarray | None, n_points: int, values: np.ndarray) -> np.ndarray:
    """Readings arranged as (sweep, point): the repeat index, or the order a point recurs in."""
    if repeat is None:
        rank = np.zeros(point.size, int)
        seen: dict[int, int] = {}
        for i, p in enumerate(point):
            rank[i] = seen.get(p, 0)
            seen[p] = rank[i] + 1
    else:
        rank = np.unique(np.asarray(repeat), return_inverse=True)[1].reshape(-1)
    out = np.full((int(rank.max()) + 1, n_points), np.nan)
    out[rank, point] = values
    return out


def noise_from_sweeps(sweeps: np.ndarray, delay_fs: np.ndarray, raw_means: list | None = None
                      ) -> tuple[np.ndarray, float]:
    """Per-point σ of one sweep from the scatter between sweeps, smoothed by the noise model of §5.

    σ_k² = a² + b²·Σμ_k² + c²·Σ(dμ/dt)_k² is fitted (non-negative) to the sample
    variances, so one point's two sweeps do not set its weight alone. The μ are
    the mean waveforms of the readings the part is formed from (``raw_means``;
    default the part itself): the M-even part of a ±M pair carries the amplitude
    and timing noise of the much larger magnetic signal.

    Returns
    -------
    sigma : ndarray
        Noise of one sweep at each point.
    dof : float
        Degrees of freedom of the noise estimate.
    """
    n = np.sum(np.isfinite(sweeps), axis=0)
    ok = n >= 2
    mu = np.nanmean(sweeps, axis=0)
    raw = [np.asarray(r, float) for r in raw_means] if raw_means is not None else [mu]
    var = np.array([np.var(sweeps[np.isfinite(sweeps[:, k]), k], ddof=1) if ok[k] else np.nan
                    for k in range(sweeps.shape[1])])
    slopes = [np.gradient(r, delay_fs) if delay_fs.size > 1 else np.zeros_like(r) for r in raw]
    level = sum(r**2 for r in raw)
    basis = np.column_stack([np.ones_like(mu), level, sum(g**2 for g in slopes)])
    # The additive floor is pinned by the points without signal (a free fit of three terms to variances of
    # two sweeps can drop it, and a baseline weighted with σ ≈ 0 wrecks the fit); the rest is fitted above it.
    quiet = ok & (np.sqrt(level) < 0.05 * np.sqrt(level.max()))
    floor = float(np.mean(var[quiet])) if quiet.sum() >= MIN_BASELINE else 0.0
    scale = np.maximum(np.abs(basis[ok, 1:]).max(axis=0), 1e-300)
    coef, _ = nnls(basis[ok, 1:] / scale, var[ok] - floor)
    model = floor + basis[:, 1:] @ (coef / scale)
    if floor == 0.0:
        coef3, _ = nnls(basis[ok] / np.maximum(np.abs(basis[ok]).max(axis=0), 1e-300), var[ok])
        model = basis @ (coef3 / np.maximum(np.abs(basis[ok]).max(axis=0), 1e-300))
    if not np.all(model > 0):  # nothing but a flat estimate is left: the pooled variance
        model = np.full_like(mu, np.nanmean(var[ok]))
    return np.sqrt(model), float(np.sum(n[ok] - 1) - 3)


def noise_from_baseline(delay_fs: np.ndarray, value: np.ndarray) -> tuple[float, int] | None:
    """σ of the points well before the signal's onset (additive noise only), or None with too few of them."""
    peak = np.max(np.abs(value))
    onset = delay_fs[np.argmax(np.abs(value) > 0.2 * peak)]
    base = value[delay_fs < onset - BASELINE_GAP_FS]
    if base.size < MIN_BASELINE:
        return None
    return float(np.std(base, ddof=1)), int(base.size - 1)


def _waveform(kerr: str, state: str, part: str, centres: np.ndarray, sweeps: np.ndarray,
              raw: list | None = None) -> MokeWaveform:
    """Mean, standard error and noise of one set of sweeps on the points ``centres``."""
    keep = np.all(np.isfinite(sweeps), axis=0) if sweeps.shape[0] > 1 else np.isfinite(sweeps[0])
    if sweeps.shape[0] > 1 and keep.sum() < MIN_DELAYS:  # a sweep in progress: use the complete ones
        full = np.isfinite(sweeps).all(axis=1)
        sweeps = sweeps[full] if full.any() else sweeps[:1]
        keep = np.all(np.isfinite(sweeps), axis=0)
    t, sw = centres[keep], sweeps[:, keep]
    raw = None if raw is None else [r[keep] for r in raw]
    if t.size < MIN_DELAYS:
        raise ValueError(f"{kerr} {state}: need at least {MIN_DELAYS} delays measured in every sweep, have {t.size}")
    mean = sw.mean(axis=0)
    if sw.shape[0] >= 2:
        sigma, dof = noise_from_sweeps(sw, t, raw)
        method = "repeats"
    else:
        base = noise_from_baseline(t, mean if raw is None else np.sqrt(sum(r**2 for r in raw)))
        if base is None:
            raise ValueError(f"{kerr} {state}: cannot measure the noise of a single sweep without a baseline of "
                             f"{MIN_BASELINE} delays before the signal; measure 2 repeats or start the delays earlier")
        sigma, dof = np.full(t.size, base[0]), float(base[1])
        method = "baseline"
    return MokeWaveform(kerr, state, part, t, mean, sigma / np.sqrt(sw.shape[0]), sw.shape[0], method, dof)


def _column_mean(sweeps: np.ndarray) -> np.ndarray:
    """Mean over sweeps per point, NaN where no sweep has the point (without numpy's empty-slice warning)."""
    ok = np.isfinite(sweeps)
    n = ok.sum(axis=0)
    return np.where(n > 0, np.where(ok, sweeps, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


def moke_waveforms(delay_fs, signal, kerr=None, state=None, magnetization=None,
                   repeat=None) -> list[MokeWaveform]:
    """The waveforms of a TR-MOKE run per (kerr, state): odd in M (and the M-even part) where ±M was measured."""
    d = np.asarray(delay_fs, float)
    s = np.asarray(signal, float)
    n = d.size
    k = np.asarray(kerr if kerr is not None else ["rotation"] * n, dtype=object)
    st = np.asarray(state if state is not None else [""] * n, dtype=object)
    m = None if magnetization is None else np.asarray(magnetization, float)
    bad = sorted({str(x) for x in k.tolist()} - set(KERR))
    if bad:
        raise ValueError(f"kerr: {bad[0]!r} is not one of {', '.join(KERR)}")
    bad = sorted({str(x) for x in st.tolist()} - set(STATES) - {""})
    if bad:
        raise ValueError(f"state: {bad[0]!r} is not one of {', '.join(STATES)}")
    if m is not None and not np.all(np.isin(m, (-1.0, 1.0))):
        raise ValueError("magnetization: values must be +1 or -1")
    rep = None if repeat is None else np.asarray(repeat)
    out = []
    for q in KERR:
        for state_ in (*STATES, ""):
            sel = (k == q) & (st == state_)
            if not sel.any():
                continue
            centres, point = delay_points(d[sel])
            r = None if rep is None else rep[sel]
            if m is None or np.unique(m[sel]).size == 1:
                sign = 1.0 if m is None else float(m[sel][0])
                sw = _sweeps(point, r, centres.size, sign * s[sel])
                out.append(_waveform(q, state_, "raw" if m is None else "odd_M", centres, sw))
                continue
            plus, minus = m[sel] > 0, m[sel] < 0
            sp = _sweeps(point[plus], None if r is None else r[plus], centres.size, s[sel][plus])
            sm = _sweeps(point[minus], None if r is None else r[minus], centres.size, s[sel][minus])
            n_sw = min(sp.shape[0], sm.shape[0])
            sp, sm = sp[:n_sw], sm[:n_sw]
            raw = [_column_mean(sp), _column_mean(sm)]
            out.append(_waveform(q, state_, "odd_M", centres, 0.5 * (sp - sm), raw))
            out.append(_waveform(q, state_, "even_M", centres, 0.5 * (sp + sm), raw))
    if not out:
        raise ValueError("no rows to analyse")
    return out


# ------------------------------------------------------------------ result
@dataclass
class MokeResult:
    """Everything :func:`analyze_moke` found; :meth:`to_dict` is the ``femtospin analyze --mode moke`` JSON."""

    waveforms: list[MokeWaveform]
    fitted: str | None  # what the model describes, e.g. "−ΔM/M = −ellipticity/P"
    fit: FitResult | None
    t0_fs: float
    resolution_fs: float
    static: dict[str, StaticSignal]
    spin_accumulation: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    excluded: dict = field(default_factory=dict)
    reference: dict | None = None
    fit_data: tuple | None = None  # (delay_fs, value, sigma) of the fitted waveform, as fitted
    reflectance: dict | None = None  # exp-offset fit of the M-even part alongside −ΔM/M: {"component", "fit"}

    mode = "moke"
    target: str | None = None  # the fitted waveform's key in ``components``

    @property
    def component(self) -> str:
        return self.target or "none"

    @property
    def components(self) -> dict:
        """Waveforms by name, the fitted one as fitted (−Δε̄ for −ΔM/M), as the live figure draws them."""
        out = {w.name: w for w in self.waveforms}
        if self.fit_data is not None and self.target is not None:
            t, y, e = self.fit_data
            out[self.target] = SimpleNamespace(delay_fs=t, value=y, stderr=e)
        return out

    def to_dict(self) -> dict:
        fit = ({"model": "none", "redchi": None, "chi2": None, "dof": None, "p_value": None, "params": {}}
               if self.fit is None else {**self.fit.to_dict(), "correlations": self.fit.correlations})
        return json_safe({
            "mode": "moke",
            "resolution_fs": self.resolution_fs,
            "t0_fs": self.t0_fs,
            "component": self.component,
            "fitted": self.fitted,
            "fit": fit,
            "static_kerr": {q: s.to_dict() for q, s in self.static.items()},
            "noise": {w.name: {"method": w.noise_method, "n_sweeps": w.n_sweeps, "dof": w.noise_dof}
                      for w in self.waveforms},
            "components": {w.name: w.to_dict() for w in self.waveforms},
            "spin_accumulation": self.spin_accumulation,
            "reflectance": self.reflectance,
            "warnings": self.warnings,
            "excluded": self.excluded,
            "reference": self.reference,
        })


def peak_summary(curve: dict) -> dict:
    """The largest |value| of a spin-accumulation curve with its errors (total and from the static signal)."""
    v = np.asarray(curve["value"], float)
    k = int(np.argmax(np.abs(v)))
    return {"delay_fs": float(curve["delay_fs"][k]), "value": float(v[k]), "stderr": float(curve["stderr"][k]),
            "stderr_static": float(curve["stderr_static"][k])}


# ------------------------------------------------------------------ the analysis
STARTS_FS = ((100.0, 500.0), (50.0, 300.0), (250.0, 2000.0))  # (τ_M, τ_E) the three-temperature fit starts from


def _models_for(name: str, y: np.ndarray) -> list:
    """The waveform model with starting values scaled to the data, from a few (τ_M, τ_E) starts: the
    least-squares surface of the three-temperature model has local minima a single start can fall into."""
    base = MODELS[name]
    if name != "three-temperature":
        return [base]
    peak = float(y[np.argmax(np.abs(y))]) or 1.0
    out = []
    for tau_m, tau_e in STARTS_FS:
        params = dict(base.params)
        params["A1"] = ParamSpec(0.3 * peak)
        params["A2"] = ParamSpec(0.9 * peak)
        params["A3"] = ParamSpec(0.0)
        params["tau_m_fs"] = replace(params["tau_m_fs"], value=tau_m)
        params["tau_e_fs"] = replace(params["tau_e_fs"], value=tau_e)
        out.append(replace(base, params=params))
    return out


def _fit_target(waves: list[MokeWaveform], model: str, warnings: list) -> MokeWaveform:
    """Which waveform the model describes: −ΔM/M from the ellipticity (pure magnetization) in P, else the
    rotation; the transient reflectance from the M-even part."""
    by = {(w.kerr, w.state, w.part): w for w in waves}
    if model == "exp-offset":
        for key in (("rotation", "", "even_M"), ("ellipticity", "", "even_M"), ("rotation", "P", "even_M"),
                    ("rotation", "", "raw")):
            if key in by:
                return by[key]
        raise ValueError("exp-offset (transient reflectance) needs the M-even part: measure magnetization 1,-1")
    for key in (("ellipticity", "P", "odd_M"), ("ellipticity", "P", "raw"), ("ellipticity", "", "odd_M"),
                ("ellipticity", "", "raw"), ("rotation", "P", "odd_M"), ("rotation", "P", "raw"),
                ("rotation", "", "odd_M"), ("rotation", "", "raw")):
        if key in by:
            w = by[key]
            if w.kerr == "rotation" and w.state:
                warnings.append("−ΔM/M fitted to the Kerr rotation, which also holds the spin accumulation; "
                                "measure the ellipticity too for a clean demagnetization time")
            return w
    raise ValueError("three-temperature needs a waveform in P (or without states); measure the P state")


def analyze_moke(delay_fs, signal, *, kerr=None, state=None, magnetization=None, repeat=None, overload=None,
                 reference=None, reference_level: float | None = None, static: dict | None = None,
                 model: str | None = "three-temperature", fix: dict | None = None, fix_sources: dict | None = None,
                 resolution_fwhm_fs: float | None = None) -> MokeResult:
    """Analyse one TR-MOKE run.

    Parameters
    ----------
    delay_fs, signal : ndarray
        Long format, one reading per row (lock-in X in V).
    kerr, state, magnetization, repeat : ndarray, optional
        Condition columns and the sweep index, one value per row.
    overload : ndarray of bool, optional
        Rows recorded as overloaded: left out, with a warning.
    reference, reference_level : optional
        Pump power per row and the level it is normalized to (default its median).
    static : dict, optional
        ``{quantity: StaticSignal}`` (:func:`static_kerr_from_readings`, :func:`typed_static`).
        Without it nothing is normalized and no spin accumulation is formed.
    model : {"three-temperature", "exp-offset", "none"}
        −ΔM/M of the three-temperature model, or exponential + offset for transient reflectance.
    fix, fix_sources : dict, optional
        Parameters held at a value, and where each came from.
    resolution_fwhm_fs : float, optional
        Pump–probe cross-correlation the model is convolved with (default 40 fs, fixed).

    Returns
    -------
    MokeResult

    Raises
    ------
    ValueError
        Unknown conditions or model, too few delays, no way to measure the noise, or
        a fitted waveform that is indistinguishable from noise.
    """
    from ._pipeline import _clean_rows  # the same overload and reference handling as THz emission

    model = model or "three-temperature"
    if model not in MOKE_MODELS:
        raise ValueError(f"unknown model {model!r} for TR-MOKE; known: {', '.join(MOKE_MODELS)}")
    n = np.asarray(delay_fs).size
    conds = {k: np.asarray(v, dtype=object) for k, v in (("kerr", kerr), ("state", state)) if v is not None}
    if magnetization is not None:
        conds["magnetization"] = np.asarray(magnetization, float)
    for name, col in conds.items():
        if col.size != n:
            raise ValueError(f"{name} has {col.size} values for {n} rows")
    d, s, kept, rep, excluded, warnings, ref_info = _clean_rows(delay_fs, signal, conds, repeat, overload,
                                                                reference, reference_level)
    kept = kept or {}
    waves = moke_waveforms(d, s, kept.get("kerr"), kept.get("state"), kept.get("magnetization"), rep)
    static = dict(static or {})
    for w in waves:
        st = static.get(w.kerr)
        if st is not None and w.part != "even_M":
            w.value, w.stderr, w.normalized = w.value / st.value_V, w.stderr / abs(st.value_V), True
    missing = sorted({w.kerr for w in waves} - set(static))
    if missing:
        warnings.append(f"no static Kerr signal for {', '.join(missing)}: not normalized (lock-in V), "
                        f"no spin accumulation")
    for q, st in static.items():
        if st.source == "typed in":
            warnings.append(f"static Kerr {q} typed in ({st.value_V:.4g} ± {st.stderr_V:.2g} V), not measured "
                            f"in this run")
    fwhm = float(resolution_fwhm_fs or (fix or {}).get("resolution_fwhm_fs", DEFAULT_FWHM_FS))
    fit, fitted, t0, fit_data = None, None, float("nan"), None
    fixed = {"resolution_fwhm_fs": fwhm, **{k: float(v) for k, v in (fix or {}).items()}}
    sources = {"resolution_fwhm_fs": "default: pump–probe resolution", **(fix_sources or {})}
    target = None
    if model != "none":
        target = _fit_target(waves, model, warnings)
        fit, y = fit_moke_waveform(target, model, fixed, sources, static, warnings, strict=True)
        fitted = ("−ΔM/M = −" if y is not target.value else "") + target.name
        t0 = fit.value("t0_fs")
        fit_data = (target.delay_fs, y, target.stderr)
    reflectance = None
    even = [w for w in waves if w.part == "even_M"]
    if even and model != "exp-offset":  # ±M measured: the M-even part is the transient reflectance, fitted too
        held = {k: v for k, v in fixed.items() if k in MODELS["exp-offset"].params}
        fit_r, _ = fit_moke_waveform(even[0], "exp-offset", held, sources, static, warnings, strict=False)
        if fit_r is not None:
            reflectance = {"component": even[0].name, "fit": {**fit_r.to_dict(), "correlations": fit_r.correlations}}
    result = MokeResult(waves, fitted, fit, float(t0), fwhm, static, {}, warnings, excluded, ref_info, fit_data)
    result.target = None if fit is None else target.name
    result.reflectance = reflectance
    result.spin_accumulation = spin_accumulation_curves(waves, static)
    warnings.extend(state_warnings(waves))
    kinds = {w.kerr for w in waves}
    if any(w.state for w in waves) and kinds != set(KERR):
        warnings.append(f"only the {', '.join(sorted(kinds))} was measured: the spin accumulation "
                        f"Δμ_s = Δθ̄ − Δε̄ needs the rotation and the ellipticity")
    return result


SAME_STATE = 0.8  # |projection of AP on P| beyond this: the AP field sequence did not do its job


def state_warnings(waves: list[MokeWaveform]) -> list[str]:
    """Whether AP is really antiparallel: its −ΔM/M (ellipticity, else rotation) projected on P's.

    In AP the layers' magnetizations oppose, so the magnetic signal is far from P's; equal to P
    means the reverse field switched nothing, equal to −P that it switched both layers.
    """
    by = {(w.kerr, w.state): w for w in waves if w.part != "even_M"}
    for q in ("ellipticity", "rotation"):
        if (q, "P") in by and (q, "AP") in by:
            p, ap = by[(q, "P")], by[(q, "AP")]
            common, ip, ia = np.intersect1d(np.round(p.delay_fs, 1), np.round(ap.delay_fs, 1), return_indices=True)
            if common.size < MIN_DELAYS:
                return []
            x, y = p.value[ip], ap.value[ia]
            r = float(np.dot(x, y) / np.dot(x, x)) if np.dot(x, x) > 0 else 0.0
            if r > SAME_STATE:
                return [f"AP looks like P ({q} in AP = {r:.2f} × P): the reverse field did not switch the soft "
                        f"layer; give a reverse_mT between the two coercive fields"]
            if r < -SAME_STATE:
                return [f"AP looks like P reversed ({q} in AP = {r:.2f} × P): the reverse field switched both "
                        f"layers; give a smaller reverse_mT, between the two coercive fields"]
            return []
    return []


def fit_moke_waveform(target: MokeWaveform, model: str, fixed: dict, sources: dict, static: dict, warnings: list,
                      *, strict: bool) -> tuple[FitResult | None, np.ndarray]:
    """Fit ``model`` to one waveform (−ΔM/M = −Δε̄ for three-temperature on a normalized waveform).

    A waveform whose extreme is below SNR_MIN × its noise is an error (``strict``) or
    skipped with a warning. The fit starts from several (τ_M, τ_E) pairs, keeps the best and
    names τ_M the faster time; the p-value is against the noise's own degrees of freedom;
    the static signal's relative error is added to the amplitudes'.
    """
    y = -target.value if (model == "three-temperature" and target.normalized) else target.value
    noise = float(np.median(target.stderr))
    if np.max(np.abs(y)) < SNR_MIN * noise:
        what = (f"{target.name}: no signal above the noise (peak {np.max(np.abs(y)):.3g}, noise {noise:.2g} per "
                f"point)")
        if strict:
            raise ValueError(f"{what}: check the pump and probe overlap, the shutter and the sample's magnetization")
        warnings.append(f"{what}: no {model} fit")
        return None, y
    fits = []
    for m in _models_for(model, y):
        tau = m.params["tau_m_fs" if "tau_m_fs" in m.params else "tau_fs"].value
        try:  # a start that wanders off into an invalid corner is dropped; the others remain
            fits.append(fit_waveform(target.delay_fs, y, m, sigma=target.stderr, fix=fixed, sources=sources,
                                     guess={"t0_fs": _onset(target.delay_fs, y) - 0.35 * tau}))
        except ValueError:
            continue
    if not fits:
        raise ValueError(f"{target.name}: the {model} fit failed from every start")
    fit = min(fits, key=lambda f: f.chi2 if np.isfinite(f.chi2) else np.inf)
    if model == "three-temperature" and fit.value("tau_m_fs") > fit.value("tau_e_fs"):
        fit = _swap_times(fit, target.delay_fs, y, target.stderr, fixed, sources)
    if target.noise_method == "repeats":
        fit.p_value = float(fdtrc(fit.dof, max(target.noise_dof, 1.0), fit.redchi))
    st = static.get(target.kerr)
    if st is not None and target.normalized:  # amplitudes scale with 1/static: its error is theirs
        rel = st.stderr_V / abs(st.value_V)
        for name, p in fit.params.items():
            if p["vary"] and name in ("A1", "A2", "A3", "amplitude"):
                p["stderr"] = float(np.hypot(p["stderr"], rel * p["value"]))
    if fit.p_value < P_VALUE_MIN:
        warnings.append(f"the {model} model does not describe {target.name}: redchi {fit.redchi:.2f} "
                        f"(p = {fit.p_value:.1e}); its parameters and errors are not to be trusted")
    bounds = MODELS[model].params
    at = [k for k, p in fit.params.items() if p["vary"] and k in bounds and _at_bound(bounds[k], p["value"])]
    if at:
        warnings.append(f"{target.name}: parameter(s) {', '.join(at)} at the edge of their allowed range")
    return fit, y


def _onset(t: np.ndarray, y: np.ndarray) -> float:
    """First delay at which the signal reaches half its extreme: where the model's rise is."""
    a = y * np.sign(y[np.argmax(np.abs(y))])
    return float(t[np.argmax(a >= 0.5 * a.max())])


def _swap_times(fit: FitResult, t, y, sigma, fixed: dict, sources: dict) -> FitResult:
    """The same curve with τ_M < τ_E.

    The bracket is A1/√(…) − c_M·e^(−t/τ_M) − (A1 − c_M)·e^(−t/τ_E), so exchanging the two
    times (and c_M ↔ A1 − c_M through A2) leaves it unchanged; τ_M is the faster one (the
    demagnetization, Dalla Longa's convention). Refitted from the exchanged values so the
    errors are its own.
    """
    p = {k: v["value"] for k, v in fit.params.items()}
    a1, a2, tm, te = p["A1"], p["A2"], p["tau_m_fs"], p["tau_e_fs"]
    c_m = (a2 * te - a1 * tm) / (te - tm)
    tm2, te2, c_m2 = te, tm, a1 - c_m
    a2_new = (c_m2 * (te2 - tm2) + a1 * tm2) / te2
    base = MODELS["three-temperature"]
    params = dict(base.params)
    for name, value in (("A1", a1), ("A2", a2_new), ("A3", p["A3"])):
        params[name] = ParamSpec(value)
    params["tau_m_fs"] = replace(params["tau_m_fs"], value=tm2)
    params["tau_e_fs"] = replace(params["tau_e_fs"], value=te2)
    params["t0_fs"] = replace(params["t0_fs"], value=p["t0_fs"])
    swapped = fit_waveform(t, y, replace(base, params=params), sigma=sigma, fix=fixed, sources=sources)
    ok = swapped.value("tau_m_fs") < swapped.value("tau_e_fs") and swapped.chi2 <= fit.chi2 * (1 + 1e-3) + 1e-9
    return swapped if ok else fit


def _at_bound(spec: ParamSpec, value: float) -> bool:
    span = spec.max - spec.min
    tol = 1e-3 * span if np.isfinite(span) else 0.0
    low = np.isfinite(spec.min) and value - spec.min <= tol
    return bool(low or (np.isfinite(spec.max) and spec.max - value <= tol))


def spin_accumulation_curves(waves: list[MokeWaveform], static: dict[str, StaticSignal]) -> dict:
    """Δμ_s = Δθ̄ − Δε̄ per state and, with P and AP, of the free and reference layers (physics.md §4e).

    Each curve carries ``stderr`` (noise and static signal) and ``stderr_static``
    (the static signal's part alone). Empty without rotation and ellipticity and
    both their static signals.
    """
    if not {"rotation", "ellipticity"} <= set(static):
        return {}
    by = {(w.kerr, w.state): w for w in waves if w.part != "even_M"}
    states = [st for st in (*STATES, "") if ("rotation", st) in by and ("ellipticity", st) in by]
    if not states:
        return {}
    rot, ell = static["rotation"], static["ellipticity"]
    full = StaticKerr(rot.value_V, rot.stderr_V, ell.value_V, ell.stderr_V)
    noise_only = StaticKerr(rot.value_V, 0.0, ell.value_V, 0.0)

    def raw(st):  # back to volts on the delays both quantities share
        r, e = by[("rotation", st)], by[("ellipticity", st)]
        common = np.intersect1d(np.round(r.delay_fs, 1), np.round(e.delay_fs, 1))
        ir = np.isin(np.round(r.delay_fs, 1), common)
        ie = np.isin(np.round(e.delay_fs, 1), common)
        return (common, r.value[ir] * rot.value_V, r.stderr[ir] * abs(rot.value_V),
                e.value[ie] * ell.value_V, e.stderr[ie] * abs(ell.value_V))

    def curve(t, pair_total, pair_noise):
        (v, e), (_, e0) = pair_total, pair_noise
        return {"delay_fs": t, "value": v, "stderr": e, "stderr_static": np.sqrt(np.clip(e**2 - e0**2, 0, None))}

    out = {}
    if "P" in states and "AP" in states:
        tp, rp, rpe, ep, epe = raw("P")
        ta, ra, rae, ea, eae = raw("AP")
        common = np.intersect1d(tp, ta)
        ip, ia = np.isin(tp, common), np.isin(ta, common)
        args = (rp[ip], rpe[ip], ep[ip], epe[ip], ra[ia], rae[ia], ea[ia], eae[ia])
        total, noise = spin_accumulation_pap(*args, full), spin_accumulation_pap(*args, noise_only)
        for key in ("free", "ref", "P", "AP"):
            out[key] = curve(common, total[key], noise[key])
        return out
    for st in states:
        t, r, re_, e, ee = raw(st)
        total = spin_accumulation_pap(r, re_, e, ee, r, re_, e, ee, full)["P"]
        noise = spin_accumulation_pap(r, re_, e, ee, r, re_, e, ee, noise_only)["P"]
        out[st or "single"] = curve(t, total, noise)
    return out
