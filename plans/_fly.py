"""Fly mode of every delay plan: each sweep a constant-velocity round trip read from the lock-in's buffer.

The steps are those of step mode (:func:`schedule`: conditions as dimensions,
repeats, abba order); only how a step's delays are measured differs. For each
step the stage goes to the start (a run-up below the first delay), the lock-in
settles, and a :class:`~femtospin.devices.DelayFlyer` sweeps up to the end and
back down at the rate :func:`femtospin.analysis.sweep_rate_fs_s` sets from τ, the
slope and the wanted resolution (the grid's finest step). Every buffered sample
goes to the ``fly`` stream with the delay its encoder readings give; the
samples are then averaged into bins of that step, up and down sweep with equal
weight, so the filter's lag cancels and its smear is an even kernel the analysis
models (the start document's ``fly`` entry). One ``primary`` event per bin
carries the same fields as a step-mode point.

A round trip whose pump power fell below ``LASER_DROP_FRACTION`` of its reading
before the sweep stays in the ``fly`` stream only (its ``fly_power`` shows the drop)
and is measured again, never in ``primary``; a stuck stage, a buffer overflow or Ctrl-C end the run as in step
mode, with the table made safe and every finished sweep kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
from ophyd import Kind, Signal

from femtospin import analysis
from femtospin.devices import DelayFlyer

from ._conditions import Dimension
from ._measure import PER_POINT_OVERHEAD_S, change_s, set_conditions, unique_devices
from ._steps import Measurement, lockin_settle_s, make_safe
from ._validate import PlanArgumentError

MODES = ("step", "fly")
LASER_DROP_FRACTION = 0.8  # a round trip whose pump power dipped below this × its start reading is repeated
MAX_ATTEMPTS = 5  # round trips of one step before the run gives up (the laser keeps dropping)
LASER_WAIT_S = 1.0  # between pump-power readings while waiting for the laser to come back
LASER_WAIT_MAX_S = 600.0
SAMPLES_PER_BIN = 8  # the buffer's rate: at least this many samples per bin of a sweep
MIN_SAMPLES_PER_BIN = 2
RUN_UP_TOLERANCE = 1e-3  # the run-up lets the filter's response to the start of motion decay to this
RUN_UP_STEPS = 4  # plus this many steps (the stage's backlash is taken up there)


def fly_settings(lockin, stage, delays: np.ndarray, buffer, smear_per_step: float = analysis.SMEAR_PER_STEP
                 ) -> dict:
    """Rate, velocity, buffer rate, run-up and grid of a fly sweep over ``delays``; checked against the buffer.

    Raises
    ------
    PlanArgumentError
        If the delays span no grid or a sweep needs more samples than the buffer holds.
    """
    try:
        grid = analysis.fly_grid(delays)
    except ValueError:
        raise PlanArgumentError("delays: fly mode needs at least 2 distinct delays (a sweep)") from None
    step = float(grid[1] - grid[0])
    tau, slope = float(lockin.time_constant.get()), int(lockin.slope_db.get())
    rate = analysis.sweep_rate_fs_s(step, tau, slope, smear_per_step)
    run_up = analysis.settle_time(tau, slope, RUN_UP_TOLERANCE) * rate + RUN_UP_STEPS * step
    lo, hi = float(grid[0]) - step / 2 - run_up, float(grid[-1]) + step / 2 + run_up
    low, high = stage.low_limit_fs.get(), stage.high_limit_fs.get()
    if lo < low or hi > high:
        raise PlanArgumentError(f"delays: a fly sweep with its run-up spans [{lo:g}, {hi:g}] fs, outside the stage "
                                f"travel [{low:g}, {high:g}] fs")
    sweep_s = (hi - lo) / rate
    bin_s = step / rate
    rates = getattr(buffer, "rates_hz", None)
    wanted = SAMPLES_PER_BIN / bin_s
    fitting = buffer.capacity / sweep_s  # the fastest rate whose sweep fits the buffer
    chosen = min(wanted, fitting / 2)  # an instrument without a list of rates may round up by up to 2×
    if rates:
        ok = [r for r in rates if r <= fitting]
        chosen = min([r for r in ok if r >= wanted] or ok[-1:] or [rates[0]])
    if chosen * bin_s < MIN_SAMPLES_PER_BIN or chosen * sweep_s > buffer.capacity:
        raise PlanArgumentError(
            f"delays: a fly sweep of {sweep_s:.0f} s needs {MIN_SAMPLES_PER_BIN / bin_s * sweep_s:.0f} samples "
            f"or more; the lock-in's buffer holds {buffer.capacity}: narrow the range or coarsen the step")
    return {"step_fs": step, "rate_fs_s": rate, "velocity_mm_s": rate / float(stage.fs_per_mm.get()),
            "sample_rate_hz": float(chosen), "run_up_fs": run_up, "start_fs": lo, "stop_fs": hi,
            "sweep_s": sweep_s, "grid_fs": grid,
            "filter": analysis.SweepFilter.from_lockin(rate, tau, slope, up_fraction=0.5, bin_fs=step).to_dict()}


def make_flyer(lockin, stage, power_meter=None) -> DelayFlyer:
    """The flyer over this table's stage and lock-in, or a :class:`PlanArgumentError` naming what cannot fly."""
    if not hasattr(stage, "sweeper"):
        raise PlanArgumentError(f"mode: fly needs a delay stage that sweeps at constant velocity; {stage.name} "
                                f"cannot (use --mode step)")
    if not hasattr(lockin, "buffer"):
        raise PlanArgumentError(f"mode: fly needs a lock-in with an internal buffer; {lockin.name} has none "
                                f"(use --mode step)")
    try:
        motion = stage.sweeper(power_meter)
        buffer = lockin.buffer(motion)
    except TypeError as exc:
        raise PlanArgumentError(f"mode: {exc}") from None
    return DelayFlyer(motion, buffer, power_meter=power_meter, name="fly")


