"""Newport SMC100 single-axis controller (CC or PP), ASCII over RS-232.

Commands are ``<address><CMD>[value]\\r\\n``; queries reply
``<address><CMD><value>\\r\\n`` (SMC100 user's manual, section 2). Several
controllers daisy-chained on one port share its :class:`SerialLine`.
"""

from __future__ import annotations

from ._errors import InstrumentError
from ._serial import SerialLine

#: ``TS`` controller states (manual, "TS — Get positioner error and controller state").
MOVING = {"28"}
HOMING = {"1E", "1F"}
READY = {"32", "33", "34", "35"}
NOT_REFERENCED = {"0A", "0B", "0C", "0D", "0E", "0F", "10", "11"}

SERIAL_SETTINGS = {"baudrate": 57600, "bytesize": 8, "parity": "N", "stopbits": 1, "xonxoff": True}


class SMC100:
    """One SMC100 controller at ``address`` (1–31) on a serial line.

    Parameters
    ----------
    line : SerialLine
        The shared port.
    address : int
        Controller address set on the front panel / with ``SA``.
    """

    units = "mm"

    def __init__(self, line: SerialLine, address: int = 1):
        if not 1 <= int(address) <= 31:
            raise ValueError(f"SMC100 address must be 1–31, got {address}")
        self.line, self.address = line, int(address)
        self.name = f"SMC100 {address} on {line.name}"

    def write(self, command: str) -> None:
        self.line.write(f"{self.address}{command}\r\n".encode("ascii"))

    def ask(self, command: str) -> str:
        """Query ``command`` (e.g. ``TP``) and return the value after the echoed address and command."""
        reply = self.line.query_line(f"{self.address}{command}\r\n".encode("ascii")).decode("ascii").strip()
        head = f"{self.address}{command.rstrip('?')}"
        if not reply.startswith(head):
            raise InstrumentError(f"{self.name}: unexpected reply {reply!r} to {command!r}")
        return reply[len(head):]

    def position(self) -> float:
        return float(self.ask("TP"))

    def state(self) -> tuple[int, str]:
        """Positioner error bits and controller state code from ``TS``."""
        value = self.ask("TS")
        return int(value[:4], 16), value[4:6]

    def move_to(self, position: float) -> None:
        with self.line.lock:  # the move and its error check are one exchange
            self.write(f"PA{position:.6f}")
            self.check_errors()

    def is_moving(self) -> bool:
        errors, state = self.state()
        if errors:
            raise InstrumentError(f"{self.name}: positioner error bits 0x{errors:04X} (state {state})")
        return state in MOVING or state in HOMING

    def velocity(self) -> float:
        """``VA?``: the velocity of the next moves (mm/s)."""
        return float(self.ask("VA?"))

    def set_velocity(self, units_per_s: float) -> None:
        """``VA``: moves after this run at ``units_per_s`` once accelerated (fly scans)."""
        with self.line.lock:
            self.write(f"VA{units_per_s:.6f}")
            self.check_errors()

    def stop(self) -> None:
        self.write("ST")

    def home(self) -> None:
        self.write("OR")

    def travel(self) -> tuple[float, float]:
        """The controller's software travel limits ``SL``/``SR``."""
        return float(self.ask("SL?")), float(self.ask("SR?"))

    def check_errors(self) -> None:
        """Read the last command error (``TE``); raise with the controller's text from ``TB``."""
        with self.line.lock:
            code = self.ask("TE")
            if code != "@":
                text = self.ask(f"TB{code}")
                raise InstrumentError(f"{self.name}: {text.strip() or code}")
