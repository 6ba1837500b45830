"""Fits of series of scalar results (physics.md §3–4) and the spin accumulation of §4e.

Every fit returns a :class:`~femtospin.analysis._fits.FitResult`-like
:class:`SeriesFit` whose ``to_dict()`` is ``{"model", "redchi", "params", ...}``
as ``femtospin fit-series`` writes it. Standard errors are weighted by the
given ``stderr`` (absolute, ``scale_covar=False``) when it is given, and
scaled by √χ²_red when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from scipy.fft import rfft, rfftfreq
from scipy.special import chdtrc, fdtrc

from ._fits import ParamAccess, json_safe

if TYPE_CHECKING:  # lmfit itself is imported on first use
    import lmfit


@dataclass
class SeriesFit(ParamAccess):
    """Result of a series fit: ``params`` as ``{name: {"value", "stderr", "vary"}}``, plus extras.

    ``redchi``, ``chi2``, ``dof`` and ``p_value`` judge the model against the given
    stderr; without stderr they are NaN (the errors then come from the scatter about
    the fit, which cannot also judge it), and ``extra["stderr_source"]`` says which.
    A parameter the data leave undetermined (at a bound, or degenerate) has stderr
    NaN and a ``why``.
    """

    model: str
    params: dict
    redchi: float
    best_fit: np.ndarray
    extra: dict = field(default_factory=dict)
    chi2: float = float("nan")
    dof: int = 0
    p_value: float = float("nan")

    def to_dict(self) -> dict:
        return json_safe({"model": self.model, "redchi": self.redchi, "chi2": self.chi2, "dof": self.dof,
                      "p_value": self.p_value, "params": self.params, **self.extra})


def _as_arrays(x, y, stderr, what: str, *, x_name: str = "x", x_min: float | None = None, distinct: int = 1,
               period: float | None = None):
    """Checked float arrays of a series, or ``ValueError`` naming the series, the column and the row.

    ``x_min`` is the physical lower bound of x; ``distinct`` how many
    different x the model needs to be determined (x modulo ``period`` for an
    angle): repeated points at one x measure its scatter, not the model's shape,
    and a fit on too few would report a confident answer to a question the data
    cannot answer.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"{what}: x and y must be 1-d of equal length")
    for name, values in ((x_name, x), ("value", y)):
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{what}: {name} is not finite in row {int(np.argmin(np.isfinite(values))) + 1}")
    if x_min is not None and not np.all(x >= x_min):
        row = int(np.argmin(x >= x_min))
        raise ValueError(f"{what}: {x_name} {x[row]:g} in row {row + 1} is below {x_min:g}")
    n_distinct = np.unique(np.round(np.mod(x, period) if period else x, 9)).size
    if n_distinct < distinct:
        raise ValueError(f"{what}: {n_distinct} different {x_name} value(s); the model needs at least {distinct}")
    if stderr is not None:
        stderr = np.asarray(stderr, float)
        if stderr.shape != y.shape:
            raise ValueError(f"{what}: stderr must have one value per point")
        if not np.all(stderr > 0):
            raise ValueError(f"{what}: stderr must be > 0, row {int(np.argmin(stderr > 0)) + 1} is not")
    return x, y, stderr


def _fit(name: str, func, params: lmfit.Parameters, x, y, stderr, extra=None) -> SeriesFit:
    import lmfit  # imported on first use: it costs 0.6 s at start-up
    weight = 1.0 / stderr if stderr is not None else np.ones_like(y)
    nvary = sum(p.vary for p in params.values())
    if y.size <= nvary:
        raise ValueError(f"{name}: {y.size} points cannot determine {nvary} parameters")

    def residual(p):
        return (func(x, p.valuesdict()) - y) * weight

    out = lmfit.minimize(residual, params, method="leastsq", scale_covar=stderr is None)
    best = func(x, out.params.valuesdict())
    p = {k: _param(v) for k, v in out.params.items()}
    if not any(q["vary"] and np.isfinite(q["stderr"]) for q in p.values()):
        raise ValueError(f"{name}: the data determine none of {', '.join(k for k, q in p.items() if q['vary'])} "
                         f"({next(q['why'] for q in p.values() if q['vary'])})")
    dof = int(y.size - nvary)
    source = {"stderr_source": "given" if stderr is not None else "scatter"}
    if stderr is None:
        return SeriesFit(name, p, float("nan"), best, {**source, **(extra or {})}, float("nan"), dof, float("nan"))
    chi2 = float(np.sum(((best - y) / stderr) ** 2))
    return SeriesFit(name, p, chi2 / dof, best, {**source, **(extra or {})}, chi2, dof, float(chdtrc(dof, chi2)))


