"""Argument checks that every plan runs before its first message.

Each error names the argument, the offending value and the allowed range, so a
user at the table can fix the call before anything moves.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from femtospin import analysis

MIN_WAVEFORM_DELAYS = 16  # fewer delays are no waveform to deconvolve: the live analysis leaves them alone
BASELINE_STEPS = 8  # the baseline's step is that of the grid's first points
DEFAULT_DETECTOR = "gap250"  # the table records no model detector (or a measured h): the common one


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


def check_baseline(name: str, delays: np.ndarray, setup: dict | None = None, *, sweeps: int = 1) -> None:
    """A THz-emission delay grid that starts early enough before time zero for its analysis.

    The analysis needs a baseline before the expected time zero (0 fs, the
    calibrated one): :func:`femtospin.analysis.baseline_needed_fs` for the
    table's detector, the grid's step where the baseline is, and the number of
    sweeps. A single delay or fewer than ``MIN_WAVEFORM_DELAYS`` are exempt
    (series at one delay), and so is a TR-MOKE table.

    Parameters
    ----------
    name : str
        The argument, for the message.
    delays : ndarray
        The plan's delays (fs).
    setup : dict, optional
        The table's ``detection`` and ``pump`` as in its start document
        (:attr:`~femtospin.acquisition.Table.setup`); without it GaP 250 µm
        and the default pump are assumed.
    sweeps : int
        Sweeps per condition set (the plan's repeats): two or more measure the
        noise from their scatter and need a shorter baseline.

    Raises
    ------
    PlanArgumentError
        Naming where the grid starts and where it must start.
    """
    grid = np.unique(np.asarray(delays, float))
    detection = (setup or {}).get("detection") or {}
    if grid.size < MIN_WAVEFORM_DELAYS or detection.get("mode", "eos") != "eos":
        return
    detector = detection.get("crystal")
    if detector not in analysis.DETECTORS:
        detector = DEFAULT_DETECTOR
    probe = float(detection.get("probe_fwhm_fs") or 20.0)
    fwhm = ((setup or {}).get("pump") or {}).get("fwhm_fs")
    dt = float(np.median(np.diff(grid[: BASELINE_STEPS + 1])))

    def needed(n: int) -> float:
        extra = {"fwhm_fs": float(fwhm)} if fwhm else {}
        return float(np.ceil(analysis.baseline_needed_fs(detector, dt, probe, sweeps=n, **extra)))

    start = float(grid[0])
    if start <= -needed(sweeps):
        return
    # repeats measure the noise from their scatter, which needs far less baseline: say so
    hint = "" if sweeps >= 2 else (
        "; or measure 2 or more repeats" if start <= -needed(2) else f"; with 2 or more repeats from {-needed(2):g} fs")
    raise PlanArgumentError(f"{name}: the scan starts at {start:g} fs; the analysis needs a baseline from "
                            f"{-needed(sweeps):g} fs or earlier ({analysis.crystal(detector).name}, {dt:g} fs "
                            f"steps, {sweeps} sweep{'s' if sweeps > 1 else ''}){hint}")


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
