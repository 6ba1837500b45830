"""Stubs every measurement plan is built from: settle, measure a point, set a field state, leave safe."""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field

import bluesky.plan_stubs as bps
from bluesky.utils import Msg
from ophyd import Kind

from femtospin import analysis


@dataclass(frozen=True)
class UnsafeDevice:
    """A device :func:`make_safe` could not bring back: its name, last known state and the error."""

    name: str
    state: str  # "at 10.0 mT", from the last reading; "in an unknown state" without one
    error: str

    def __str__(self) -> str:
        return f"TABLE NOT SAFE: {self.name} {self.state} — {self.error}"


class UnsafeTableError(RuntimeError):
    """Devices could not be brought to their safe state at the end of a plan; one line per device."""

    def __init__(self, devices):
        self.devices = tuple(devices)
        super().__init__("\n".join(str(d) for d in self.devices))

    def __reduce__(self):  # rebuilt from its devices, as raised
        return type(self), (self.devices,)


@dataclass
class Measurement:
    """A validated plan, ready for a RunEngine: its messages, start metadata and expected duration.

    Plans validate every argument when called, before any message exists, and
    return one of these; iterating it yields the messages.
    """

    messages: Generator[Msg, object, object]
    md: dict = field(default_factory=dict)
    estimated_s: float = 0.0
    outcome: list = field(default_factory=list)  # lines the plan adds as it ends (why an adaptive design stopped)

    # the generator protocol, so preprocessors and ``yield from`` treat it as the plan it is
    def __iter__(self):
        return self.messages

    def __next__(self):
        return next(self.messages)

    def send(self, value):
        return self.messages.send(value)

    def throw(self, *args):
        return self.messages.throw(*args)

    def close(self):
        return self.messages.close()


def lockin_settle_s(lockin) -> float:
    """Settling time of the lock-in for its configured time constant and slope."""
    return analysis.settle_time(lockin.time_constant.get(), lockin.slope_db.get())


def read_at(stage, delay_fs: float, settle_s: float, detectors, power_meter=None):
    """Go to one delay, let the lock-in settle and record one event.

    The power meter is read before the lock-in is triggered, so a laser drop trips
    the suspender and the point is repeated rather than recorded. Callers put a
    checkpoint before the moves a repeat must redo.
    """
    yield from bps.mv(stage, float(delay_fs))
    yield from bps.sleep(settle_s)
    if power_meter is not None:
        yield from bps.rd(power_meter.power)
    return (yield from bps.trigger_and_read(list(detectors)))


def set_magnetization(magnet, sign: int, saturation_mT: float, field_mT: float = 0.0):
    """Saturate along ``sign`` then go to the measuring field (0 mT removes the Nernst part)."""
    yield from bps.mv(magnet, sign * saturation_mT)
    yield from bps.mv(magnet, sign * field_mT)


def prepare_state(magnet, state: str, saturation_mT: float, reverse_mT: float | None = None):
    """Field sequence for a spin valve, ending at zero field (physics.md §4e).

    ``"P"``: saturate both layers at +``saturation_mT``. ``"AP"``: then apply
    −``reverse_mT``, between the two layers' coercive fields, so only the softer
    layer switches.
    """
    yield from bps.mv(magnet, saturation_mT)
    if state == "AP":
        yield from bps.mv(magnet, -reverse_mT)
    yield from bps.mv(magnet, 0.0)


def make_safe(stage, magnet=None, heater=None):
    """Leave the table safe on every exit: field to zero, heater to its safe setpoint, stage parked.

    Each device is tried even when another fails (a disconnected magnet must
    not keep the heater hot); the failures are raised together at the end, as an
    :class:`UnsafeTableError` naming each device with its last known state. The
    heater is given its safe setpoint without waiting for it to get there.
    """
    steps = []
    if magnet is not None:
        steps.append((magnet, lambda: bps.mv(magnet, 0.0)))
    if heater is not None:
        steps.append((heater, lambda: bps.abs_set(heater, heater.safe_K.get())))
    steps.append((stage, lambda: bps.mv(stage, stage.park_fs.get())))
    failures = []
    for device, step in steps:
        try:
            yield from step()
        except Exception as exc:  # noqa: BLE001 — carry on with the other devices, report below
            failures.append(UnsafeDevice(device.name, last_known_state(device), _own_words(device, exc)))
    if failures:
        raise UnsafeTableError(failures)


def last_known_state(device) -> str:
    """``at 10.0 mT``: the device's hinted readings as last read, without asking the instrument again.

    An instrument that just failed would only time out once more; the cached value is
    what the run last saw.
    """
    parts = []
    for walk in device.walk_signals():
        sig = walk.item
        if (sig.kind & Kind.hinted) != Kind.hinted:
            continue
        value = getattr(sig, "_readback", None)  # ophyd's cache; it has no public accessor
        if isinstance(value, (int, float)) and math.isfinite(value):
            units = getattr(sig, "_units", None) or sig.metadata.get("units") or ""
            parts.append(f"{value:.1f} {units}".strip())
    return "at " + ", ".join(parts) if parts else "in an unknown state"


def _own_words(device, exc: BaseException) -> str:
    """The device's error without its name in front (the line names the device already)."""
    message = device_error(exc)
    return message.removeprefix(f"{device.name}: ")


def device_error(exc: BaseException) -> str:
    """The device's own message for a failed status (bluesky wraps it in ``FailedStatus``), else the exception's."""
    status = exc.args[0] if exc.args else None
    inner = getattr(status, "exception", None)
    if callable(inner) and inner() is not None:
        return str(inner())
    return str(exc)