def _param(v) -> dict:
    """One fitted parameter; one the data leave undetermined has stderr NaN (null in JSON) and says why."""
    out = {"value": float(v.value), "stderr": 0.0 if not v.vary else float("nan"), "vary": bool(v.vary)}
    if not v.vary:
        return out
    at_bound = next((b for b in (v.min, v.max) if np.isfinite(b) and np.isclose(v.value, b, rtol=1e-6, atol=1e-9)),
                    None)
    if at_bound is not None:
        out["why"] = f"at its bound {at_bound:g}: the data do not determine it"
    elif v.stderr is None or not np.isfinite(v.stderr):
        out["why"] = "not determined: no covariance (the parameters are degenerate on these points)"
    else:
        out["stderr"] = float(v.stderr)
    return out


# ------------------------------------------------------------------ temperature
def _power_law(T, p):
    return p["scale"] * np.clip(p["T_C_K"] - T, 0.0, None) ** p["alpha"]


def fit_temperature(temperature_K, amplitude, stderr=None) -> SeriesFit:
    """amplitude = scale·(T_C − T)^α (zero above T_C), physics.md §4b.

    Starts from a grid search over T_C with a log-linear fit for α at each value.

    Parameters
    ----------
    temperature_K, amplitude : array_like
    stderr : array_like, optional

    Returns
    -------
    SeriesFit
        Params ``T_C_K``, ``alpha``, ``scale``.
    """
    import lmfit
    T, a, se = _as_arrays(temperature_K, amplitude, stderr, "temperature series", x_name="temperature_K",
                          x_min=0.0, distinct=3)
    sign = np.sign(a[np.argmax(np.abs(a))]) or 1.0
    pos = a * sign > 0
    if pos.sum() < 3:
        raise ValueError("temperature series: need at least 3 points with a signal of one sign")
    best = None
    for tc in T[pos].max() + np.geomspace(1.0, 2000.0, 80):
        slope, icpt = np.polyfit(np.log(tc - T[pos]), np.log(a[pos] * sign), 1)
        r = np.sum((sign * np.exp(icpt) * (tc - T) ** slope - a) ** 2 / (se**2 if se is not None else 1))
        if best is None or r < best[0]:
            best = (r, tc, slope, sign * np.exp(icpt))
    _, tc, alpha, scale = best
    params = lmfit.Parameters()
    params.add("T_C_K", value=tc, min=1.0)
    params.add("alpha", value=max(alpha, 0.01), min=0.0, max=20.0)
    params.add("scale", value=scale)
    return _fit("temperature", _power_law, params, T, a, se)


# ------------------------------------------------------------------ quarter-wave plate
def _qwp(phi_deg, p):
    phi = np.radians(phi_deg)
    return p["C"] * np.sin(2 * phi) + p["L1"] * np.sin(4 * phi) + p["L2"] * np.cos(4 * phi) + p["D"]


def fit_qwp(qwp_deg, signal, stderr=None) -> SeriesFit:
    """S(φ) = C·sin2φ + L1·sin4φ + L2·cos4φ + D (physics.md §3); C is the helicity term.

    Linear in its parameters; solved by least squares through lmfit for the
    common result format.
    """
    import lmfit
    phi, s, se = _as_arrays(qwp_deg, signal, stderr, "qwp series", x_name="qwp_deg", distinct=4, period=180.0)
    params = lmfit.Parameters()
    for name in ("C", "L1", "L2", "D"):
        params.add(name, value=0.0)
    return _fit("qwp", _qwp, params, phi, s, se)


# ------------------------------------------------------------------ field loop
def _loop(h, branch_up, p):
    shift = np.where(branch_up, -p["coercive_mT"], p["coercive_mT"])
    return p["offset"] + p["saturation"] * np.tanh((h + shift) / p["width_mT"])


