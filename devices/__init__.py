"""Devices of every role on the table: the interfaces plans rely on, and the real instruments.

Real devices are an ophyd ``Device`` over a driver from ``femtospin.devices.drivers``;
which instrument plays which role is said by a profile file, not here.
"""

from ._attenuator import WaveplateAttenuator
from ._base import InstrumentError, InstrumentTimeout
from ._heater import HeaterController, PumpPowerMeter, PumpShutter
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
from ._lockin import LockInAmplifier
from ._magnet import Electromagnet
from ._motion import DelayLine, RotationStage, SpotStage

__all__ = [
    "Attenuator",
    "DelayLine",
    "DelayStage",
    "Electromagnet",
    "HeaterController",
    "InstrumentError",
    "InstrumentTimeout",
    "LockIn",
    "LockInAmplifier",
    "Magnet",
    "PowerMeter",
    "PumpPowerMeter",
    "PumpShutter",
    "RotationMount",
    "RotationStage",
    "SpotStage",
    "TemperatureController",
    "TranslationStage",
    "WaveplateAttenuator",
]
