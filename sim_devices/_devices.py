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
from ophyd.utils import LimitError

from femtospin import analysis
from femtospin.devices import DelayCalibration, DriverSignal, config

from ._table import SimTable


class TableSignal(DriverSignal):
    """A signal read from (and optionally written to) the parent's table; an injected fault raises first."""

    def get(self, **kwargs):
        if self._getter is not None:
            check_fault(self.parent)
        return super().get(**kwargs)


def check_fault(device: Device) -> None:
    """Raise the error a faulty instrument gives (the simulator's injected faults), naming the device."""
    fault = device.table.fault(device.name)
    if fault is None or fault.kind in ("stuck", "overflow"):  # a stuck motor still answers queries
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


class SimDelayStage(DelayCalibration, _TableDevice):
    """Delay line on the simulated stage (with backlash); calibration, limits and path as :class:`DelayCalibration`."""

    delay = Cpt(TableSignal, getter=lambda d: d.to_fs(d.table.carriage_mm), units="fs", kind=Kind.hinted)
    encoder_mm = Cpt(TableSignal, getter=lambda d: d.table.carriage_mm, units="mm", kind=Kind.normal)
    time_zero_mm = config(25.0, "mm")  # where the simulated table's time zero sits

    def set(self, delay_fs: float) -> DeviceStatus:
        path = self.path(delay_fs, self.table.motor_mm)
        seconds = np.sum(np.abs(np.diff([self.table.motor_mm, *path]))) / self.velocity_mm_s.get() + 0.005

        def apply():
            for mm in path:
                self.table.move_stage(mm)

        return _delayed(self, seconds, apply)

    def sweeper(self, power_meter=None):
        """Constant-velocity sweeps with timestamped encoder readings (fly scans)."""
        from ._stream import SimSweep
        return SimSweep(self)


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

    x = Cpt(DriverSignal, value=0.0, units="V", kind=Kind.hinted)
    y = Cpt(DriverSignal, value=0.0, units="V", kind=Kind.normal)
    r = Cpt(DriverSignal, value=0.0, units="V", kind=Kind.normal)
    theta = Cpt(DriverSignal, value=0.0, units="deg", kind=Kind.normal)
    overload = Cpt(Signal, value=False, kind=Kind.normal)
    time_constant = _lockin_setting("time_constant_s", _positive("time constant"))
    slope_db = _lockin_setting("slope_db", analysis.filter_order)
    sensitivity = _lockin_setting("sensitivity_V", _positive("sensitivity"))
    phase = _lockin_setting("phase_deg")
    # the balanced detector's DC difference on AUX input 1 (TR-MOKE static Kerr signal); read on demand only
    aux_in = Cpt(TableSignal, getter=lambda d: d.table.dc_level(), units="V", kind=Kind.omitted)

    def buffer(self, sweep):
        """The internal buffer, streaming the table's signal along ``sweep`` (fly scans)."""
        from ._stream import SimLockinBuffer
        return SimLockinBuffer(self, sweep)

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

    field = Cpt(TableSignal, getter=lambda d: d.table.hall_mT(), units="mT", kind=Kind.hinted)
    max_field_mT = config(200.0, "mT")
    ramp_mT_s = config(500.0, "mT/s")
    settle_s = config(0.2, "s")

    def set(self, field_mT: float) -> DeviceStatus:
        limit = self.max_field_mT.get()
        if not abs(field_mT) <= limit:
            raise LimitError(f"{self.name}: field {field_mT} mT outside ±{limit} mT")
        seconds = abs(field_mT - self.table.field_mT) / self.ramp_mT_s.get() + self.settle_s.get()
        return _delayed(self, seconds, lambda: self.table.set_field(float(field_mT)))


class SimRotationMount(_TableDevice):
    """Motorized rotation mount turning one knob of the table (sample angle, pump or probe wave plate)."""

    angle = Cpt(TableSignal, getter=lambda d: getattr(d.table, d.knob) % 360.0, units="deg", kind=Kind.hinted)
    speed_deg_s = config(90.0, "deg/s")

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
    low_limit_mm = config(0.0, "mm")
    high_limit_mm = config(25.0, "mm")
    velocity_mm_s = config(2.0, "mm/s")

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
    ramp_K_per_min = config(10.0, "K/min")
    band_K = config(0.2, "K")
    hold_s = config(30.0, "s")
    safe_K = config(300.0, "K")
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
    wavelength_nm = config(800.0, "nm")


class SimShutter(_TableDevice):
    """Pump shutter: ``set(1)`` opens, ``set(0)`` closes; ``open`` reads back the state."""

    open = Cpt(TableSignal, getter=lambda d: int(d.table.pump_open), kind=Kind.hinted)
    switch_s = config(0.05, "s")

    def set(self, value) -> DeviceStatus:
        if value not in (0, 1, True, False):
            raise ValueError(f"{self.name}: give 1 (open) or 0 (closed), got {value!r}")
        return _delayed(self, self.switch_s.get(), lambda: self.table.set_knob("pump_open", float(bool(value))))
