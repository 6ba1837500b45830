"""Thorlabs PM100 power meter over pymeasure's ``ThorlabsPM100USB``: ``MEAS:POW?`` in W."""

from __future__ import annotations

import threading

from pymeasure.instruments.thorlabs import ThorlabsPM100USB

from .supplies import raise_scpi_errors


class PM100:
    """Power meter with its wavelength correction; errors from ``SYST:ERR?``."""

    def __init__(self, instrument: ThorlabsPM100USB, lock: threading.RLock | None = None):
        self.inst, self.lock = instrument, lock or threading.RLock()
        self.name = getattr(instrument, "name", "PM100")

    @classmethod
    def open(cls, address: str, visa_library: str = "", **kwargs) -> PM100:
        return cls(ThorlabsPM100USB(address, visa_library=visa_library, **kwargs))

    def power_W(self) -> float:
        with self.lock:
            return float(self.inst.power)

    def wavelength_nm(self) -> float:
        with self.lock:
            return float(self.inst.wavelength)

    def set_wavelength_nm(self, nm: float) -> None:
        with self.lock:
            self.inst.write(f"SENS:CORR:WAV {nm:g}")
            raise_scpi_errors(self.inst, self.name)
