"""SRS SR830 and SR860 lock-ins over pymeasure, behind one locked interface.

X and Y come from one ``SNAP?`` query, so they belong to the same instant.
The two models differ in their snapshot indices, sensitivity command and
overload query; everything else is pymeasure's.
"""

from __future__ import annotations

from pymeasure.instruments.srs import SR830, SR860

from ._errors import InstrumentError
from ._visa import LockedInstrument

SLOPES_DB = (6, 12, 18, 24)


class _SRSLockIn(LockedInstrument):
    """Shared logic; subclasses name the model's commands."""

    snap_command: str

    def snap_xy(self) -> tuple[float, float]:
        with self.lock:
            x, y = self.inst.values(self.snap_command)
        return float(x), float(y)

    def sensitivities(self) -> list[float]:
        return sorted(self.model.SENSITIVITIES)

    def time_constant(self) -> float:
        with self.lock:
            return float(self.inst.time_constant)

    def set_time_constant(self, seconds: float) -> None:
        with self.lock:
            self.inst.time_constant = seconds

    def sensitivity(self) -> float:
        with self.lock:
            return float(self.inst.sensitivity)

    def set_sensitivity(self, volts: float) -> None:
        with self.lock:
            self.inst.sensitivity = volts

    def step_sensitivity_up(self) -> bool:
        """One range less sensitive; false when already at the largest full scale."""
        with self.lock:
            current = self.sensitivity()
            larger = [s for s in self.sensitivities() if s > current * (1 + 1e-6)]
            if not larger:
                return False
            self.set_sensitivity(larger[0])
            return True

    def phase(self) -> float:
        with self.lock:
            return float(self.inst.phase)

    def set_phase(self, degrees: float) -> None:
        with self.lock:
            self.inst.phase = degrees

    def frequency(self) -> float:
        with self.lock:
            return float(self.inst.frequency)

    def aux_in(self) -> float:
        """AUX input 1 (V): where a TR-MOKE table feeds the balanced detector's DC difference."""
        with self.lock:
            return float(self.inst.aux_in_1)


class SR830LockIn(_SRSLockIn):
    """SR830: ``SNAP? 1,2``; overload bits 0–2 of ``LIAS?`` (input, filter, output)."""

    model = SR830
    snap_command = "SNAP? 1,2"

    def slope_db(self) -> int:
        with self.lock:
            return int(self.inst.filter_slope)

    def set_slope_db(self, db: int) -> None:
        with self.lock:
            self.inst.filter_slope = int(db)

    def overloaded(self) -> bool:
        with self.lock:
            return bool(int(self.inst.ask("LIAS?")) & 0b111)

    def check_errors(self) -> None:
        """``ERRS?`` is the SR830's error status byte; any set bit is an instrument fault."""
        with self.lock:
            flags = self.inst.err_status
        if int(flags):
            raise InstrumentError(f"{self.name}: error status {flags!r}")


class SR860LockIn(_SRSLockIn):
    """SR860: ``SNAP? 0,1``; filter slope as index 0–3; ``CUROVLDSTAT?`` for overloads."""

    model = SR860
    snap_command = "SNAP? 0,1"

    def slope_db(self) -> int:
        with self.lock:
            return SLOPES_DB[int(self.inst.filter_slope)]

    def set_slope_db(self, db: int) -> None:
        with self.lock:
            self.inst.filter_slope = SLOPES_DB.index(int(db))

    def overloaded(self) -> bool:
        with self.lock:
            return int(self.inst.ask("CUROVLDSTAT?")) != 0

    def check_errors(self) -> None:
        """The SR860's error queue is not exposed by pymeasure; its overloads are reported per point."""
