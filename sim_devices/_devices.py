"""ophyd devices over the simulated table, with the interfaces of ``femtospin.devices``.

Each device is a thin view: its readbacks and instrument settings live in the
:class:`SimTable` (one physics state), its configuration (limits, calibrations,
rates) in ``kind="config"`` signals so that they are stored with every run.
Moves take simulated time from the table's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal
from ophyd.status import DeviceStatus
from ophyd.utils import LimitError, ReadOnlyError

from femtospin import analysis

from ._table import FS_PER_MM_VACUUM, N_AIR, SimTable


class UnitSignal(Signal):
    """A soft signal that reports its units in ``describe``."""

    def __init__(self, *, units: str | None = None, **kwargs):
        self._units = units
        super().__init__(**kwargs)

    def describe(self):
        desc = super().describe()
        if self._units:
            desc[self.name]["units"] = self._units
        return desc


class TableSignal(UnitSignal):
    """A signal whose value is read from (and optionally written to) the parent's table.

    Parameters
    ----------
    getter : callable
        ``getter(device) -> value``.
    setter : callable, optional
        ``setter(device, value)``; without it the signal is read-only.
    units : str, optional
        Units reported in ``describe``.
    """

    def __init__(self, *, getter: Callable, setter: Callable | None = None, units: str | None = None, **kwargs):
        self._getter, self._setter = getter, setter
        super().__init__(value=None, units=units, **kwargs)

    def get(self, **kwargs):
        check_fault(self.parent)
        old, value = self._readback, self._getter(self.parent)
        self._readback = value
        self._metadata["timestamp"] = ts = time.time()
        if value != old:  # like an instrument monitor: subscribers (suspenders) see every new reading
            self._run_subs(sub_type=self.SUB_VALUE, old_value=old, value=value, timestamp=ts)
        return value

    def put(self, value, **kwargs):
        if self._setter is None:
            raise ReadOnlyError(f"{self.name} is read-only")
        self._setter(self.parent, value)
        super().put(self._getter(self.parent), force=True)

    def describe(self):
        self.get()  # the value's type decides the dtype
        return super().describe()


def _config(value, units=None):
    """A configuration value of a device, stored with the run's descriptors."""
    return Cpt(UnitSignal, value=value, units=units, kind=Kind.config)


def check_fault(device: Device) -> None:
    """Raise the error a faulty instrument gives (the simulator's injected faults), naming the device."""
    fault = device.table.fault(device.name)
    if fault is None or fault.kind == "stuck":  # a stuck motor still answers queries
        return
    if fault.kind == "disconnect":
        raise ConnectionError(f"{device.name}: instrument disconnected")
    device.table.clock.sleep(fault.timeout_s)
    raise TimeoutError(f"{device.name}: no reply within {fault.timeout_s:g} s")


def _delayed(device: Device, seconds: float, apply: Callable[[], None]) -> DeviceStatus:
    """Status that finishes after ``seconds`` of simulated time, once ``apply`` has acted on the table.

    A stuck motor never arrives: the status fails after the completion timeout
    (twice the expected time, at least the fault's timeout), as a real driver's
    completion polling would.
    """
    check_fault(device)
    status = DeviceStatus(device)
    fault = device.table.fault(device.name)
    if fault is not None and fault.kind == "stuck":
        limit = max(2 * seconds, fault.timeout_s)
        device.table.clock.call_later(limit, lambda: status.set_exception(
            TimeoutError(f"{device.name}: move did not complete within {limit:g} s (motor stuck)")))
        return status

    def finish():
        try:
            apply()
        except Exception as exc:  # reported through the status, never lost in a timer thread
            status.set_exception(exc)
        else:
            status.set_finished()

    device.table.clock.call_later(seconds, finish)
    return status


class _TableDevice(Device):
    def __init__(self, table: SimTable, *, name: str, **kwargs):
        self.table = table
        super().__init__(name=name, **kwargs)


