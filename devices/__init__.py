"""Device interfaces of every role on the table; real instrument devices join them here."""

from ._interfaces import DelayStage, LockIn, Magnet, PowerMeter, RotationMount, TemperatureController, TranslationStage

__all__ = ["DelayStage", "LockIn", "Magnet", "PowerMeter", "RotationMount", "TemperatureController", "TranslationStage"]
