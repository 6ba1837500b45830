"""The simulated optical table: one physics state and ophyd devices over it."""

from ._clock import SimClock
from ._devices import (
    SimDelayStage,
    SimLockIn,
    SimMagnet,
    SimPowerMeter,
    SimRotationMount,
    SimShutter,
    SimTemperatureController,
    SimTranslationStage,
    TableSignal,
)
from ._playback import (
    PlaybackDelayStage,
    PlaybackError,
    PlaybackLockIn,
    PlaybackMagnet,
    PlaybackPowerMeter,
    PlaybackRotationMount,
    PlaybackTable,
    PlaybackTemperatureController,
    PlaybackTranslationStage,
    apply_configuration,
)
from ._samples import LIBRARY, REFERENCE_FLUENCE_MJCM2, Layer, Sample, bi_co, get_sample
from ._table import CHOP_FACTOR, GRID_FS, Detection, Hysteresis, Noise, Pump, SimTable

__all__ = [
    "CHOP_FACTOR",
    "GRID_FS",
    "LIBRARY",
    "REFERENCE_FLUENCE_MJCM2",
    "Detection",
    "Hysteresis",
    "Layer",
    "Noise",
    "PlaybackDelayStage",
    "PlaybackError",
    "PlaybackLockIn",
    "PlaybackMagnet",
    "PlaybackPowerMeter",
    "PlaybackRotationMount",
    "PlaybackTable",
    "PlaybackTemperatureController",
    "PlaybackTranslationStage",
    "Pump",
    "Sample",
    "SimClock",
    "SimDelayStage",
    "SimLockIn",
    "SimMagnet",
    "SimPowerMeter",
    "SimRotationMount",
    "SimShutter",
    "SimTable",
    "SimTemperatureController",
    "SimTranslationStage",
    "TableSignal",
    "apply_configuration",
    "bi_co",
    "get_sample",
]