class SimDelayStage(_TableDevice):
    """Delay line on a linear stage: readback in fs from the encoder, soft limits, backlash.

    With ``approach_fs`` > 0 every target is approached from below (moves in the
    negative direction overshoot by that much first), so the backlash play is
    the same at every point.
    """

    delay = Cpt(TableSignal, getter=lambda d: d.to_fs(d.table.carriage_mm), units="fs", kind=Kind.hinted)
    encoder_mm = Cpt(TableSignal, getter=lambda d: d.table.carriage_mm, units="mm", kind=Kind.normal)
    setpoint = Cpt(Signal, value=np.nan, kind=Kind.omitted)
    time_zero_mm = _config(25.0, "mm")
    fs_per_mm = _config(FS_PER_MM_VACUUM * N_AIR, "fs/mm")
    low_limit_fs = _config(-20_000.0, "fs")
    high_limit_fs = _config(100_000.0, "fs")
    park_fs = _config(-1000.0, "fs")
    approach_fs = _config(200.0, "fs")
    velocity_mm_s = _config(20.0, "mm/s")

    def to_fs(self, mm: float) -> float:
        return (mm - self.time_zero_mm.get()) * self.fs_per_mm.get()

    @property
    def limits(self) -> tuple[float, float]:
        return self.low_limit_fs.get(), self.high_limit_fs.get()

    @property
    def position(self) -> float:
        return self.delay.get()

    def set(self, delay_fs: float) -> DeviceStatus:
        lo, hi = self.limits
        if not lo <= delay_fs <= hi:
            raise LimitError(f"{self.name}: delay {delay_fs} fs outside soft limits [{lo}, {hi}] fs")
        self.setpoint.put(delay_fs)
        target = self.time_zero_mm.get() + delay_fs / self.fs_per_mm.get()
        path = [target]
        overshoot = self.approach_fs.get() / self.fs_per_mm.get()
        if overshoot > 0 and target < self.table.motor_mm:
            path.insert(0, target - overshoot)
        seconds = np.sum(np.abs(np.diff([self.table.motor_mm, *path]))) / self.velocity_mm_s.get() + 0.005

        def apply():
            for mm in path:
                self.table.move_stage(mm)

        return _delayed(self, seconds, apply)

    def park(self) -> DeviceStatus:
        return self.set(self.park_fs.get())


def _lockin_setting(attr: str, check: Callable[[float], None] | None = None):
    def setter(d, value):
        if check:
            check(value)
        d.table.change(lambda: setattr(d.table.lockin, attr, type(getattr(d.table.lockin, attr))(value)))

    return Cpt(TableSignal, getter=lambda d: getattr(d.table.lockin, attr), setter=setter, kind=Kind.config)


def _positive(what):
    def check(value):
        if not value > 0:
            raise ValueError(f"{what} must be > 0, got {value}")

    return check


class SimLockIn(_TableDevice):
    """Dual-phase lock-in: X, Y (V), R, θ from one snapshot; τ, slope, sensitivity, phase as configuration."""

    x = Cpt(UnitSignal, value=0.0, units="V", kind=Kind.hinted)
    y = Cpt(UnitSignal, value=0.0, units="V", kind=Kind.normal)
    r = Cpt(UnitSignal, value=0.0, units="V", kind=Kind.normal)
    theta = Cpt(UnitSignal, value=0.0, units="deg", kind=Kind.normal)
    overload = Cpt(Signal, value=False, kind=Kind.normal)
    time_constant = _lockin_setting("time_constant_s", _positive("time constant"))
    slope_db = _lockin_setting("slope_db", analysis.filter_order)
    sensitivity = _lockin_setting("sensitivity_V", _positive("sensitivity"))
    phase = _lockin_setting("phase_deg")

    def trigger(self) -> DeviceStatus:
        check_fault(self)
        x, y, overload = self.table.lockin_output()
        ts = time.time()
        for sig, value in ((self.x, x), (self.y, y), (self.r, float(np.hypot(x, y))),
                           (self.theta, float(np.degrees(np.arctan2(y, x)))), (self.overload, overload)):
            sig.put(value, timestamp=ts)
        status = DeviceStatus(self)
        status.set_finished()
        return status


