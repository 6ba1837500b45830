"""Playback of a recorded run: devices with the simulated table's interfaces that serve recorded readings.

A :class:`PlaybackTable` is built from plain data (the recorded primary-stream
columns, the condition names of the start document, the recorded device
configuration and the recorded delay grid), so this module never needs the
storage layer. Its devices subclass the simulated ones (same component names
and configuration), so the unchanged plans run on them: moves only record the
commanded value; a trigger of the lock-in picks the next unserved recorded event
for the current conditions (read back from the devices' commanded state) at the
current delay, and every readback then returns that event's value.
"""

from __future__ import annotations

from collections import deque
from operator import attrgetter

import numpy as np
from ophyd import Component as Cpt
from ophyd import Kind
from ophyd.utils import LimitError, ReadOnlyError

from femtospin.devices import WaveplateAttenuator, config, finished

from ._clock import SimClock
from ._devices import (
    SimDelayStage,
    SimLockIn,
    SimMagnet,
    SimPowerMeter,
    SimRotationMount,
    SimTemperatureController,
    SimTranslationStage,
    TableSignal,
)
from ._table import KNOBS, LockinSettings

ANGLE_TOLERANCE_DEG = 0.5  # a real mount's readback against the angle it was sent to


class PlaybackError(ValueError):
    """A plan asked the playback table for something the recorded run does not contain."""


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


# How each condition is read off the table's commanded state: (raw value, recorded readback column the raw
# value is matched through or None when the raw value is the condition value itself, period of an angle).
SOURCES = {
    "magnetization": (lambda t: t.polarity, None, None),  # the sign of the last saturating field
    "state": (lambda t: "P" if t.polarity > 0 else "AP", None, None),  # AP ends on the reverse field
    "angle_deg": (lambda t: t.knob("angle_deg"), None, 360.0),
    "qwp_deg": (lambda t: t.knob("pump_qwp_deg"), None, 360.0),
    "helicity": (lambda t: t.knob("pump_qwp_deg"), "pump_qwp_angle", 360.0),
    "kerr": (lambda t: t.knob("probe_qwp_deg"), "probe_qwp_angle", 360.0),
    "temperature_K": (lambda t: t.knob("temperature_K"), None, None),
    "spot_mm": (lambda t: t.knob("spot_mm"), None, None),
    "fluence_mJcm2": (lambda t: t.devices["attenuator"].fluence.get(), None, None),
    "field_mT": (lambda t: t.field_mT, None, None),
}


def _close(a: float, b: float, period: float | None, atol: float) -> bool:
    d = a - b if period is None else (a - b + period / 2) % period - period / 2
    return abs(d) <= atol


