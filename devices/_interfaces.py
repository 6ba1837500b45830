"""The interfaces plans rely on, one per role on the table.

Simulated and real devices both satisfy these (structurally: the same component
names, units and methods), so a plan never knows which it drives. Every
positioner's ``set`` returns an ophyd status; readbacks are the instrument's own
measurement (encoder, Hall probe, sensor), never the command.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ophyd import Signal
from ophyd.status import StatusBase


@runtime_checkable
class DelayStage(Protocol):
    """Pump–probe delay line. ``delay`` (fs) is the encoder readback converted with the
    double-pass factor ``fs_per_mm`` and the calibrated ``time_zero_mm``."""

    name: str
    delay: Signal
    encoder_mm: Signal
    time_zero_mm: Signal
    fs_per_mm: Signal
    low_limit_fs: Signal
    high_limit_fs: Signal
    park_fs: Signal

    def set(self, delay_fs: float) -> StatusBase: ...


@runtime_checkable
class LockIn(Protocol):
    """Dual-phase lock-in. ``trigger`` takes one X/Y snapshot; ``r``/``theta`` derive from it."""

    name: str
    x: Signal
    y: Signal
    r: Signal
    theta: Signal
    overload: Signal
    time_constant: Signal  # s
    slope_db: Signal  # 6/12/18/24 dB/oct
    sensitivity: Signal  # V full scale
    phase: Signal  # deg

    def trigger(self) -> StatusBase: ...


@runtime_checkable
class Magnet(Protocol):
    """Bipolar electromagnet supply; ``field`` (mT) is the Hall-probe readback."""

    name: str
    field: Signal
    max_field_mT: Signal

    def set(self, field_mT: float) -> StatusBase: ...


@runtime_checkable
class RotationMount(Protocol):
    """Motorized rotation mount (sample or wave plate); ``angle`` in degrees, wrapped to [0, 360)."""

    name: str
    angle: Signal

    def set(self, angle_deg: float) -> StatusBase: ...


@runtime_checkable
class TemperatureController(Protocol):
    """Heater controller; ``set`` completes when the reading has stayed within ±``band_K``
    of the setpoint for ``hold_s``."""

    name: str
    temperature: Signal
    setpoint: Signal
    ramp_K_per_min: Signal
    band_K: Signal
    hold_s: Signal
    safe_K: Signal
    max_K: Signal

    def set(self, temperature_K: float) -> StatusBase: ...


@runtime_checkable
class TranslationStage(Protocol):
    """Sample translation (spot selection); ``position`` in mm."""

    name: str
    position_mm: Signal
    low_limit_mm: Signal
    high_limit_mm: Signal

    def set(self, position_mm: float) -> StatusBase: ...


@runtime_checkable
class PowerMeter(Protocol):
    """Pump power meter; ``power`` in W."""

    name: str
    power: Signal


@runtime_checkable
class Attenuator(Protocol):
    """Pump attenuator; ``fluence`` (mJ/cm²) at the sample, up to ``max_fluence_mJcm2``."""

    name: str
    fluence: Signal
    max_fluence_mJcm2: Signal

    def set(self, fluence_mJcm2: float) -> StatusBase: ...


@runtime_checkable
class Shutter(Protocol):
    """Pump shutter; ``set(1)`` opens, ``set(0)`` closes, ``open`` reads the state back."""

    name: str
    open: Signal

    def set(self, value: int) -> StatusBase: ...
