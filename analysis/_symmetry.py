"""Condition averaging and the symmetry components of physics.md §3.

Input is long format: one sample per row, with a delay, a signal and the values
of the condition columns (``magnetization`` ±1, ``angle_deg`` 0/180,
``helicity`` ±1/0). Rows with the same conditions and delay are repeats; they
are averaged and their standard error is the scatter over √n.

Components (each on the common delay grid, with standard errors propagated in
quadrature from the condition averages):

``mean``
    Average over every condition.
``odd_M``
    [S(+M) − S(−M)]/2, averaged over helicity; at 0° when both 0° and 180° were
    measured (the turning average would cancel the electric-dipole part).
``plus_angle``, ``minus_angle``
    S± = [B(0°) ± B(180°)]/2, where B is the odd-in-M part at that angle when
    both signs of M were measured, else the average over the other conditions.
    For an F|N stack ``minus_angle`` is the spin current.
``odd_helicity``
    [S(σ+) − S(σ−)]/2, averaged over M; at 0° when both angles were measured.

A component whose conditions are missing (e.g. only +M) is simply absent;
:func:`components` raises only for a component that was asked for explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONDITIONS = ("magnetization", "angle_deg", "helicity")
ALLOWED = {"magnetization": (-1.0, 1.0), "angle_deg": (0.0, 180.0), "helicity": (-1.0, 0.0, 1.0)}
COMPONENTS = ("mean", "odd_M", "plus_angle", "minus_angle", "odd_helicity")
DELAY_DECIMALS = 3  # delays equal to 1e-3 fs are the same point


@dataclass
class Component:
    """A waveform with per-point standard errors."""

    delay_fs: np.ndarray
    value: np.ndarray
    stderr: np.ndarray

    def to_dict(self) -> dict:
        return {"delay_fs": self.delay_fs.tolist(), "value": self.value.tolist(),
                "stderr": [None if not np.isfinite(x) else float(x) for x in self.stderr]}


@dataclass
class ConditionAverages:
    """Averages per condition set on a common delay grid.

    Attributes
    ----------
    delay_fs : ndarray
        Sorted common delays.
    names : tuple of str
        Condition columns present.
    groups : dict
        ``{conditions tuple: (mean, stderr, count)}``, the tuple ordered as ``names``.
    """

    delay_fs: np.ndarray
    names: tuple[str, ...]
    groups: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]]

    def values(self, name: str) -> set[float]:
        i = self.names.index(name) if name in self.names else None
        return {key[i] for key in self.groups} if i is not None else set()

    @property
    def has_repeats(self) -> bool:
        return all(np.all(count >= 2) for _, _, count in self.groups.values())


def average_conditions(delay_fs: np.ndarray, signal: np.ndarray,
                       conditions: dict[str, np.ndarray] | None = None) -> ConditionAverages:
    """Average repeats per condition set and delay.

    Parameters
    ----------
    delay_fs, signal : ndarray
        One value per row.
    conditions : dict, optional
        Condition columns by name (any of :data:`CONDITIONS`), one value per row.

    Returns
    -------
    ConditionAverages

    Raises
    ------
    ValueError
        On unknown condition names or values, NaNs, length mismatch, or when a
        condition set lacks delays that another one has.
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
    names = tuple(n for n in CONDITIONS if n in conditions)
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"unknown condition column(s) {sorted(unknown)}; known: {', '.join(CONDITIONS)}")
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
    key_rows = np.column_stack(cols) if cols else np.zeros((d.size, 0))
    rounded = np.round(d, DELAY_DECIMALS)
    grid = np.unique(rounded)
    groups = {}
    for key in {tuple(row) for row in key_rows.tolist()}:
        sel = np.all(key_rows == np.asarray(key), axis=1) if names else np.ones(d.size, bool)
        idx = np.searchsorted(grid, rounded[sel])
        count = np.bincount(idx, minlength=grid.size).astype(float)
        missing = np.nonzero(count == 0)[0]
        if missing.size:
            label = ", ".join(f"{n}={v:g}" for n, v in zip(names, key))
            raise ValueError(f"condition set ({label}) has no sample at delay {grid[missing[0]]:g} fs "
                             f"({missing.size} delays missing)")
        total = np.bincount(idx, weights=s[sel], minlength=grid.size)
        mean = total / count
        sq = np.bincount(idx, weights=(s[sel] - mean[idx]) ** 2, minlength=grid.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            stderr = np.where(count >= 2, np.sqrt(sq / np.maximum(count - 1, 1) / count), np.nan)
        groups[key] = (mean, stderr, count)
    return ConditionAverages(grid, names, groups)


def _combine(avg: ConditionAverages, select: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Average (and its stderr) over the condition sets matching ``select``."""
    keys = [k for k in avg.groups
            if all(k[avg.names.index(n)] == v for n, v in select.items() if n in avg.names)]
    means = np.array([avg.groups[k][0] for k in keys])
    errs = np.array([avg.groups[k][1] for k in keys])
    return means.mean(axis=0), np.sqrt(np.sum(errs**2, axis=0)) / len(keys)


def _half_difference(a, b):
    return (a[0] - b[0]) / 2, np.sqrt(a[1] ** 2 + b[1] ** 2) / 2


def _half_sum(a, b):
    return (a[0] + b[0]) / 2, np.sqrt(a[1] ** 2 + b[1] ** 2) / 2


def _needs(avg: ConditionAverages, name: str, values: tuple[float, float], component: str) -> str | None:
    have = avg.values(name)
    if not set(values) <= have:
        found = ", ".join(f"{v:g}" for v in sorted(have)) or "no such column"
        return (f"component {component!r} needs {name} = {values[0]:g} and {values[1]:g}; "
                f"the data have {found}")
    return None


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
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {"mean": _combine(avg, {})}
    problems = {}

    def odd_m(extra):
        return _half_difference(_combine(avg, {"magnetization": 1.0, **extra}),
                                _combine(avg, {"magnetization": -1.0, **extra}))

    problems["odd_M"] = _needs(avg, "magnetization", (1.0, -1.0), "odd_M")
    if problems["odd_M"] is None:
        out["odd_M"] = odd_m(at0)
    problem = _needs(avg, "angle_deg", (0.0, 180.0), "plus_angle/minus_angle")
    problems["plus_angle"] = problems["minus_angle"] = problem
    if problem is None:
        if both_m:
            b0, b180 = odd_m({"angle_deg": 0.0}), odd_m({"angle_deg": 180.0})
        else:
            b0, b180 = _combine(avg, {"angle_deg": 0.0}), _combine(avg, {"angle_deg": 180.0})
        out["plus_angle"], out["minus_angle"] = _half_sum(b0, b180), _half_difference(b0, b180)
    problems["odd_helicity"] = _needs(avg, "helicity", (1.0, -1.0), "odd_helicity")
    if problems["odd_helicity"] is None:
        out["odd_helicity"] = _half_difference(_combine(avg, {"helicity": 1.0, **at0}),
                                               _combine(avg, {"helicity": -1.0, **at0}))
    for name in require:
        if name not in out:
            raise ValueError(problems[name])
    return {k: Component(avg.delay_fs, v, e) for k, (v, e) in out.items()}