def fit_field(field_mT, signal, branch, stderr=None) -> SeriesFit:
    """Hysteresis loop: offset + saturation·tanh((H ∓ H_c)/w), up branch switching at +H_c.

    Parameters
    ----------
    field_mT, signal : array_like
    branch : array_like of {"up", "down"}
        Sweep direction of each point.
    stderr : array_like, optional

    Returns
    -------
    SeriesFit
        Params ``coercive_mT``, ``saturation``, ``offset`` and ``width_mT``.
    """
    import lmfit
    h, s, se = _as_arrays(field_mT, signal, stderr, "field loop", x_name="field_mT", distinct=3)
    branch = np.asarray(branch)
    bad = ~np.isin(branch, ["up", "down"])
    if bad.any():
        raise ValueError(f"field loop: branch must be 'up' or 'down', row {int(np.argmax(bad)) + 1} is "
                         f"{branch[np.argmax(bad)]!r}")
    if not ({"up", "down"} <= set(branch.tolist())):
        raise ValueError("field loop: needs points on both the up and the down branch")
    up = branch == "up"
    sat = (s.max() - s.min()) / 2
    # coercive field guess: where each branch crosses the middle
    mid = (s.max() + s.min()) / 2
    guesses = []
    for sel, sgn in ((up, 1), (~up, -1)):
        order = np.argsort(h[sel])
        hh, ss = h[sel][order], s[sel][order]
        k = int(np.argmin(np.abs(ss - mid)))
        guesses.append(sgn * hh[k])
    hc = max(float(np.mean(guesses)), 1e-3)
    span = float(np.ptp(h)) or 1.0
    params = lmfit.Parameters()
    params.add("coercive_mT", value=hc, min=0.0)
    params.add("saturation", value=sat if np.mean(s[up & (h > hc)]) >= mid else -sat)
    params.add("offset", value=mid)
    params.add("width_mT", value=max(span / 50, 1e-3), min=1e-6)
    return _fit("field", lambda x, p: _loop(x, up, p), params, h, s, se)


# ------------------------------------------------------------------ fluence
def fit_fluence(fluence_mJcm2, amplitude, stderr=None, alpha: float = 0.05) -> SeriesFit:
    """amplitude = slope·F + intercept, with a linearity test.

    The test adds a quadratic term and asks whether it improves χ² significantly
    (F-test; χ²-difference test when stderr is given), at level ``alpha``.

    Returns
    -------
    SeriesFit
        Params ``slope``, ``intercept``; ``to_dict()`` adds ``"linearity": {"quadratic",
        "quadratic_stderr", "p_value", "linear"}``.
    """
    import lmfit
    F, a, se = _as_arrays(fluence_mJcm2, amplitude, stderr, "fluence series", x_name="fluence_mJcm2", x_min=0.0,
                          distinct=3)
    params = lmfit.Parameters()
    params.add("slope", value=float(np.polyfit(F, a, 1)[0]))
    params.add("intercept", value=0.0)
    lin = _fit("fluence", lambda x, p: p["slope"] * x + p["intercept"], params, F, a, se)
    if F.size < 4:
        raise ValueError("fluence series: the linearity test needs at least 4 points")
    q = lmfit.Parameters()
    q.add("slope", value=lin.value("slope"))
    q.add("intercept", value=lin.value("intercept"))
    q.add("quadratic", value=0.0)
    quad = _fit("fluence-quadratic", lambda x, p: p["slope"] * x + p["intercept"] + p["quadratic"] * x**2,
                q, F, a, se)
    w = 1.0 / se**2 if se is not None else np.ones_like(a)
    chi_lin = float(np.sum(w * (lin.best_fit - a) ** 2))
    chi_quad = float(np.sum(w * (quad.best_fit - a) ** 2))
    dof = F.size - 3
    if se is not None:
        p_value = float(chdtrc(1, chi_lin - chi_quad))
    else:
        f_stat = (chi_lin - chi_quad) / (chi_quad / dof) if chi_quad > 0 else np.inf
        p_value = float(fdtrc(1, dof, f_stat))
    lin.extra["linearity"] = {"quadratic": quad.value("quadratic"), "quadratic_stderr": quad.stderr("quadratic"),
                              "p_value": p_value, "linear": bool(p_value >= alpha)}
    return lin


# ------------------------------------------------------------------ spectrum bandwidth
def spectrum(delay_fs, value) -> tuple[np.ndarray, np.ndarray]:
    """|j_s(f)| of a waveform on a uniform grid: frequencies (THz) and magnitude (value·fs)."""
    t, v = np.asarray(delay_fs, float), np.asarray(value, float)
    dt = t[1] - t[0]
    return rfftfreq(t.size, dt) * 1e3, np.abs(rfft(v)) * dt


