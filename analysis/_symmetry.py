"""Condition averaging, sweeps, and the symmetry components of physics.md §3.

Input is long format: one sample per row, with a delay, a signal and the values
of the condition columns (``magnetization`` ±1, ``angle_deg`` 0/180,
``helicity`` ±1/0), optionally the sweep index ``repeat``. Delays need not be
uniform, nor identical between sweeps: readbacks within :data:`DELAY_TOL_FS`
of each other are one delay point.

Sweeps are the unit of drift. A sweep is one pass over the delays of a
condition set: the ``repeat`` value, and within it the first, second, …
measurement of a delay. The n-th sweep of every condition set together form
the n-th sweep of each component, so the scatter between sweeps measures the
noise of a component without any model.

Each component is a linear combination of condition averages (its
coefficients are kept, so a noise model can be propagated to it):

``mean``
    Average over every condition.
``odd_M``
    [S(+M) − S(−M)]/2, averaged over helicity; at 0° when both 0° and 180° were
    measured (the turning average would cancel the electric-dipole part).
``plus_angle``, ``minus_angle``
    S± = [B(0°) ± B(180°)]/2, where B is the odd-in-M part at that angle when
    both signs of M were measured, else the average over the other conditions.
    For an F|N stack ``minus_angle`` is the spin current, for a single F
    ``plus_angle`` holds its demagnetization field.
``odd_helicity``
    [S(σ+) − S(σ−)]/2, averaged over M; at 0° when both angles were measured.

A component is defined at the delays every one of its condition sets has
measured; a component whose conditions are missing (e.g. only +M) is absent,
and :func:`components` raises only for a component that was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CONDITIONS = ("magnetization", "angle_deg", "helicity")
ALLOWED = {"magnetization": (-1.0, 1.0), "angle_deg": (0.0, 180.0), "helicity": (-1.0, 0.0, 1.0)}
COMPONENTS = ("mean", "odd_M", "plus_angle", "minus_angle", "odd_helicity")
DELAY_TOL_FS = 0.5  # encoder readbacks closer than this (and than a quarter step) are one delay point


@dataclass
class Component:
    """A waveform with per-point standard errors.

    Attributes
    ----------
    delay_fs, value, stderr : ndarray
        Delays, the component, and its standard error (scatter between sweeps
        over √sweeps; NaN with a single sweep).
    sweeps : ndarray or None
        The component of each sweep, shape (sweeps, delays).
    coef : dict
        ``{condition set: coefficient}``: the component is Σ coef·average.
    """

    delay_fs: np.ndarray
    value: np.ndarray
    stderr: np.ndarray
    sweeps: np.ndarray | None = None
    coef: dict = field(default_factory=dict)

    @property
    def n_sweeps(self) -> int:
        return 0 if self.sweeps is None else int(self.sweeps.shape[0])

    def to_dict(self) -> dict:
        """The arrays by name (``json_safe`` makes them JSON)."""
        return {"delay_fs": self.delay_fs, "value": self.value, "stderr": self.stderr}


@dataclass
class ConditionAverages:
    """Averages and sweeps per condition set on a common delay grid.

    Attributes
    ----------
    delay_fs : ndarray
        Sorted delay points (mean readback of each point).
    names : tuple of str
        Condition columns present.
    groups : dict
        ``{conditions tuple: (mean, stderr, count)}``, the tuple ordered as
        ``names``; NaN mean where the set has no sample at that delay.
    sweeps : dict
        ``{conditions tuple: ndarray (sweeps, delays)}``, NaN where a sweep has no sample.
    """

    delay_fs: np.ndarray
    names: tuple[str, ...]
    groups: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]]
    sweeps: dict[tuple, np.ndarray] = field(default_factory=dict)

    def values(self, name: str) -> set[float]:
        i = self.names.index(name) if name in self.names else None
        return {key[i] for key in self.groups} if i is not None else set()

    @property
    def has_repeats(self) -> bool:
        return all(np.all(count[count > 0] >= 2) for _, _, count in self.groups.values())


def delay_points(delay_fs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group delay readbacks into points.

    Readbacks closer than DELAY_TOL_FS are one point when the points are spaced
    by 2 fs or more; for finer spacings, closer than a quarter of the median spacing.

    Returns
    -------
    centres : ndarray
        Mean readback of each point, sorted.
    index : ndarray of int
        The point of each readback.
    """
    d = np.asarray(delay_fs, float)
    order = np.argsort(d, kind="stable")
    ds = d[order]
    gaps = np.diff(ds)
    steps = gaps[gaps > DELAY_TOL_FS]  # spacings between points; smaller gaps are readback scatter
    distinct = gaps[gaps > 1e-6]
    if steps.size and np.median(steps) >= 4 * DELAY_TOL_FS:
        tol = DELAY_TOL_FS
    else:  # sub-femtosecond spacing (a fly scan's samples): only equal readbacks are one point
        tol = 0.25 * float(np.median(distinct)) if distinct.size else DELAY_TOL_FS
    point_sorted = np.concatenate([[0], np.cumsum(gaps > tol)])
    index = np.empty(d.size, int)
    index[order] = point_sorted
    n = int(point_sorted[-1]) + 1 if d.size else 0
    centres = np.bincount(index, weights=d, minlength=n) / np.maximum(np.bincount(index, minlength=n), 1)
    return centres, index


