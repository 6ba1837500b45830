"""Devices of every role on the table: the interfaces plans rely on, and the real instruments.

Real devices are an ophyd ``Device`` over a driver from ``femtospin.devices.drivers``;
which instrument plays which role is said by a profile file, not here.
"""

from ._attenuator import WaveplateAttenuator
from ._base import DriverSignal, config, finished
from ._flyer import AxisSweep, DelayFlyer, SRSBuffer
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
from ._motion import FS_PER_MM_DOUBLE_PASS, N_AIR, DelayCalibration, DelayLine, RotationStage, SpotStage
from .drivers import InstrumentError, InstrumentTimeout

__all__ = [
    "FS_PER_MM_DOUBLE_PASS",
    "N_AIR",
    "Attenuator",
    "AxisSweep",
    "DelayCalibration",
    "DelayFlyer",
    "DelayLine",
    "DelayStage",
    "DriverSignal",
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
    "SRSBuffer",
    "SpotStage",
    "TemperatureController",
    "TranslationStage",
    "WaveplateAttenuator",
    "config",
    "finished",
]
