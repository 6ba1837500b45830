"""Measurement conditions as dimensions, and the order in which a composite measurement visits them.

A condition (magnetization sign, sample angle, helicity, temperature, …) is one
:class:`Dimension`: its values, the plan that brings the table there, the
devices whose readback proves it, and a cost estimate for changing it. Every
plan turns its arguments into dimensions and a list of steps, and one executor
(:func:`femtospin.plans.measure`) runs any list of steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import product

import bluesky.plan_stubs as bps
import numpy as np

from ._steps import prepare_state, set_magnetization
from ._validate import (
    PlanArgumentError,
    check_choices,
    check_distinct,
    check_points,
    check_positive,
    check_values,
    require,
)

# Loop order, outermost first: slow conditions outside, cheap ones inside.
LOOP_ORDER = ("temperature_K", "spot_mm", "fluence_mJcm2", "state", "angle_deg", "helicity", "kerr",
              "magnetization")
FAST_BY_DEFAULT = ("state", "angle_deg", "helicity", "kerr", "magnetization")
HELICITY_QWP_DEG = {1: 45.0, -1: 135.0, 0: 0.0}  # σ+, σ−, linear
KERR_QWP_DEG = {"rotation": 0.0, "ellipticity": 45.0}  # probe quarter-wave plate


@dataclass(frozen=True)
class Dimension:
    """One condition of a measurement.

    Attributes
    ----------
    name : str
        Event field carrying the condition.
    values : tuple
        Values in the order given.
    units : str
    move : callable or None
        ``move(value)`` → plan bringing the table to ``value``; None for a pure label.
    devices : tuple
        Devices read with every event (their readbacks prove the condition).
    change_s : callable
        ``change_s(old, new)`` → estimated seconds to change; ``old`` is None at first.
    """

    name: str
    values: tuple
    units: str = ""
    move: Callable | None = None
    devices: tuple = ()
    change_s: Callable = field(default=lambda old, new: 0.0)


def _cfg(device, attr: str, default: float) -> float:
    signal = getattr(device, attr, None)
    return float(signal.get()) if signal is not None else default


def _mv(device):
    return lambda value: bps.mv(device, value)


def _rotation_s(mount, angle_of=lambda value: value):
    speed = _cfg(mount, "speed_deg_s", 20.0)

    def change_s(old, new):
        start = angle_of(old) if old is not None else 0.0
        return abs((angle_of(new) - start + 180) % 360 - 180) / speed + 0.5

    return change_s


def magnetization_dim(magnet, signs, saturation_mT: float, field_mT: float) -> Dimension:
    signs = check_choices("magnetization", signs, (1, -1))
    require("magnet", magnet, "magnetization is given")
    check_positive("saturation_mT", saturation_mT, magnet.max_field_mT.get(), "mT")
    if not 0 <= field_mT < saturation_mT:
        raise PlanArgumentError(f"field_mT: {field_mT} mT is outside [0, saturation_mT = {saturation_mT:g}) mT")
    ramp, settle = _cfg(magnet, "ramp_mT_s", 100.0), _cfg(magnet, "settle_s", 0.5)
    return Dimension("magnetization", tuple(signs), "", lambda s: set_magnetization(magnet, s, saturation_mT, field_mT),
                     (magnet,), lambda old, new: (2 * saturation_mT - field_mT) / ramp + 2 * settle)


def state_dim(magnet, states, saturation_mT: float, reverse_mT: float | None) -> Dimension:
    states = check_choices("states", states, ("P", "AP"))
    require("magnet", magnet, "states are given")
    check_positive("saturation_mT", saturation_mT, magnet.max_field_mT.get(), "mT")
    if "AP" in states:
        if reverse_mT is None:
            raise PlanArgumentError("reverse_mT: required for the AP state (a field between the two coercive fields)")
        check_positive("reverse_mT", reverse_mT, saturation_mT, "mT")
    ramp, settle = _cfg(magnet, "ramp_mT_s", 100.0), _cfg(magnet, "settle_s", 0.5)
    return Dimension("state", tuple(states), "", lambda s: prepare_state(magnet, s, saturation_mT, reverse_mT),
                     (magnet,), lambda old, new: 4 * saturation_mT / ramp + 3 * settle)


def angle_dim(mount, angles) -> Dimension:
    require("sample_rotation", mount, "angles are given")
    values = check_values("angles", angles, 0.0, 360.0, "deg")
    check_distinct("angles", values, key=lambda v: v % 360.0)  # 0° and 360° are one position
    return Dimension("angle_deg", tuple(values), "deg", _mv(mount), (mount,), _rotation_s(mount))


def helicity_dim(qwp, helicities) -> Dimension:
    require("pump_qwp", qwp, "helicities are given")
    values = check_choices("helicities", helicities, tuple(HELICITY_QWP_DEG))
    return Dimension("helicity", tuple(values), "", lambda h: bps.mv(qwp, HELICITY_QWP_DEG[h]), (qwp,),
                     _rotation_s(qwp, HELICITY_QWP_DEG.get))


def kerr_dim(qwp, kerr) -> Dimension:
    require("probe_qwp", qwp, "a Kerr quantity is given")
    values = check_choices("kerr", kerr, tuple(KERR_QWP_DEG))
    return Dimension("kerr", tuple(values), "", lambda k: bps.mv(qwp, KERR_QWP_DEG[k]), (qwp,),
                     _rotation_s(qwp, KERR_QWP_DEG.get))


def temperature_dim(heater, temperatures, ramp_K_per_min: float | None) -> Dimension:
    require("heater", heater, "temperatures are given")
    values = check_values("temperatures", temperatures, 0.0, heater.max_K.get(), "K", low_open=True)
    ramp = heater.ramp_K_per_min.get() if ramp_K_per_min is None else ramp_K_per_min
    check_positive("ramp_K_per_min", ramp, MAX_RAMP_K_PER_MIN, "K/min")
    hold = _cfg(heater, "hold_s", 30.0)

    def move(T):
        yield from bps.mv(heater.ramp_K_per_min, ramp)
        yield from bps.mv(heater, T)  # completes when the reading has held within the band

    def change_s(old, new):
        start = heater.temperature.get() if old is None else old
        return abs(new - start) / ramp * 60.0 + hold + 3 * 60.0  # ramp, thermal lag, hold

    return Dimension("temperature_K", tuple(values), "K", move, (heater,), change_s)


MAX_RAMP_K_PER_MIN = 20.0  # faster ramps risk thermal stress in thin films on glass


def spot_dim(spot, positions) -> Dimension:
    require("spot", spot, "spots are given")
    values = check_values("spots", positions, spot.low_limit_mm.get(), spot.high_limit_mm.get(), "mm")
    speed = _cfg(spot, "velocity_mm_s", 1.0)
    return Dimension("spot_mm", tuple(values), "mm", _mv(spot), (spot,),
                     lambda old, new: abs(new - (old if old is not None else new)) / speed + 0.5)


def fluence_dim(attenuator, fluences) -> Dimension:
    require("attenuator", attenuator, "fluences are given")
    values = check_values("fluences", fluences, 0.0, attenuator.max_fluence_mJcm2.get(), "mJ/cm²", low_open=True)
    return Dimension("fluence_mJcm2", tuple(values), "mJ/cm^2", _mv(attenuator), (attenuator,),
                     lambda old, new: 2.0)


def schedule(dims: Sequence[Dimension], fast: Sequence[str], repeats: int, n_delays: int, interleave: str,
             order: str) -> list[tuple[dict, list[int]]]:
    """The steps of a composite measurement: (conditions, delay indices) in measuring order.

    Slow dimensions (those not in ``fast``) are outer loops in ``LOOP_ORDER``;
    inside, each repeat visits every combination of the fast ones. With more
    than one repeat, ``repeat`` is a condition too. ``scan``
    measures a whole sweep per combination; ``point`` cycles the combinations
    at each delay. With ``order="abba"`` the visiting order reverses on every
    other pass (scan: per repeat, point: per delay), so + − then − + : a linear
    drift falls equally on every condition.
    """
    if interleave not in ("scan", "point"):
        raise PlanArgumentError(f"interleave: {interleave!r} is not one of ['scan', 'point']")
    if order not in ("abba", "cyclic"):
        raise PlanArgumentError(f"order: {order!r} is not one of ['abba', 'cyclic']")
    if not (isinstance(repeats, int) and repeats >= 1):
        raise PlanArgumentError(f"repeats: {repeats!r}; must be an integer ≥ 1")
    check_points("repeats", repeats * n_delays * float(np.prod([len(d.values) for d in dims])),
                 f"{repeats} × {n_delays} delays × every condition")
    names = [d.name for d in dims]
    for name in fast:
        if name not in names:
            raise PlanArgumentError(f"fast: {name!r} is not one of the measured conditions {names}")
    slow = [d for d in dims if d.name not in fast]
    quick = [d for d in dims if d.name in fast]
    combos = [dict(zip([d.name for d in quick], vals)) for vals in product(*[d.values for d in quick])]
    steps = []
    for slow_values in product(*[d.values for d in slow]):
        outer = dict(zip([d.name for d in slow], slow_values))
        label = (lambda r: {"repeat": r}) if repeats > 1 else (lambda r: {})  # a column only when it varies
        passes = 0
        for r in range(repeats):
            if interleave == "scan":
                for c in combos if order == "cyclic" or r % 2 == 0 else combos[::-1]:
                    steps.append(({**outer, **label(r), **c}, list(range(n_delays))))
                continue
            for i in range(n_delays):
                for c in combos if order == "cyclic" or passes % 2 == 0 else combos[::-1]:
                    steps.append(({**outer, **label(r), **c}, [i]))
                passes += 1
    return steps