def _sweep_rank(point: np.ndarray, repeat: np.ndarray) -> np.ndarray:
    """Sweep of each row of one condition set: by ``repeat``, then by the order a point recurs within it."""
    n = point.size
    combined = point.astype(np.int64) * (int(repeat.max(initial=0)) + 1) + repeat
    order = np.argsort(combined, kind="stable")
    cs = combined[order]
    first = np.concatenate([[0], np.nonzero(np.diff(cs))[0] + 1])
    run_start = np.repeat(first, np.diff(np.concatenate([first, [n]])))
    occurrence = np.empty(n, np.int64)
    occurrence[order] = np.arange(n) - run_start
    label = repeat.astype(np.int64) * (n + 1) + occurrence
    return np.unique(label, return_inverse=True)[1].reshape(-1)


def average_conditions(delay_fs: np.ndarray, signal: np.ndarray, conditions: dict[str, np.ndarray] | None = None,
                       repeat: np.ndarray | None = None) -> ConditionAverages:
    """Average repeats per condition set and delay point, keeping each sweep.

    Parameters
    ----------
    delay_fs, signal : ndarray
        One value per row.
    conditions : dict, optional
        Condition columns by name (any of :data:`CONDITIONS`), one value per row.
    repeat : ndarray, optional
        Sweep index per row; without it the n-th measurement of a delay in a
        condition set belongs to sweep n.

    Returns
    -------
    ConditionAverages

    Raises
    ------
    ValueError
        On unknown condition names or values, NaNs or length mismatch.
    """
    d = np.asarray(delay_fs, float)
    s = np.asarray(signal, float)
    conditions = dict(conditions or {})
    if d.shape != s.shape or d.ndim != 1:
        raise ValueError(f"delay_fs and signal must be 1-d of equal length, got {d.shape} and {s.shape}")
    for name, arr in [("delay_fs", d), ("signal", s)]:
        bad = np.nonzero(~np.isfinite(arr))[0]
        if bad.size:
            raise ValueError(f"column {name!r} has a NaN or infinite value at row {bad[0] + 1}")
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown condition column(s) {sorted(unknown)}; known: {', '.join(CONDITIONS)}")
    names = tuple(n for n in CONDITIONS if n in conditions)
    cols = []
    for name in names:
        c = np.asarray(conditions[name], float)
        if c.shape != d.shape:
            raise ValueError(f"condition {name!r} has {c.size} values for {d.size} rows")
        bad = np.nonzero(~np.isin(c, ALLOWED[name]))[0]
        if bad.size:
            raise ValueError(f"column {name!r} row {bad[0] + 1}: value {c[bad[0]]!r} is not one of "
                             f"{', '.join(f'{v:g}' for v in ALLOWED[name])}")
        cols.append(c)
    if repeat is None:
        rep = np.zeros(d.size, np.int64)
    else:
        r = np.asarray(repeat, float)
        if r.shape != d.shape or not np.all(np.isfinite(r)):
            raise ValueError(f"repeat must hold one finite value per row ({d.size} rows)")
        rep = np.unique(r, return_inverse=True)[1].reshape(-1).astype(np.int64)
    grid, point = delay_points(d)
    key_rows = np.column_stack(cols) if cols else np.zeros((d.size, 0))
    groups, sweeps = {}, {}
    for key in sorted(tuple(float(v) for v in row) for row in np.unique(key_rows, axis=0)):
        sel = np.all(key_rows == np.asarray(key), axis=1) if names else np.ones(d.size, bool)
        idx = point[sel]
        rank = _sweep_rank(idx, rep[sel])
        table = np.full((int(rank.max()) + 1, grid.size), np.nan)
        table[rank, idx] = s[sel]
        count = np.bincount(idx, minlength=grid.size).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(idx, weights=s[sel], minlength=grid.size) / count
            sq = np.bincount(idx, weights=(s[sel] - mean[idx]) ** 2, minlength=grid.size)
            stderr = np.where(count >= 2, np.sqrt(sq / np.maximum(count - 1, 1) / count), np.nan)
        groups[key], sweeps[key] = (mean, stderr, count), table
    return ConditionAverages(grid, names, groups, sweeps)


def _select(avg: ConditionAverages, select: dict[str, float]) -> dict[tuple, float]:
    """Equal-weight average over the condition sets matching ``select``, as coefficients."""
    keys = [k for k in avg.groups
            if all(k[avg.names.index(n)] == v for n, v in select.items() if n in avg.names)]
    return {k: 1.0 / len(keys) for k in keys}


