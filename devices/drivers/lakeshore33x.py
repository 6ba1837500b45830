"""LakeShore 335/336 temperature controllers over pymeasure's ``LakeShore3xx``.

Setpoint ``SETP``, heater range ``RANGE``, reading ``KRDG?``, and the setpoint
ramp ``RAMP <output>,<on>,<K/min>``, which pymeasure lacks. The 33x has no
SCPI error queue; command errors are flagged in the standard event status
register (``*ESR?``), which is read after every change.
"""

from __future__ import annotations

import threading

from pymeasure.instruments.lakeshore.lakeshore3xx import LakeShore3xx

from ._errors import InstrumentError

RANGES = {"off": 0, "low": 1, "medium": 2, "high": 3}
ESR_ERRORS = {2: "query error", 3: "device-specific error", 4: "execution error", 5: "command error"}
MAX_SETPOINT_K = 1505.0  # largest setpoint the 33x accepts in kelvin


class LakeShoreHeater:
    """One control loop: ``output`` (1 or 2) regulating on ``sensor`` (A–D)."""

    def __init__(self, instrument: LakeShore3xx, *, output: int = 1, sensor: str = "A",
                 lock: threading.RLock | None = None):
        if output not in (1, 2):
            raise ValueError(f"LakeShore 33x heater output must be 1 or 2, got {output}")
        if sensor not in "ABCD" or len(sensor) != 1:
            raise ValueError(f"LakeShore 33x sensor input must be A–D, got {sensor!r}")
        self.inst, self.output, self.sensor = instrument, output, sensor
        self.lock = lock or threading.RLock()
        self.name = getattr(instrument, "name", "LakeShore 33x")

    @classmethod
    def open(cls, address: str, visa_library: str = "", **kwargs) -> LakeShoreHeater:
        return cls(LakeShore3xx(address, visa_library=visa_library), **kwargs)

    def temperature(self) -> float:
        with self.lock:
            return float(self.inst.ask(f"KRDG? {self.sensor}"))

    def setpoint(self) -> float:
        with self.lock:
            return float(self.inst.ask(f"SETP? {self.output}"))

    def set_setpoint(self, kelvin: float) -> None:
        self._write(f"SETP {self.output},{kelvin:.3f}")

    def set_ramp(self, k_per_min: float) -> None:
        """Ramp the setpoint at ``k_per_min`` (0 switches the ramp off)."""
        on = 1 if k_per_min > 0 else 0
        self._write(f"RAMP {self.output},{on},{k_per_min:.1f}")

    def set_range(self, name: str) -> None:
        self._write(f"RANGE {self.output},{RANGES[name]}")

    def _write(self, command: str) -> None:
        with self.lock:
            self.inst.write(command)
            self.check_errors()

    def check_errors(self) -> None:
        with self.lock:
            esr = int(self.inst.ask("*ESR?"))
        flagged = [text for bit, text in ESR_ERRORS.items() if esr & (1 << bit)]
        if flagged:
            raise InstrumentError(f"{self.name}: {', '.join(flagged)} (*ESR? {esr})")
