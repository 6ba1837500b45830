"""Positioners over any axis driver: the delay line (fs), the spot stage (mm) and rotation mounts (deg).

An axis driver has ``position()``, ``move_to(x)``, ``is_moving()``, ``stop()``,
``home()``, ``travel()`` and ``check_errors()`` in its own units (mm or deg):
the ESP300/301 axes, SMC100, APT stages and Elliptec mounts all do.
"""

from __future__ import annotations

import math

from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal
from ophyd.utils import LimitError

from ._base import background, config, readback, wait_until
from .drivers import InstrumentTimeout

FS_PER_MM_DOUBLE_PASS = 2.0 / 299.792458e-6  # t = 2·x/c in vacuum: 6671.28 fs per mm
N_AIR = 1.000275  # 800 nm, dry air near 20 °C


class DelayCalibration(Device):
    """What every delay line shares, real or simulated: the fs ↔ mm calibration, soft limits and the path.

    ``delay = (encoder_mm − time_zero_mm) · fs_per_mm``, where ``fs_per_mm`` holds
    the double-pass factor. A device adds a ``delay`` readback and a way to move.
    """

    setpoint = Cpt(Signal, value=float("nan"), kind=Kind.omitted)
    time_zero_mm = config(0.0, "mm")
    fs_per_mm = config(FS_PER_MM_DOUBLE_PASS * N_AIR, "fs/mm")
    low_limit_fs = config(-20_000.0, "fs")
    high_limit_fs = config(100_000.0, "fs")
    park_fs = config(-1000.0, "fs")
    approach_fs = config(200.0, "fs")
    velocity_mm_s = config(20.0, "mm/s")

    def to_fs(self, mm: float) -> float:
        return (mm - self.time_zero_mm.get()) * self.fs_per_mm.get()

    def to_mm(self, fs: float) -> float:
        return self.time_zero_mm.get() + fs / self.fs_per_mm.get()

    @property
    def limits(self) -> tuple[float, float]:
        return self.low_limit_fs.get(), self.high_limit_fs.get()

    @property
    def position(self) -> float:
        return self.delay.get()

    def path(self, delay_fs: float, current_mm: float) -> list[float]:
        """Axis positions (mm) the line visits to reach ``delay_fs`` from ``current_mm``.

        Checks the soft limits and records the setpoint. With ``approach_fs`` > 0 a
        target below the current position is overshot first, so every point is
        approached from below and the backlash play is the same everywhere.
        """
        lo, hi = self.limits
        if not lo <= delay_fs <= hi:
            raise LimitError(f"{self.name}: delay {delay_fs} fs outside soft limits [{lo}, {hi}] fs")
        self.setpoint.put(delay_fs)
        target = self.to_mm(delay_fs)
        overshoot = self.approach_fs.get() / self.fs_per_mm.get()
        return [target - overshoot, target] if overshoot > 0 and target < current_mm else [target]

    def park(self):
        return self.set(self.park_fs.get())


class _Positioner(Device):
    """Moves ``axis`` along a path of axis positions, polling for completion with a deadline."""

    timeout_s = config(60.0, "s")
    poll_s = config(0.05, "s")

    def __init__(self, axis, *, name: str, **kwargs):
        self.axis = axis
        super().__init__(name=name, **kwargs)

    def _go(self, path: list[float], what: str):
        timeout, poll = self.timeout_s.get(), self.poll_s.get()

        def work():
            for target in path:
                self.axis.move_to(target)
                try:
                    wait_until(lambda: not self.axis.is_moving(), timeout=timeout, poll_s=poll,
                               what=f"{self.name}: {what}")
                except InstrumentTimeout:
                    self.axis.stop()
                    raise
            self.axis.check_errors()

        return background(self, work, timeout * len(path), on_failure=self.axis.stop)

    def stop(self, *, success: bool = False):
        """Called by the RunEngine on pause and abort: halt the motion."""
        self.axis.stop()

    def home(self):
        """Home the axis (seek its reference switch); the status finishes when it has stopped."""
        timeout, poll = self.timeout_s.get(), self.poll_s.get()

        def work():
            self.axis.home()
            wait_until(lambda: not self.axis.is_moving(), timeout=timeout, poll_s=poll, what=f"{self.name}: homing")
            self.axis.check_errors()

        return background(self, work, timeout, on_failure=self.axis.stop)


class DelayLine(DelayCalibration, _Positioner):
    """Pump–probe delay line on a linear axis; ``delay`` in fs from the encoder readback (:class:`DelayCalibration`)."""

    delay = readback(lambda d: d.to_fs(d.axis.position()), "fs", Kind.hinted)
    encoder_mm = readback(lambda d: d.axis.position(), "mm")

    def set(self, delay_fs: float):
        return self._go(self.path(delay_fs, self.axis.position()), f"move to {delay_fs:g} fs")

    def sweeper(self, power_meter=None):
        """Constant-velocity sweeps with timestamped encoder (and pump-power) readings, for fly scans."""
        from ._flyer import AxisSweep
        return AxisSweep(self, power_meter)


class SpotStage(_Positioner):
    """Sample translation stage selecting the spot (mm)."""

    position_mm = readback(lambda d: d.axis.position(), "mm", Kind.hinted)
    low_limit_mm = config(0.0, "mm")
    high_limit_mm = config(25.0, "mm")
    velocity_mm_s = config(2.0, "mm/s")

    @property
    def position(self) -> float:
        return self.position_mm.get()

    def set(self, position_mm: float):
        lo, hi = self.low_limit_mm.get(), self.high_limit_mm.get()
        if not lo <= position_mm <= hi:
            raise LimitError(f"{self.name}: position {position_mm} mm outside [{lo}, {hi}] mm")
        return self._go([float(position_mm)], f"move to {position_mm:g} mm")


class RotationStage(_Positioner):
    """Motorized rotation mount (sample or wave plate); ``angle`` in degrees wrapped to [0, 360).

    ``offset_deg`` is the axis reading at the optical zero (e.g. the wave plate's
    fast axis along the polarization); targets are sent as ``(angle + offset) mod 360``.
    """

    angle = readback(lambda d: (d.axis.position() - d.offset_deg.get()) % 360.0, "deg", Kind.hinted)
    offset_deg = config(0.0, "deg")
    speed_deg_s = config(90.0, "deg/s")

    @property
    def position(self) -> float:
        return self.angle.get()

    def set(self, angle_deg: float):
        angle_deg = float(angle_deg)
        if not math.isfinite(angle_deg):
            raise ValueError(f"{self.name}: angle must be finite, got {angle_deg}")
        target = (angle_deg + self.offset_deg.get()) % 360.0
        return self._go([target], f"rotate to {angle_deg % 360.0:g} deg")
