"""Thorlabs PM100 power meter over pymeasure's ``ThorlabsPM100USB``: ``MEAS:POW?`` in W."""

from __future__ import annotations

from pymeasure.instruments.thorlabs import ThorlabsPM100USB

from ._visa import LockedInstrument
from .current_sources import raise_scpi_errors


class PM100(LockedInstrument):
    """Power meter with its wavelength correction; errors from ``SYST:ERR?``."""

    model = ThorlabsPM100USB

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