class SimMagnet(_TableDevice):
    """Bipolar magnet supply with Hall-probe readback (mT), limited ramp rate and settling."""

    field = Cpt(TableSignal, getter=lambda d: d.table.field_mT, units="mT", kind=Kind.hinted)
    max_field_mT = _config(200.0, "mT")
    ramp_mT_s = _config(500.0, "mT/s")
    settle_s = _config(0.2, "s")

    def set(self, field_mT: float) -> DeviceStatus:
        limit = self.max_field_mT.get()
        if not abs(field_mT) <= limit:
            raise LimitError(f"{self.name}: field {field_mT} mT outside ±{limit} mT")
        seconds = abs(field_mT - self.table.field_mT) / self.ramp_mT_s.get() + self.settle_s.get()
        return _delayed(self, seconds, lambda: self.table.set_field(float(field_mT)))


class SimRotationMount(_TableDevice):
    """Motorized rotation mount turning one knob of the table (sample angle, pump or probe wave plate)."""

    angle = Cpt(TableSignal, getter=lambda d: getattr(d.table, d.knob) % 360.0, units="deg", kind=Kind.hinted)
    speed_deg_s = _config(90.0, "deg/s")

    def __init__(self, table: SimTable, knob: str, *, name: str, **kwargs):
        self.knob = knob
        super().__init__(table, name=name, **kwargs)

    def set(self, angle_deg: float) -> DeviceStatus:
        if not np.isfinite(angle_deg):
            raise ValueError(f"{self.name}: angle must be finite, got {angle_deg}")
        target = float(angle_deg) % 360.0
        travel = abs(target - getattr(self.table, self.knob) % 360.0)
        return _delayed(self, travel / self.speed_deg_s.get(), lambda: self.table.set_knob(self.knob, target))


class SimTranslationStage(_TableDevice):
    """Sample translation stage selecting the spot (mm)."""

    position_mm = Cpt(TableSignal, getter=lambda d: d.table.spot_mm, units="mm", kind=Kind.hinted)
    low_limit_mm = _config(0.0, "mm")
    high_limit_mm = _config(25.0, "mm")
    velocity_mm_s = _config(2.0, "mm/s")

    def set(self, position_mm: float) -> DeviceStatus:
        lo, hi = self.low_limit_mm.get(), self.high_limit_mm.get()
        if not lo <= position_mm <= hi:
            raise LimitError(f"{self.name}: position {position_mm} mm outside [{lo}, {hi}] mm")
        seconds = abs(position_mm - self.table.spot_mm) / self.velocity_mm_s.get()
        return _delayed(self, seconds, lambda: self.table.set_knob("spot_mm", position_mm))


class SimTemperatureController(_TableDevice):
    """Heater controller: first-order heating towards a setpoint ramped at ``ramp_K_per_min``."""

    temperature = Cpt(TableSignal, getter=lambda d: d.table.temperature_K(), units="K", kind=Kind.hinted)
    setpoint = Cpt(TableSignal, getter=lambda d: d.table.thermal.target, units="K", kind=Kind.normal)
    ramp_K_per_min = _config(10.0, "K/min")
    band_K = _config(0.2, "K")
    hold_s = _config(30.0, "s")
    safe_K = _config(300.0, "K")
    max_K = Cpt(TableSignal, getter=lambda d: d.table.sample.max_temperature_K, units="K", kind=Kind.config)

    def set(self, temperature_K: float) -> DeviceStatus:
        limit = self.max_K.get()
        if not 0 < temperature_K <= limit:
            raise LimitError(f"{self.name}: setpoint {temperature_K} K outside (0, {limit}] K (sample limit)")
        table = self.table
        with table.lock:
            now = table.clock.now()
            table.thermal.set(now, float(temperature_K), self.ramp_K_per_min.get())
            wait = table.thermal.stable_at(self.band_K.get(), self.hold_s.get()) - now
        return _delayed(self, wait, lambda: None)


class SimPowerMeter(_TableDevice):
    """Pump power meter (W)."""

    power = Cpt(TableSignal, getter=lambda d: d.table.pump_power_W(), units="W", kind=Kind.hinted)
    wavelength_nm = _config(800.0, "nm")
