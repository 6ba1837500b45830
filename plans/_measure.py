"""The one executor behind every measurement plan: a list of condition steps, each a set of delays."""

from __future__ import annotations

from collections.abc import Sequence

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
from ophyd import Kind, Signal

from ._conditions import Dimension
from ._steps import Measurement, lockin_settle_s, make_safe, read_at

PER_POINT_OVERHEAD_S = 0.02  # RunEngine, storage and instrument I/O per point


def measure(lockin, stage, delays: np.ndarray, dims: Sequence[Dimension], steps: list[tuple[dict, list[int]]], *,
            plan_name: str, plan_args: dict, power_meter=None, magnet=None, heater=None, readables=(),
            md: dict | None = None, prologue=None, epilogue=None, extra_s: float = 0.0) -> Measurement:
    """One run over ``steps``, as made by :func:`schedule` or by a specialised plan.

    Each step sets the conditions that changed (a checkpoint first, so a
    suspension redoes them) and measures its delays. Every event carries the
    stage and lock-in readings, the power meter, the readbacks of the devices
    that set conditions, and one field per condition. On any exit the table is
    made safe inside the run, so the closing baseline shows the safe state.

    ``magnet`` and ``heater`` are the devices :func:`make_safe` must bring back;
    pass the heater only if the plan changed its setpoint. ``prologue`` and
    ``epilogue`` (callables returning plans) run inside the run before the first
    and after the last step (TR-MOKE: the static Kerr signal); ``extra_s`` is their
    expected duration.
    """
    by_name = {d.name: d for d in dims}
    conditions = list(steps[0][0]) if steps else []
    signals = {name: Signal(name=name, value=steps[0][0][name], kind=Kind.hinted) for name in conditions}
    devices = unique_devices([stage, lockin, *([power_meter] if power_meter is not None else []),
                       *(dev for d in dims for dev in d.devices), *readables])
    detectors = [*devices, *signals.values()]
    settle = lockin_settle_s(lockin)
    num_points = sum(len(idx) for _, idx in steps)
    values = {name: list(dict.fromkeys(conds[name] for conds, _ in steps)) for name in conditions}
    estimated = estimate_s(steps, by_name, delays, settle, stage) + extra_s
    _md = {
        "plan_name": plan_name,
        "plan_args": plan_args,
        "num_points": num_points,
        "conditions": conditions,
        "condition_values": values,
        "settle_s": settle,
        "estimated_duration_s": estimated,
        "hints": {"dimensions": [([stage.delay.name], "primary")]},
        **(md or {}),
    }

    @bpp.run_decorator(md=_md)
    @bpp.finalize_decorator(lambda: make_safe(stage, magnet, heater))
    def run():
        current: dict = {}
        if prologue is not None:
            yield from prologue()
        yield from run_steps(steps, current, conditions, by_name, signals, stage, delays, settle, detectors,
                             power_meter)
        if epilogue is not None:
            yield from epilogue()

    return Measurement(run(), _md, estimated)


def run_steps(steps, current: dict, conditions, by_name: dict[str, Dimension], signals: dict, stage,
              delays: np.ndarray, settle: float, detectors, power_meter=None, on_reading=None):
    """Measure ``steps``: the conditions that changed, then each delay (a checkpoint before every point, so a
    suspension redoes only it); ``on_reading(reading, conds)`` sees each event's reading."""
    for conds, indices in steps:
        yield from bps.checkpoint()
        yield from set_conditions(conds, current, conditions, by_name, signals)
        for k, i in enumerate(indices):
            if k:
                yield from bps.checkpoint()
            reading = yield from read_at(stage, delays[i], settle, detectors, power_meter)
            if on_reading is not None:
                on_reading(reading, conds)


def set_conditions(conds: dict, current: dict, conditions, by_name: dict[str, Dimension], signals: dict):
    """Move every condition that changed since ``current`` (updated) and record its value in its signal."""
    for name in conditions:
        if name in current and current[name] == conds[name]:
            continue
        dim = by_name.get(name)
        if dim is not None and dim.move is not None:
            yield from dim.move(conds[name])
        yield from bps.mv(signals[name], conds[name])
        current[name] = conds[name]


def change_s(conds: dict, current: dict, by_name: dict[str, Dimension]) -> float:
    """Time to change the conditions from ``current`` (updated) to ``conds``."""
    total = 0.0
    for name, value in conds.items():
        if name in by_name and current.get(name) != value:
            total += by_name[name].change_s(current.get(name), value)
        current[name] = value
    return total


def estimate_s(steps, by_name: dict[str, Dimension], delays: np.ndarray, settle_s: float, stage) -> float:
    """Expected duration: lock-in settling and stage travel per point plus every condition change."""
    velocity = float(stage.velocity_mm_s.get()) if hasattr(stage, "velocity_mm_s") else 10.0
    fs_per_mm = float(stage.fs_per_mm.get())
    total, current, last = 0.0, {}, float(stage.park_fs.get())
    for conds, indices in steps:
        total += change_s(conds, current, by_name)
        for i in indices:
            total += settle_s + abs(delays[i] - last) / fs_per_mm / velocity + PER_POINT_OVERHEAD_S
            last = delays[i]
    return float(total)


def unique_devices(devices):
    """Each device once, in the order first given."""
    seen, out = set(), []
    for d in devices:
        if id(d) not in seen:
            seen.add(id(d))
            out.append(d)
    return out