def fit_bandwidth(delay_fs, value, f_max_THz: float | None = None) -> SeriesFit:
    """Lorentzian fit |j_s(f)| = A / (1 + (f/f_c)²); f_c (HWHM, THz) is the bandwidth (physics.md §4c).

    Parameters
    ----------
    delay_fs, value : array_like
        Spin current (e.g. the deconvolved one) on a uniform grid.
    f_max_THz : float, optional
        Fit only up to this frequency (default: where |j_s(f)| falls below 2 % of its maximum).

    Returns
    -------
    SeriesFit
        Params ``A`` and ``bandwidth_THz``.
    """
    import lmfit
    f, mag = spectrum(delay_fs, value)
    if f_max_THz is None:
        below = np.nonzero(mag < 0.02 * mag.max())[0]
        below = below[below > int(np.argmax(mag))]
        f_max_THz = f[below[0]] if below.size else f[-1]
    sel = f <= f_max_THz
    half = np.nonzero(mag < 0.5 * mag[0])[0]
    params = lmfit.Parameters()
    params.add("A", value=float(mag[0]) or float(mag.max()))
    params.add("bandwidth_THz", value=float(f[half[0]]) if half.size else float(f_max_THz) / 2, min=1e-6)
    return _fit("lorentzian", lambda x, p: p["A"] / (1 + (x / p["bandwidth_THz"]) ** 2), params,
                f[sel], mag[sel], None)


# ------------------------------------------------------------------ spin accumulation (§4e)
@dataclass(frozen=True)
class StaticKerr:
    """Static Kerr rotation and ellipticity used for normalization, with standard errors (lock-in V)."""

    rotation: float
    rotation_stderr: float
    ellipticity: float
    ellipticity_stderr: float


def spin_accumulation(rotation, rotation_stderr, ellipticity, ellipticity_stderr,
                      static: StaticKerr) -> tuple[np.ndarray, np.ndarray]:
    """Δμ_s = Δθ/θ_static − Δε/ε_static with the static normalization in the uncertainty.

    Parameters
    ----------
    rotation, ellipticity : array_like
        Pump-induced Kerr rotation and ellipticity waveforms (V).
    rotation_stderr, ellipticity_stderr : array_like or float
        Their standard errors.
    static : StaticKerr

    Returns
    -------
    value, stderr : ndarray
    """
    out = spin_accumulation_pap(rotation, rotation_stderr, ellipticity, ellipticity_stderr,
                                rotation, rotation_stderr, ellipticity, ellipticity_stderr, static, _single=True)
    return out["P"]


def spin_accumulation_pap(rot_p, rot_p_err, ell_p, ell_p_err, rot_ap, rot_ap_err, ell_ap, ell_ap_err,
                          static: StaticKerr, _single: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Spin accumulation in P and AP states and their half sum (free layer) and half difference (reference).

    Δμ_s = Δθ̄ − Δε̄ in each state; free = (P + AP)/2, ref = (P − AP)/2
    (physics.md §4e). The static normalization is common to all of them, so its
    error is propagated with its correlation (exact first-order propagation).

    Returns
    -------
    dict
        ``{"P", "AP", "free", "ref"}`` → (value, stderr).
    """
    th, th_e, ep, ep_e = static.rotation, static.rotation_stderr, static.ellipticity, static.ellipticity_stderr
    if th == 0 or ep == 0:
        raise ValueError("static Kerr rotation and ellipticity must be nonzero to normalize")
    arrs = [np.asarray(a, float) for a in (rot_p, rot_p_err, ell_p, ell_p_err, rot_ap, rot_ap_err, ell_ap, ell_ap_err)]
    rp, rpe, ep_, epe, ra, rae, ea, eae = np.broadcast_arrays(*arrs)

    def combine(cr_p, ce_p, cr_a, ce_a):
        # value = cr_p·rp/θ − ce_p·ep/ε + cr_a·ra/θ − ce_a·ea/ε
        value = (cr_p * rp + cr_a * ra) / th - (ce_p * ep_ + ce_a * ea) / ep
        var = ((cr_p * rpe) ** 2 + (cr_a * rae) ** 2) / th**2 + ((ce_p * epe) ** 2 + (ce_a * eae) ** 2) / ep**2
        var = var + ((cr_p * rp + cr_a * ra) * th_e / th**2) ** 2 + ((ce_p * ep_ + ce_a * ea) * ep_e / ep**2) ** 2
        return value, np.sqrt(var)

    out = {"P": combine(1, 1, 0, 0)}
    if _single:
        return out
    out["AP"] = combine(0, 0, 1, 1)
    out["free"] = combine(0.5, 0.5, 0.5, 0.5)
    out["ref"] = combine(0.5, 0.5, -0.5, -0.5)
    return out
