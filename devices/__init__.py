"""Device interfaces of every role on the table, and devices any table can build from them."""

from ._attenuator import WaveplateAttenuator
from ._interfaces import (
    Attenuator,
    DelayStage,
    LockIn,
    Magnet,
    PowerMeter,
    RotationMount,
    TemperatureController,
    TranslationStage,
)

__all__ = [
    "Attenuator",
    "DelayStage",
    "LockIn",
    "Magnet",
    "PowerMeter",
    "RotationMount",
    "TemperatureController",
    "TranslationStage",
    "WaveplateAttenuator",
]