def _combine(a: dict, b: dict, sign: float) -> dict:
    """(a + sign·b)/2 of two coefficient sets."""
    out = {k: 0.5 * v for k, v in a.items()}
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + 0.5 * sign * v
    return {k: v for k, v in out.items() if v != 0.0}


def _needs(avg: ConditionAverages, name: str, values: tuple[float, float], component: str) -> str | None:
    have = avg.values(name)
    if not set(values) <= have:
        found = ", ".join(f"{v:g}" for v in sorted(have)) or "no such column"
        return (f"component {component!r} needs {name} = {values[0]:g} and {values[1]:g}; "
                f"the data have {found}")
    return None


def _form(avg: ConditionAverages, coef: dict) -> Component | None:
    means = np.array([avg.groups[k][0] for k in coef])
    valid = np.all(np.isfinite(means), axis=0)
    if not valid.any():
        return None
    c = np.array(list(coef.values()))
    value = c @ means[:, valid]
    n_sweeps = min(avg.sweeps[k].shape[0] for k in coef)
    per_sweep = np.einsum("k,krd->rd", c, np.array([avg.sweeps[k][:n_sweeps][:, valid] for k in coef]))
    complete = np.all(np.isfinite(per_sweep), axis=1)
    if complete.sum() >= 2:
        per_sweep = per_sweep[complete]
        stderr = np.std(per_sweep, axis=0, ddof=1) / np.sqrt(per_sweep.shape[0])
    elif _uneven(per_sweep):
        # sweeps over different delays (an adaptive design): each keeps its own points, NaN elsewhere
        per_sweep = per_sweep[np.any(np.isfinite(per_sweep), axis=1)]
        n = np.sum(np.isfinite(per_sweep), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = np.nanstd(np.where(n >= 2, per_sweep, 0.0), axis=0, ddof=1)
        stderr = np.where(n >= 2, spread / np.sqrt(np.maximum(n, 1)), np.nan)
    else:
        errs = np.array([avg.groups[k][1] for k in coef])[:, valid]
        stderr = np.sqrt(c**2 @ errs**2)
        per_sweep = per_sweep[complete] if complete.any() else None
    return Component(avg.delay_fs[valid], value, stderr, per_sweep, dict(coef))


MIN_REPEATED_DELAYS = 8  # delays measured in two or more sweeps that uneven sweeps need to measure the noise


def _uneven(per_sweep: np.ndarray) -> bool:
    """Sweeps that do not each cover every delay, but measure enough delays twice or more to scatter."""
    return bool(np.sum(np.sum(np.isfinite(per_sweep), axis=0) >= 2) >= MIN_REPEATED_DELAYS)


def components(avg: ConditionAverages, require: tuple[str, ...] | list[str] = ()) -> dict[str, Component]:
    """The symmetry components that the measured conditions allow (see module docstring).

    Parameters
    ----------
    avg : ConditionAverages
    require : sequence of str, optional
        Components that must be formed; a missing one raises.

    Returns
    -------
    dict
        ``{name: Component}``.

    Raises
    ------
    ValueError
        If a required component cannot be formed, naming the missing condition.
    """
    unknown = set(require) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown component(s) {sorted(unknown)}; known: {', '.join(COMPONENTS)}")
    both_angles = {0.0, 180.0} <= avg.values("angle_deg")
    both_m = {-1.0, 1.0} <= avg.values("magnetization")
    at0 = {"angle_deg": 0.0} if both_angles else {}
    coefs: dict[str, dict] = {"mean": _select(avg, {})}
    problems = {}

    def odd_m(extra):
        return _combine(_select(avg, {"magnetization": 1.0, **extra}),
                        _select(avg, {"magnetization": -1.0, **extra}), -1.0)

    problems["odd_M"] = _needs(avg, "magnetization", (1.0, -1.0), "odd_M")
    if problems["odd_M"] is None:
        coefs["odd_M"] = odd_m(at0)
    problem = _needs(avg, "angle_deg", (0.0, 180.0), "plus_angle/minus_angle")
    problems["plus_angle"] = problems["minus_angle"] = problem
    if problem is None:
        if both_m:
            b0, b180 = odd_m({"angle_deg": 0.0}), odd_m({"angle_deg": 180.0})
        else:
            b0, b180 = _select(avg, {"angle_deg": 0.0}), _select(avg, {"angle_deg": 180.0})
        coefs["plus_angle"], coefs["minus_angle"] = _combine(b0, b180, 1.0), _combine(b0, b180, -1.0)
    problems["odd_helicity"] = _needs(avg, "helicity", (1.0, -1.0), "odd_helicity")
    if problems["odd_helicity"] is None:
        coefs["odd_helicity"] = _combine(_select(avg, {"helicity": 1.0, **at0}),
                                         _select(avg, {"helicity": -1.0, **at0}), -1.0)
    out = {}
    for name, coef in coefs.items():
        comp = _form(avg, coef)
        if comp is None:
            problems[name] = f"component {name!r}: its condition sets share no delay"
        else:
            out[name] = comp
    for name in require:
        if name not in out:
            raise ValueError(problems[name])
    return out
