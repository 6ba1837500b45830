"""Delay scans: the stubs every measurement plan is built from, and ``delay_scan``."""

from __future__ import annotations

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from ophyd import Kind, Signal

from femtospin import analysis

from ._validate import PlanArgumentError, check_choices, check_delays, check_positive


def lockin_settle_s(lockin) -> float:
    """Settling time of the lock-in for its configured time constant and slope."""
    return analysis.settle_time(lockin.time_constant.get(), lockin.slope_db.get())


def delay_sweep(stage, lockin, delays, settle_s: float, readables=()):
    """Move through ``delays``; at each, wait for the lock-in to settle and record one event."""
    for delay in delays:
        yield from bps.mv(stage, float(delay))
        yield from bps.sleep(settle_s)
        yield from bps.trigger_and_read([stage, lockin, *readables])


def set_magnetization(magnet, sign: int, saturation_mT: float, field_mT: float):
    """Saturate along ``sign`` then go to the measuring field (0 mT removes the Nernst part)."""
    yield from bps.mv(magnet, sign * saturation_mT)
    yield from bps.mv(magnet, sign * field_mT)


def make_safe(stage, magnet=None):
    """Leave the table safe: magnet at zero field, stage parked. Runs on every exit of a plan."""
    if magnet is not None:
        yield from bps.mv(magnet, 0.0)
    yield from bps.mv(stage, stage.park_fs.get())


def delay_scan(lockin, stage, delays, *, magnet=None, magnetization=(), saturation_mT: float = 50.0,
               field_mT: float = 0.0, readables=(), md: dict | None = None):
    """One run of delay sweeps, at the current conditions or once per magnetization sign.

    Parameters
    ----------
    lockin, stage
        Devices with the ``LockIn`` and ``DelayStage`` interfaces.
    delays : sequence of float
        Delays in fs, measured in this order.
    magnet : Magnet, optional
        Needed when ``magnetization`` is given; its Hall readback is recorded.
    magnetization : sequence of {+1, −1}, optional
        Signs to measure, one full sweep each, saturating at ±``saturation_mT``
        and measuring at ±``field_mT``. Events carry a ``magnetization`` field.
    saturation_mT, field_mT : float
        Saturating and measuring field magnitudes in mT.
    readables : sequence, optional
        More devices read at every point.
    md : dict, optional
        Extra start-document metadata.
    """
    delays = check_delays("delays", delays, stage)
    signs = list(magnetization)
    if signs:
        check_choices("magnetization", signs, (1, -1))
        if magnet is None:
            raise PlanArgumentError("magnet: required when magnetization is given")
        check_positive("saturation_mT", saturation_mT, magnet.max_field_mT.get(), "mT")
        if not 0 <= field_mT < saturation_mT:
            raise PlanArgumentError(f"field_mT: {field_mT} mT is outside [0, saturation_mT = {saturation_mT:g}) mT")
    settle = lockin_settle_s(lockin)
    condition = Signal(name="magnetization", value=signs[0] if signs else 0, kind=Kind.hinted)
    extra = [*readables, *([magnet] if magnet is not None else []), *([condition] if signs else [])]
    _md = {
        "plan_name": "delay_scan",
        "plan_args": {"delays": delays.tolist(), "magnetization": signs, "saturation_mT": saturation_mT,
                      "field_mT": field_mT},
        "num_points": len(delays) * max(len(signs), 1),
        "conditions": ["magnetization"] if signs else [],
        "settle_s": settle,
        "hints": {"dimensions": [([stage.delay.name], "primary")]},
        **(md or {}),
    }

    @bpp.finalize_decorator(lambda: make_safe(stage, magnet))
    @bpp.run_decorator(md=_md)
    def inner():
        for sign in signs or [None]:
            if sign is not None:
                yield from set_magnetization(magnet, sign, saturation_mT, field_mT)
                yield from bps.mv(condition, sign)
            yield from delay_sweep(stage, lockin, delays, settle, extra)

    return (yield from inner())