def _grid_indices(readback: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index into ``grid`` of the commanded delay of every recorded readback.

    An encoder reads the carriage, which sits a constant backlash offset from the
    command when every point is approached from the same side; with a fine grid
    that offset can exceed half a step, so the nearest grid point would be wrong.
    The offset is found as the one that puts the most readbacks on the grid.
    """
    if len(grid) == 1:
        return np.zeros(readback.size, int)
    order = np.argsort(grid)
    sorted_grid = grid[order]

    def nearest(values):
        i = np.clip(np.searchsorted(sorted_grid, values), 1, len(sorted_grid) - 1)
        return np.where(values - sorted_grid[i - 1] <= sorted_grid[i] - values, i - 1, i)

    tol = 0.25 * float(np.min(np.diff(sorted_grid)))
    best, best_score = 0.0, -1
    for offset in sorted(readback[0] - grid, key=abs):
        shifted = readback - offset
        score = int(np.sum(np.abs(shifted - sorted_grid[nearest(shifted)]) <= tol))
        if score > best_score:
            best, best_score = offset, score
    shifted = readback - best
    index = nearest(shifted)
    off = np.abs(shifted - sorted_grid[index]) > tol
    if off.any():
        raise PlaybackError(f"recorded delay {readback[np.argmax(off)]:g} fs is not on the recorded delay grid "
                            f"(offset {best:+.3g} fs from the commanded delays)")
    return order[index]


class PlaybackTable:
    """The recorded readings of one run, served per condition and delay to devices with the simulated interfaces.

    Parameters
    ----------
    columns : dict of str to sequence
        The recorded primary-stream columns (event field → values in event order),
        at least the delay readback and the lock-in X.
    conditions : sequence of str
        The run's condition names (start document ``conditions``). Those the table can
        read off its devices (:data:`SOURCES`) select the readings; the others
        (``repeat``, ``branch``) are served in their recorded order.
    configuration : dict, optional
        Recorded device configuration, ``{device: {signal name: value}}``; applied to
        the devices (lock-in time constant, stage calibration, limits, …).
    delays : sequence of float, optional
        The commanded delay grid (fs) the plan was run with; default the distinct
        recorded delay readbacks.
    delay_field : str
        Event field of the delay readback.

    Attributes
    ----------
    devices : dict
        The playback devices by table role, named by role like the simulated table's.
    clock : SimClock
        An accelerated clock: recorded readings are settled, so every wait is skipped.
    """

    def __init__(self, columns: dict, conditions, configuration: dict | None = None, *, delays=None,
                 delay_field: str = "stage_delay"):
        self.columns = {k: np.asarray(v).tolist() for k, v in columns.items()}  # plain values, served unchanged
        for needed in (delay_field, "lockin_x"):
            if needed not in self.columns:
                raise PlaybackError(f"recorded events have no {needed!r} field; fields: {sorted(self.columns)}")
        n = len(self.columns[delay_field])
        if n == 0:
            raise PlaybackError("the recorded run has no events to play back")
        self.clock = SimClock(accelerated=True)
        self.lockin = LockinSettings()  # what the simulated lock-in's settings write to
        self.field_mT, self.polarity = 0.0, 1.0
        self._knobs: dict[str, float] = {}
        readback = np.asarray(self.columns[delay_field], float)
        # one point per distinct delay: a delay given twice is measured twice there, served in order
        self.grid = np.unique(np.asarray(delays if delays is not None else readback, float))
        index = _grid_indices(readback, self.grid)
        for c in conditions:
            through = SOURCES.get(c, (None, None))[1]
            for needed in (c, through):
                if needed is not None and needed not in self.columns:
                    raise PlaybackError(f"condition {c!r} needs the event field {needed!r}, which was not recorded")
        self.keyed = [c for c in conditions if c in SOURCES]
        self._queues: dict[tuple, deque] = {}
        for i in range(n):
            key = tuple(self.columns[c][i] for c in self.keyed)
            self._queues.setdefault((key, int(index[i])), deque()).append(i)
        self._counts = {k: len(q) for k, q in self._queues.items()}
        self._delay_index: int | None = None
        self._parked = False
        self._row: int | None = None
        self._last = 0  # the last served event: readbacks between events (power meter) repeat it
        self.served: list[int] = []  # recorded event indices in the order they were served
        self.devices = _devices(self)
        apply_configuration(self.devices, configuration or {})

    # ------------------------------------------------ the simulated table's interface
    def change(self, apply) -> None:
        """A settings change (lock-in): applied at once, there is no filter to restart."""
        apply()

    def fault(self, device: str):
        """Recorded instruments never fail (the simulated devices ask)."""
        return None

    def set_field(self, field_mT: float) -> None:
        self._moved()
        if field_mT != 0:  # saturating, or the reverse field of an AP state: the last one sets the sign
            self.polarity = float(np.sign(field_mT))
        self.field_mT = field_mT

    def set_knob(self, name: str, value: float) -> None:
        self._moved()
        self._knobs[name] = float(value)

    def __getattr__(self, name: str):
        # the simulated mounts and spot stage read their knob (angle_deg, spot_mm, …) to time a move
        if name in KNOBS:
            return self.__dict__["_knobs"].get(name, 0.0)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def knob(self, name: str) -> float:
        if name not in self._knobs:
            raise PlaybackError(f"{name} was never set, so it matches no recorded condition")
        return self._knobs[name]

    # ------------------------------------------------------------ playback proper
    def _moved(self) -> None:
        self._row = None  # readbacks follow the command until the next event is served

    def move_to_delay(self, delay_fs: float, park_fs: float) -> None:
        """Go to a delay of the recorded grid, or park.

        Raises
        ------
        PlaybackError
            ``delay_fs`` is neither on the recorded delay grid nor the park position.
        """
        self._moved()
        hit = np.flatnonzero(np.isclose(self.grid, delay_fs, rtol=0, atol=1e-6))
        self._parked = bool(np.isclose(delay_fs, park_fs, rtol=0, atol=1e-6))
        if not hit.size and not self._parked:
            raise PlaybackError(f"delay {delay_fs:g} fs is not on the recorded delay grid ({self.grid.size} delays "
                                f"from {self.grid.min():g} to {self.grid.max():g} fs)")
        self._delay_index = int(hit[0]) if hit.size else None
        self._knobs["delay_fs"] = float(delay_fs)

    def conditions_now(self) -> tuple:
        """The recorded values of the keyed conditions the devices are set to now."""
        return tuple(self._resolve(c) for c in self.keyed)

    def _resolve(self, condition: str):
        raw_of, through, period = SOURCES[condition]
        raw = raw_of(self)
        values = list(dict.fromkeys(self.columns[condition]))
        if through is None:
            if isinstance(raw, str):
                found = [v for v in values if v == raw]
            else:
                found = [v for v in values if _close(float(v), float(raw), period, 1e-9 + 1e-9 * abs(float(v)))]
            where = f"{condition}={_fmt(raw)}"
        else:  # e.g. helicity: the wave-plate angle it was recorded at
            at = {v: self.columns[through][self.columns[condition].index(v)] for v in values}
            found = [v for v in values if _close(float(at[v]), raw, period, ANGLE_TOLERANCE_DEG)]
            where = f"{condition} at {through.rsplit('_', 1)[0]} {_fmt(raw)}°"
        if not found:
            raise PlaybackError(f"{where} was not recorded (recorded {condition}: "
                                f"{', '.join(_fmt(v) for v in values)})")
        return found[0]

    def serve(self) -> dict | None:
        """The next unserved recorded event for the current conditions and delay (a lock-in trigger).

        None while the stage has not moved yet or is parked with nothing left to
        serve there: the baseline readings at start and end are not replayed.

        Raises
        ------
        PlaybackError
            The stage is not on the grid, the conditions were not recorded, or every
            reading recorded for them has been served already.
        """
        if self._delay_index is None:
            return None  # never moved or parked: the baseline reads every device at start and end
        try:
            key = self.conditions_now()
        except PlaybackError:
            if self._parked:
                return None
            raise
        queue = self._queues.get((key, self._delay_index))
        if self._parked and not queue:  # the park position may be on the grid: measured there while readings remain
            return None
        delay = self.grid[self._delay_index]
        what = ", ".join(f"{c}={_fmt(v)}" for c, v in zip(self.keyed, key)) or "the recorded conditions"
        if queue is None:
            raise PlaybackError(f"nothing was recorded for {what} at delay {delay:g} fs")
        if not queue:
            n = self._counts[(key, self._delay_index)]
            raise PlaybackError(f"every reading recorded for {what} at delay {delay:g} fs has been served ({n})")
        self._row = self._last = queue.popleft()
        self.served.append(self._row)
        return {k: v[self._row] for k, v in self.columns.items()}

    def reading(self, field: str, fallback):
        """Recorded value of ``field`` in the event being served, else ``fallback()``."""
        if self._row is not None and field in self.columns:
            return self.columns[field][self._row]
        return fallback()

    def last(self, field: str, fallback):
        """Recorded value of ``field`` in the last served event (the first event before any)."""
        return self.columns[field][self._last] if field in self.columns else fallback()


def apply_configuration(devices: dict, configuration: dict) -> None:
    """Put recorded configuration values (``{device: {signal name: value}}``) into the devices' signals.

    Read-only configuration (a sample's temperature limit on the simulated
    heater) is left as the device has it.
    """
    for device in devices.values():
        recorded = configuration.get(device.name) or {}
        for attr in device.configuration_attrs:
            signal = attrgetter(attr)(device)
            if signal.name in recorded:
                try:
                    signal.put(recorded[signal.name])
                except ReadOnlyError:
                    pass


def _recorded(attr: str, fallback, units: str | None = None, kind=Kind.normal, last: bool = False):
    """A readback serving the recorded ``<device>_<attr>`` of the current event, else ``fallback(device)``."""

    def get(d):
        field = f"{d.name}_{attr}"
        if last:
            return d.table.reading(field, lambda: d.table.last(field, lambda: fallback(d)))
        return d.table.reading(field, lambda: fallback(d))

    return Cpt(TableSignal, getter=get, units=units, kind=kind)


class PlaybackDelayStage(SimDelayStage):
    """Delay stage that goes to the recorded grid only (and to its park position); reads the recorded encoder."""

    delay = _recorded("delay", lambda d: d.table._knobs.get("delay_fs", d.park_fs.get()), "fs", Kind.hinted)
    encoder_mm = _recorded("encoder_mm", lambda d: d.to_mm(d.table._knobs.get("delay_fs", d.park_fs.get())), "mm")

    def set(self, delay_fs: float):
        lo, hi = self.limits
        if not lo <= delay_fs <= hi:
            raise LimitError(f"{self.name}: delay {delay_fs} fs outside soft limits [{lo}, {hi}] fs")
        self.setpoint.put(delay_fs)
        self.table.move_to_delay(float(delay_fs), self.park_fs.get())
        return finished(self)

    def sweeper(self, power_meter=None):
        raise TypeError(f"{self.name}: playback serves recorded points one at a time and cannot replay a fly sweep")


class PlaybackLockIn(SimLockIn):
    """Lock-in whose trigger serves the next recorded event for the current conditions and delay."""

    def trigger(self):
        event = self.table.serve() or {}
        for attr in ("x", "y", "r", "theta", "overload"):
            field = f"{self.name}_{attr}"
            if field in event:
                getattr(self, attr).put(event[field])
        return finished(self)


class PlaybackMagnet(SimMagnet):
    """Magnet whose Hall readback is the recorded one; the sign of its last non-zero field is the magnetization."""

    field = _recorded("field", lambda d: d.table.field_mT, "mT", Kind.hinted)


class PlaybackRotationMount(SimRotationMount):
    """Rotation mount whose angle readback is the recorded one."""

    angle = _recorded("angle", lambda d: d.table._knobs.get(d.knob, 0.0) % 360.0, "deg", Kind.hinted)


class PlaybackTranslationStage(SimTranslationStage):
    """Spot stage whose readback is the recorded one."""

    position_mm = _recorded("position_mm", lambda d: d.table._knobs.get("spot_mm", 0.0), "mm", Kind.hinted)


class PlaybackTemperatureController(SimTemperatureController):
    """Heater whose setpoint is reached at once (the recorded readings were taken once it was stable)."""

    temperature = _recorded("temperature", lambda d: d.table._knobs.get("temperature_K", d.safe_K.get()), "K",
                            Kind.hinted)
    setpoint = _recorded("setpoint", lambda d: d.table._knobs.get("temperature_K", d.safe_K.get()), "K")
    max_K = config(1000.0, "K")  # the recorded sample limit, from the configuration

    def set(self, temperature_K: float):
        limit = self.max_K.get()
        if not 0 < temperature_K <= limit:
            raise LimitError(f"{self.name}: setpoint {temperature_K} K outside (0, {limit}] K (sample limit)")
        self.table.set_knob("temperature_K", float(temperature_K))
        return finished(self)


class PlaybackPowerMeter(SimPowerMeter):
    """Power meter serving the recorded pump power; between events it repeats the last one (laser-drop watch)."""

    power = _recorded("power", lambda d: float("nan"), "W", Kind.hinted, last=True)


def _devices(table: PlaybackTable) -> dict:
    """The playback devices by role, named as on the simulated table."""
    mount = PlaybackRotationMount(table, "attenuator_deg", name="attenuator_mount")
    return {
        "stage": PlaybackDelayStage(table, name="stage"),
        "lockin": PlaybackLockIn(table, name="lockin"),
        "magnet": PlaybackMagnet(table, name="magnet"),
        "sample_rotation": PlaybackRotationMount(table, "angle_deg", name="sample_rotation"),
        "pump_qwp": PlaybackRotationMount(table, "pump_qwp_deg", name="pump_qwp"),
        "probe_qwp": PlaybackRotationMount(table, "probe_qwp_deg", name="probe_qwp"),
        "heater": PlaybackTemperatureController(table, name="heater"),
        "spot": PlaybackTranslationStage(table, name="spot"),
        "power_meter": PlaybackPowerMeter(table, name="power_meter"),
        "attenuator": WaveplateAttenuator(mount, max_fluence_mJcm2=1.0, name="attenuator"),
    }
