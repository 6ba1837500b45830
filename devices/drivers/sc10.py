"""Thorlabs SC10 shutter controller (SH05/SH1 shutters), ASCII over RS-232.

The SC10 echoes every command, then sends its reply (queries only) and the
prompt ``> ``; lines end in ``\\r`` (SC10 manual, "Command list"). ``ens``
toggles the enable state (in manual mode 1, enabled = shutter open) and
``ens?`` reads it as ``0``/``1``; ``mode=1`` selects manual mode. An unknown
command or argument is answered ``CMD_NOT_DEFINED`` / ``CMD_ARG_INVALID``.
Opening and closing read the state first and toggle only when it differs,
since ``ens`` is a toggle.
"""

from __future__ import annotations

from ._errors import InstrumentError
from ._serial import SerialLine

SERIAL_SETTINGS = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}
PROMPT = b"> "
ERRORS = ("CMD_NOT_DEFINED", "CMD_ARG_INVALID")


class SC10Shutter:
    """One SC10 on its own serial line."""

    def __init__(self, line: SerialLine):
        self.line, self.name = line, line.name
        self.exchange("mode=1")  # manual: the enable state is the shutter state

    def exchange(self, command: str) -> str:
        """Send ``command`` and return its reply without the echo and the prompt ('' for a setting)."""
        with self.line.lock:
            self.line.write(command.encode() + b"\r")
            raw = self.line.read_line(PROMPT).decode(errors="replace")
        lines = [part.strip() for part in raw.split("\r") if part.strip()]
        if not lines or lines[0] != command:
            raise InstrumentError(f"{self.name}: SC10 did not echo {command!r} (got {raw!r})")
        reply = lines[1] if len(lines) > 1 else ""
        if reply in ERRORS:
            raise InstrumentError(f"{self.name}: SC10 refused {command!r}: {reply}")
        return reply

    def is_open(self) -> bool:
        reply = self.exchange("ens?")
        if reply not in ("0", "1"):
            raise InstrumentError(f"{self.name}: SC10 'ens?' replied {reply!r}, not 0 or 1")
        return reply == "1"

    def set_open(self, value: bool) -> None:
        if self.is_open() != bool(value):
            self.exchange("ens")
        if self.is_open() != bool(value):
            raise InstrumentError(f"{self.name}: shutter did not {'open' if value else 'close'}")
