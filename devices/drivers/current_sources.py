"""Bipolar current sources for the electromagnet (Kepco BOP, Keithley 2400), over pymeasure. Errors are read
from each instrument's ``SYST:ERR?`` queue."""

from __future__ import annotations

from pymeasure.instruments.keithley import Keithley2400
from pymeasure.instruments.kepco import KepcoBOP3612

from ._errors import InstrumentError
from ._visa import LockedInstrument


def raise_scpi_errors(instrument, name: str) -> None:
    """Drain ``SYST:ERR?``; raise the instrument's own messages if any."""
    messages = []
    for _ in range(20):
        reply = instrument.ask("SYST:ERR?").strip()
        code, _, message = reply.partition(",")
        if int(code) == 0:
            break
        messages.append(f"{code},{message}")
    if messages:
        raise InstrumentError(f"{name}: " + "; ".join(messages))


class CurrentSource(LockedInstrument):
    """Shared error handling of the magnet supplies."""

    max_current_A: float

    def check_errors(self) -> None:
        with self.lock:
            raise_scpi_errors(self.inst, self.name)


class KepcoBOP(CurrentSource):
    """Kepco BOP in current mode (``FUNC:MODE CURR``), setpoint ``CURR``, readback ``MEAS:CURR?``."""

    model = KepcoBOP3612
    max_current_A = float(KepcoBOP3612._Imax)

    def enable(self) -> None:
        with self.lock:
            self.inst.write("FUNC:MODE CURR")
            self.inst.write("OUTP 1")
            raise_scpi_errors(self.inst, self.name)

    def set_current(self, amps: float) -> None:
        with self.lock:
            self.inst.write(f"CURR {amps:.6g}")

    def current(self) -> float:
        with self.lock:
            return float(self.inst.ask("MEAS:CURR?"))


class Keithley2400Source(CurrentSource):
    """Keithley 2400 sourcing current (``:SOUR:FUNC CURR``), readback ``:MEAS:CURR?``."""

    model = Keithley2400
    max_current_A = 1.05

    def enable(self) -> None:
        with self.lock:
            self.inst.write(":SOUR:FUNC CURR")
            self.inst.write(":OUTP ON")
            raise_scpi_errors(self.inst, self.name)

    def set_current(self, amps: float) -> None:
        with self.lock:
            self.inst.write(f":SOUR:CURR {amps:.6g}")

    def current(self) -> float:
        with self.lock:
            # :MEAS:CURR? returns the formatted elements voltage, current, …; current is the second
            return float(self.inst.ask(":MEAS:CURR?").split(",")[1])
