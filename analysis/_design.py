"""Where to measure next: the information a delay adds about the fitted parameters, per second of table time.

A fitted waveform model m(t; θ) with the noise model of :mod:`._noise` says what
one more sample at delay t would teach: its sensitivity j(t) = ∂m/∂θ and its
variance σ²(t) = Σc²·(σ_α² + σ_β²·m² + σ_τ²·(dm/dt)²) (one reading of every
condition set of the component). With C the covariance the points measured so
far give (C⁻¹ = Σ j·jᵀ/σ²), a sample at t lowers the variance of one parameter
θ_i by (C·j)_i² / (σ² + jᵀ·C·j) (c-optimal design) and the log-determinant of
C by log(1 + jᵀ·C·j/σ²) (D-optimal, every parameter). Divided by what the
sample costs in table time (settling, stage travel), that is the score a batch
is chosen by, greedily, with C updated after each pick (Sherman–Morrison), so a
batch spreads over the delays that teach different things.

A design built on a wrong fit measures where the wrong model is informative.
Two guards: a share of every batch goes to the delays farthest from anything
measured (exploration, space-filling), and a batch is space-filling only when
the fit is poor (no fit, a model the goodness of fit rejects, the target at a
bound of its range or barely determined).

No I/O and no bluesky: the plan (:mod:`femtospin.plans`) measures, this module
only chooses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._fits import ForwardModel, get_model
from ._grid import sampling
from ._pipeline import DEFAULT_FWHM_FS, AnalysisResult, response_for

EXPLORE_FRACTION = 0.1  # share of a batch spent on the delays farthest from every measured one
POOR_P_VALUE = 1e-3  # a fit the goodness of fit rejects this strongly does not design
POOR_REL_STDERR = 0.5  # nor one whose target is this poorly determined


@dataclass(frozen=True)
class Pick:
    """One chosen delay and why.

    Attributes
    ----------
    delay_fs : float
    information : float
        Expected gain when it was chosen: the reduction of the target's variance
        (its units squared, c-optimal), or of log det C (nats, D-optimal); 0 for
        exploration and space-filling picks.
    cost_s : float
        Table time it was charged (settling and travel for every condition set).
    reason : str
        ``c-optimal``, ``D-optimal``, ``explore`` or ``space-filling``.
    """

    delay_fs: float
    information: float
    cost_s: float
    reason: str


@dataclass(frozen=True)
class Sensitivity:
    """What the current fit says about candidate delays.

    Attributes
    ----------
    names : list of str
        The varied parameters, in the order of the columns.
    jacobian : ndarray
        ∂m/∂θ at each candidate, shape (candidates, parameters).
    variance : ndarray
        Noise variance of one sample of the component at each candidate.
    information : ndarray
        Fisher information of the points measured so far, (parameters, parameters).
    """

    names: list
    jacobian: np.ndarray
    variance: np.ndarray
    information: np.ndarray


def sensitivity(result: AnalysisResult, candidates: np.ndarray, *, detector: str | None = "gap250",
                transfer: tuple[np.ndarray, np.ndarray] | None = None, probe_fwhm_fs: float = 20.0) -> Sensitivity:
    """Sensitivities and noise of the fitted model at the candidate delays, and the information measured so far.

    Parameters
    ----------
    result : AnalysisResult
        A fit (:func:`~femtospin.analysis.analyze`) of the points measured so far.
    candidates : ndarray
        Delays the next samples may be taken at (fs).
    detector, transfer, probe_fwhm_fs
        The detection, as given to :func:`~femtospin.analysis.analyze`.

    Returns
    -------
    Sensitivity
    """
    fit = result.fit
    p = {k: v["value"] for k, v in fit.params.items()}
    names = [k for k, v in fit.params.items() if v["vary"]]
    measured = result.delay_fs
    union = np.union1d(np.asarray(candidates, float), measured)
    fwhm = float(p.get("resolution_fwhm_fs", DEFAULT_FWHM_FS))
    samp = sampling(union, resolve_fs=min(fwhm, probe_fwhm_fs))
    op = response_for(samp.n, samp.dt_fs, detector=detector, transfer=transfer, probe_fwhm_fs=probe_fwhm_fs)
    fwd = ForwardModel(samp, get_model(fit.model), op)
    columns = []
    for name in names:
        h = max(1e-4 * abs(p[name]), 1e-2 * (fit.params[name]["stderr"] or 0.0), 1e-6)
        columns.append((fwd({**p, name: p[name] + h}) - fwd({**p, name: p[name] - h})) / (2 * h))
    jac = np.column_stack(columns) if columns else np.zeros((union.size, 0))
    model = fwd(p)
    h = 0.25 * samp.dt_fs
    slope = (fwd({**p, "t0_fs": p["t0_fs"] - h}) - fwd({**p, "t0_fs": p["t0_fs"] + h})) / (2 * h)
    noise = result.noise
    coef_sq = float(sum(c * c for c in result.components[result.component].coef.values()))
    var = coef_sq * (noise.sigma_alpha**2 + (noise.sigma_beta * model) ** 2 + (noise.sigma_tau_fs * slope) ** 2)
    var = np.maximum(var, 1e-12 * float(np.max(var)) + 1e-300)
    at = np.searchsorted(union, measured)
    jm = jac[at] / result.noise.sigma[:, None]
    cand = np.searchsorted(union, np.asarray(candidates, float))
    return Sensitivity(names, jac[cand], var[cand], jm.T @ jm)


def covariance(information: np.ndarray) -> np.ndarray:
    """C = F⁻¹, through a pseudo-inverse where F is singular (a parameter no point has informed yet).

    Parameters
    ----------
    information : ndarray
        Fisher information F, (parameters, parameters).

    Returns
    -------
    ndarray
    """
    if information.size == 0:
        return information
    # parameters differ in scale by many orders (an amplitude in volts, times in fs): invert the correlation form
    d = np.sqrt(np.clip(np.diag(information), 1e-300, None))
    inner = np.linalg.pinv(information / np.outer(d, d), rcond=1e-12, hermitian=True)
    return inner / np.outer(d, d)


def space_filling(candidates: np.ndarray, measured: np.ndarray, size: int) -> list[int]:
    """``size`` candidates chosen one by one farthest from every measured and already chosen delay (maximin).

    Parameters
    ----------
    candidates, measured : ndarray
        Delays (fs).
    size : int

    Returns
    -------
    list of int
        Indices into ``candidates``.
    """
    cand = np.asarray(candidates, float)
    taken = np.asarray(measured, float)
    gap = np.full(cand.size, np.inf) if taken.size == 0 else np.min(np.abs(cand[:, None] - taken[None, :]), axis=1)
    chosen: list[int] = []
    for _ in range(min(size, cand.size)):
        gap[chosen] = -np.inf
        k = int(np.argmax(gap))
        if not np.isfinite(gap[k]) and gap[k] < 0:
            break
        chosen.append(k)
        gap = np.minimum(gap, np.abs(cand - cand[k]))
    return chosen


def choose_batch(candidates: np.ndarray, measured: np.ndarray, sens: Sensitivity, cost_s: np.ndarray | float,
                 size: int, *, target: str | None = None, travel_s_per_fs: float = 0.0, start_fs: float | None = None,
                 explore: float = EXPLORE_FRACTION) -> list[Pick]:
    """A batch of distinct delays: the best information per second, greedily, plus an exploration share.

    Parameters
    ----------
    candidates : ndarray
        Delays a sample may be taken at (fs).
    measured : ndarray
        Delays measured so far (for exploration).
    sens : Sensitivity
        From :func:`sensitivity` at the same candidates.
    cost_s : float or ndarray
        Table time of one sample at each candidate, travel aside (every condition set's settling).
    size : int
        Delays in the batch.
    target : str, optional
        The parameter whose variance is to shrink (c-optimal); None: every varied one (D-optimal).
    travel_s_per_fs : float
        Stage travel time per fs of delay, charged from the nearest delay already in the batch
        (or ``start_fs``).
    explore : float
        Share of the batch chosen by :func:`space_filling`.

    Returns
    -------
    list of Pick
        In the order chosen.
    """
    cand = np.asarray(candidates, float)
    cost = np.broadcast_to(np.asarray(cost_s, float), cand.shape).astype(float)
    size = min(int(size), cand.size)
    n_explore = int(np.ceil(explore * size)) if size > 1 else 0
    if target is not None and target not in sens.names:
        raise ValueError(f"target {target!r} is not a fitted parameter; fitted: {', '.join(sens.names)}")
    i = None if target is None else sens.names.index(target)
    C = covariance(sens.information)
    J, var = sens.jacobian, sens.variance
    free = np.ones(cand.size, bool)
    picks: list[Pick] = []
    here = np.array([start_fs]) if start_fs is not None else np.array([])
    for _ in range(size - n_explore):
        CJ = J @ C  # (candidates, parameters): C·j for each
        spread = np.einsum("kp,kp->k", CJ, J)
        gain = CJ[:, i] ** 2 / (var + spread) if i is not None else np.log1p(spread / var)
        travel = travel_s_per_fs * (np.min(np.abs(cand[:, None] - here[None, :]), axis=1) if here.size else 0.0)
        score = np.where(free, gain / (cost + travel), -np.inf)
        k = int(np.argmax(score))
        if not np.isfinite(score[k]) or gain[k] <= 0:
            break
        picks.append(Pick(float(cand[k]), float(gain[k]), float(cost[k] + (travel[k] if here.size else 0.0)),
                          "c-optimal" if i is not None else "D-optimal"))
        C = C - np.outer(CJ[k], CJ[k]) / (var[k] + spread[k])
        free[k] = False
        here = np.append(here, cand[k])
    taken = np.concatenate([np.asarray(measured, float), [p.delay_fs for p in picks]])
    rest = np.nonzero(free)[0]
    for k in space_filling(cand[rest], taken, size - len(picks)):
        picks.append(Pick(float(cand[rest[k]]), 0.0, float(cost[rest[k]]), "explore"))
    return picks


def fit_is_poor(result: AnalysisResult | None, target: str | None) -> str | None:
    """Why a fit must not choose the next delays, or None when it may.

    Parameters
    ----------
    result : AnalysisResult or None
    target : str, optional

    Returns
    -------
    str or None
    """
    if result is None or result.fit is None:
        return "no fit yet"
    fit = result.fit
    if not fit.success:
        return "the fit did not converge"
    if np.isfinite(fit.p_value) and fit.p_value < POOR_P_VALUE:
        return f"the model does not describe the data (redchi {fit.redchi:.2f}, p = {fit.p_value:.1e})"
    names = [target] if target is not None else [k for k, v in fit.params.items() if v["vary"]]
    spec = get_model(fit.model).params
    for name in names:
        value, err = fit.value(name), fit.stderr(name)
        if not np.isfinite(err):
            return f"{name} has no error estimate"
        span = spec[name].max - spec[name].min
        near = 1e-3 * span if np.isfinite(span) else 0.0
        if value - spec[name].min <= near or spec[name].max - value <= near:
            return f"{name} = {value:.4g} sits at the edge of its range"
        if target is not None and err > POOR_REL_STDERR * abs(value):
            return f"{name} = {value:.4g} ± {err:.2g} is barely determined"
    return None


__all__ = ["EXPLORE_FRACTION", "Pick", "Sensitivity", "choose_batch", "covariance", "fit_is_poor", "sensitivity",
           "space_filling"]