def fly_measure(lockin, stage, delays: np.ndarray, dims: Sequence[Dimension], steps: list[tuple[dict, list[int]]],
                *, plan_name: str, plan_args: dict, power_meter=None, magnet=None, heater=None, readables=(),
                md: dict | None = None) -> Measurement:
    """One run over ``steps`` as :func:`measure`, each step a fly round trip over all of ``delays``."""
    n = len(delays)
    if any(sorted(idx) != list(range(n)) for _, idx in steps):
        raise PlanArgumentError("interleave: fly mode sweeps every delay of a condition at once; use "
                                "interleave 'scan'")
    flyer = make_flyer(lockin, stage, power_meter)
    fly = fly_settings(lockin, stage, delays, flyer.buffer)
    grid = fly.pop("grid_fs")
    by_name = {d.name: d for d in dims}
    conditions = list(steps[0][0]) if steps else []
    cond_signals = {name: Signal(name=name, value=steps[0][0][name], kind=Kind.hinted) for name in conditions}
    point = point_signals(stage, lockin, power_meter)
    others = [d for d in unique_devices([*(dev for d in dims for dev in d.devices), *readables])
              if d is not stage and d is not lockin and d is not power_meter]
    detectors = [*point.values(), *others, *cond_signals.values()]
    settle = lockin_settle_s(lockin)
    estimated = fly_estimate_s(steps, by_name, fly, settle, stage)
    _md = {
        "plan_name": plan_name,
        "plan_args": plan_args,
        "num_points": len(grid) * len(steps),
        "conditions": conditions,
        "condition_values": {name: list(dict.fromkeys(c[name] for c, _ in steps)) for name in conditions},
        "settle_s": settle,
        "estimated_duration_s": estimated,
        "mode": "fly",
        "fly": dict(fly),
        "hints": {"dimensions": [([stage.delay.name], "primary")]},
        **(md or {}),
    }
    edges = bin_edges(grid)

    @bpp.run_decorator(md=_md)
    @bpp.finalize_decorator(lambda: safe_after_fly(flyer, stage, magnet, heater))
    def run():
        current: dict = {}
        yield from bps.mv(flyer.velocity_mm_s, fly["velocity_mm_s"], flyer.rate_hz, fly["sample_rate_hz"])
        for conds, _ in steps:
            yield from bps.checkpoint()
            yield from set_conditions(conds, current, conditions, by_name, cond_signals)
            binned = yield from round_trip(flyer, stage, fly, edges, settle, power_meter, where=conds)
            yield from emit_bins(binned, grid, point, detectors)

    return Measurement(run(), _md, estimated)


def bin_edges(grid: np.ndarray) -> np.ndarray:
    """Edges of bins one step wide centred on the (uniform) grid."""
    step = float(grid[1] - grid[0])
    return np.append(grid - step / 2, grid[-1] + step / 2)


def _sweep(flyer, stop_fs: float):
    yield from bps.mv(flyer.stop_fs, stop_fs)
    yield from bps.kickoff(flyer, wait=True)
    yield from bps.complete(flyer, wait=True)
    return (yield from bps.collect(flyer))


def _wait_for_laser(power_meter, reference: float):
    waited = 0.0
    while True:
        reading = yield from bps.rd(power_meter.power)  # a suspender sees it too
        if reading >= LASER_DROP_FRACTION * reference:
            return
        if waited >= LASER_WAIT_MAX_S:
            raise RuntimeError(f"{power_meter.name}: pump power {reading:.3g} W stayed below "
                               f"{LASER_DROP_FRACTION:g} × {reference:.3g} W for {waited:.0f} s")
        yield from bps.sleep(LASER_WAIT_S)
        waited += LASER_WAIT_S


