"""Argument checks that every plan runs before its first message.

Each error names the argument, the offending value and the allowed range, so a
user at the table can fix the call before anything moves.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


MAX_POINTS = 1_000_000  # per run: days of measuring at any settle time, and a run file of several hundred MB


class PlanArgumentError(ValueError):
    """A plan argument is outside what the table allows; nothing has moved."""


def check_points(name: str, n: float, given: str = "") -> None:
    """At most :data:`MAX_POINTS` points, checked from the count before anything is allocated."""
    if n > MAX_POINTS:
        raise PlanArgumentError(f"{name}: {given + ' ' if given else ''}gives {n:.4g} points; at most "
                                f"{MAX_POINTS:,} per run".replace(",", " "))


def check_distinct(name: str, values: list, key=lambda v: v) -> None:
    """Each condition value once: a repeated one would be measured twice under one label."""
    seen = set()
    for v in values:
        if key(v) in seen:
            raise PlanArgumentError(f"{name}: {v!r} is given twice; give each value once (--repeats measures again)")
        seen.add(key(v))


def check_delays(name: str, delays: Iterable[float], stage) -> np.ndarray:
    """Finite, non-empty delays (fs) within the stage's soft limits."""
    values = np.atleast_1d(np.asarray(list(delays) if not isinstance(delays, np.ndarray) else delays, float))
    if values.size == 0:
        raise PlanArgumentError(f"{name}: empty; give at least one delay in fs")
    if not np.all(np.isfinite(values)):
        raise PlanArgumentError(f"{name}: contains NaN or infinite values")
    lo, hi = stage.low_limit_fs.get(), stage.high_limit_fs.get()
    bad = values[(values < lo) | (values > hi)]
    if bad.size:
        raise PlanArgumentError(f"{name}: {bad[0]:g} fs is outside the stage travel [{lo:g}, {hi:g}] fs")
    return values


def check_positive(name: str, value: float, upper: float | None = None, units: str = "") -> float:
    """A finite value > 0 (and ≤ ``upper`` when given)."""
    if not (np.isfinite(value) and value > 0 and (upper is None or value <= upper)):
        allowed = f"(0, {upper:g}] {units}" if upper is not None else f"> 0 {units}"
        raise PlanArgumentError(f"{name}: {value} {units} is outside the allowed range {allowed}".replace("  ", " "))
    return float(value)


def check_choices(name: str, values: Iterable, allowed: Iterable) -> list:
    """A non-empty list whose every item is one of ``allowed``."""
    values, allowed = list(values), list(allowed)
    if not values:
        raise PlanArgumentError(f"{name}: empty; choose from {allowed}")
    for v in values:
        if v not in allowed:
            raise PlanArgumentError(f"{name}: {v!r} is not one of {allowed}")
    check_distinct(name, values)
    return values


def check_values(name: str, values: Iterable[float], low: float, high: float, units: str, *,
                 low_open: bool = False) -> list[float]:
    """A non-empty list of finite values within [low, high] (or (low, high] with ``low_open``)."""
    values = [float(v) for v in np.atleast_1d(np.asarray(list(values), float))]
    bracket = "(" if low_open else "["
    if not values:
        raise PlanArgumentError(f"{name}: empty; give at least one value in {bracket}{low:g}, {high:g}] {units}")
    for v in values:
        if not (np.isfinite(v) and (v > low if low_open else v >= low) and v <= high):
            raise PlanArgumentError(f"{name}: {v:g} {units} is outside the allowed range "
                                    f"{bracket}{low:g}, {high:g}] {units}")
    check_distinct(name, values)
    return values


def require(name: str, device, why: str) -> None:
    """A device role the arguments need."""
    if device is None:
        raise PlanArgumentError(f"{name}: required when {why}; this table has none")


def delay_grid(start_fs: float, stop_fs: float, step_fs: float, *, fine: tuple[float, float, float] | None = None
               ) -> np.ndarray:
    """Uniform delay grid from ``start_fs`` to ``stop_fs`` inclusive, optionally finer near time zero.

    ``fine = (lo_fs, hi_fs, fine_step_fs)`` replaces the points within [lo, hi] by a
    grid of ``fine_step_fs``.
    """
    grid = _uniform("", start_fs, stop_fs, step_fs)
    if fine is None:
        return grid
    lo, hi, fine_step = fine
    inner = _uniform("fine ", lo, hi, fine_step)
    if lo < start_fs or hi > stop_fs:
        raise PlanArgumentError(f"fine: [{lo:g}, {hi:g}] fs is not within [{start_fs:g}, {stop_fs:g}] fs")
    return np.concatenate([grid[grid < lo], inner, grid[grid > hi]])


def _uniform(prefix: str, start_fs: float, stop_fs: float, step_fs: float) -> np.ndarray:
    name = f"{prefix}delays" if prefix else "delays"
    if not all(np.isfinite([start_fs, stop_fs, step_fs])):
        raise PlanArgumentError(f"{name}: {start_fs:g}:{stop_fs:g}:{step_fs:g} fs; start, stop and step must be finite")
    if not step_fs > 0:
        raise PlanArgumentError(f"{prefix}step_fs: {step_fs} fs; must be > 0")
    if not stop_fs > start_fs:
        raise PlanArgumentError(f"{prefix}stop_fs: {stop_fs} fs; must be greater than {prefix}start_fs = {start_fs} fs")
    n = np.floor((stop_fs - start_fs) / step_fs + 1e-9) + 1
    check_points(name, n, f"{start_fs:g}:{stop_fs:g}:{step_fs:g} fs")
    return start_fs + step_fs * np.arange(int(n))
