"""Devices of every role on the table: the table contract, the interfaces plans rely on, and the real instruments.

:class:`Table` holds one table's devices by role, each checked against its role's
interface, and :func:`plan_devices` hands a plan its devices; the start document's
blocks that describe a table are written and read through the functions of
``_metadata``. Real devices are an ophyd ``Device`` over a driver from
``femtospin.devices.drivers``; which instrument plays which role is said by a
profile file, not here.
"""

from ._attenuator import WaveplateAttenuator
from ._base import DriverSignal, config, finished
from ._flyer import AxisSweep, DelayFlyer, SRSBuffer
from ._heater import HeaterController
from ._interfaces import (
    Attenuator,
    DelayStage,
    LockIn,
    Magnet,
    PowerMeter,
    RotationMount,
    Shutter,
    TemperatureController,
    TranslationStage,
)
from ._lockin import LockInAmplifier
from ._magnet import Electromagnet
from ._metadata import (
    DEFAULT_PROBE_FWHM_FS,
    SETUP_KEYS,
    TABLE_BLOCKS,
    Detected,
    detection_of,
    eos_detection,
    laser_block,
    laser_nominal_W,
    moke_detection,
    pump_block,
    pump_of,
    sample_block,
    sample_name,
    setup_of,
    spot_sample,
    table_blocks,
)
from ._motion import FS_PER_MM_DOUBLE_PASS, N_AIR, DelayCalibration, DelayLine, RotationStage, SpotStage
from ._pump import PumpPowerMeter, PumpShutter
from ._table import (
    OPTIONAL_ROLES,
    REQUIRED_ROLES,
    ROLE_INTERFACES,
    ROLES,
    WALL_CLOCK,
    Clock,
    Table,
    WallClock,
    plan_devices,
)
from .drivers import InstrumentError, InstrumentTimeout

__all__ = [
    "DEFAULT_PROBE_FWHM_FS",
    "FS_PER_MM_DOUBLE_PASS",
    "N_AIR",
    "OPTIONAL_ROLES",
    "REQUIRED_ROLES",
    "ROLES",
    "ROLE_INTERFACES",
    "SETUP_KEYS",
    "TABLE_BLOCKS",
    "Attenuator",
    "AxisSweep",
    "Clock",
    "WALL_CLOCK",
    "WallClock",
    "DelayCalibration",
    "DelayFlyer",
    "DelayLine",
    "DelayStage",
    "Detected",
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
    "Shutter",
    "SpotStage",
    "Table",
    "TemperatureController",
    "TranslationStage",
    "WaveplateAttenuator",
    "config",
    "detection_of",
    "eos_detection",
    "finished",
    "laser_block",
    "laser_nominal_W",
    "moke_detection",
    "plan_devices",
    "pump_block",
    "pump_of",
    "sample_block",
    "sample_name",
    "setup_of",
    "spot_sample",
    "table_blocks",
]