def round_trip(flyer, stage, fly: dict, edges: np.ndarray, settle_s: float, power_meter=None, where=None):
    """Up and down sweep of one step, binned: {x, y, power, overload, samples} per bin.

    A round trip during which the pump power fell below ``LASER_DROP_FRACTION`` of its
    reading before the sweep stays in the ``fly`` stream only: the laser is waited
    for and the round trip measured again, at most ``MAX_ATTEMPTS`` times.
    """
    for _ in range(MAX_ATTEMPTS):
        yield from bps.mv(stage, fly["start_fs"])
        yield from bps.sleep(settle_s)
        reference = (yield from bps.rd(power_meter.power)) if power_meter is not None else None
        up = yield from _sweep(flyer, fly["stop_fs"])
        down = yield from _sweep(flyer, fly["start_fs"])
        samples = [_columns(up, flyer.name), _columns(down, flyer.name)]
        if reference is not None:
            low = min(float(np.nanmin(c["power"])) if c["power"].size else np.inf for c in samples)
            if low < LASER_DROP_FRACTION * reference:
                yield from _wait_for_laser(power_meter, reference)
                continue
        return _bin_round_trip(edges, samples)
    raise RuntimeError(f"fly: the pump power dropped during {MAX_ATTEMPTS} round trips in a row"
                       f"{f' at {where}' if where else ''}; none of them was recorded")


def emit_bins(binned: dict, grid: np.ndarray, point: dict, detectors: list):
    """One event per bin that both sweeps reached: the bin's centre as the delay, its values as the readings."""
    for k in np.nonzero(binned["samples"] > 0)[0]:
        for key, sig in point.items():
            value = grid[k] if key == "delay" else binned[key][k]
            sig.put(bool(value) if key == "overload" else float(value))
        yield from bps.trigger_and_read(detectors)


def point_signals(stage, lockin, power_meter=None) -> dict[str, Signal]:
    """Soft signals named as the step-mode fields, which carry each bin into its event."""
    fields = {"delay": stage.delay.name, "x": lockin.x.name, "y": lockin.y.name, "overload": lockin.overload.name,
              "samples": "fly_samples"}
    if power_meter is not None:
        fields["power"] = power_meter.power.name
    return {k: Signal(name=f, value=False if k == "overload" else 0.0, kind=Kind.hinted) for k, f in fields.items()}


def _columns(events: list, name: str) -> dict[str, np.ndarray]:
    keys = ("delay", "x", "y", "power", "overload", "direction")
    return {k: np.array([e["data"][f"{name}_{k}"] for e in events], float) for k in keys}


def _bin_round_trip(edges: np.ndarray, sweeps: list[dict]) -> dict[str, np.ndarray]:
    """Per bin: the mean of the up sweep's and the down sweep's bin means (equal weights: an even kernel)."""
    out, counts = {}, []
    for key in ("x", "y", "power"):
        means = []
        for s in sweeps:
            m, c = analysis.bin_samples(edges, s["delay"], s[key])
            means.append(m)
            if key == "x":
                counts.append(c)
        out[key] = 0.5 * (means[0] + means[1])
    both = (counts[0] > 0) & (counts[1] > 0)
    out["samples"] = np.where(both, counts[0] + counts[1], 0)
    overload = any(bool(s["overload"].any()) for s in sweeps)
    out["overload"] = np.full(edges.size - 1, overload)
    out["delay"] = 0.5 * (edges[1:] + edges[:-1])
    return out


def safe_after_fly(flyer, stage, magnet=None, heater=None):
    """Stop a sweep still running (the stage must not keep moving), then make the table safe as in step mode."""
    try:
        flyer.stop()
    except Exception:  # noqa: BLE001 — make_safe names the stage if it cannot be brought back
        pass
    yield from make_safe(stage, magnet, heater)


def fly_estimate_s(steps, by_name: dict[str, Dimension], fly: dict, settle_s: float, stage) -> float:
    """Expected duration: per step its condition changes, the move to the start, settling and the round trip."""
    velocity = float(stage.velocity_mm_s.get()) if hasattr(stage, "velocity_mm_s") else 10.0
    fs_per_mm = float(stage.fs_per_mm.get())
    total, current, last = 0.0, {}, float(stage.park_fs.get())
    for conds, _ in steps:
        total += change_s(conds, current, by_name)
        total += abs(fly["start_fs"] - last) / fs_per_mm / velocity + settle_s + 2 * fly["sweep_s"]
        total += PER_POINT_OVERHEAD_S
        last = fly["start_fs"]
    return float(total)
