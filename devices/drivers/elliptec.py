"""Thorlabs Elliptec ELLx modules (ELL14 rotation mount), ASCII over the multi-drop serial bus.

Host commands are ``<address><cmd>[data]`` with a lower-case two-letter
command and no terminator; replies are ``<address><CMD><data>\\r\\n`` with an
upper-case command (ELLx modules protocol manual). Addresses are the hex
digits ``0``–``F``; every module on the bus shares one :class:`SerialLine`.
Positions are 32-bit two's-complement hex counts; the counts per revolution
come from the module's ``IN`` reply, never from a constant.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import InstrumentError
from ._serial import SerialLine

SERIAL_SETTINGS = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}

#: ``GS`` status codes (protocol manual, "_DEVGET_STATUS").
STATUS = {
    0: "OK, no error", 1: "communication time out", 2: "mechanical time out",
    3: "command error or not supported", 4: "value out of range", 5: "module isolated",
    6: "module out of isolation", 7: "initializing error", 8: "thermal error", 9: "busy",
    10: "sensor error", 11: "motor error", 12: "out of range", 13: "over current error",
}
BUSY = 9


@dataclass(frozen=True)
class ElliptecInfo:
    """The fields of an ``IN`` reply."""

    model: int  # ELL type, e.g. 14
    serial: str
    year: int
    firmware: str
    hardware: str
    travel: int  # mm or deg
    pulses: int  # pulses per measurement unit: per revolution for rotary modules

    @classmethod
    def parse(cls, data: str) -> ElliptecInfo:
        if len(data) != 30:
            raise InstrumentError(f"Elliptec IN reply must carry 30 characters, got {data!r}")
        return cls(model=int(data[0:2], 16), serial=data[2:10], year=int(data[10:14]), firmware=data[14:16],
                   hardware=data[16:18], travel=int(data[18:22], 16), pulses=int(data[22:30], 16))


def encode_counts(counts: int) -> str:
    """32-bit two's-complement, upper-case hex, 8 characters."""
    return f"{counts & 0xFFFFFFFF:08X}"


def decode_counts(text: str) -> int:
    value = int(text, 16)
    return value - (1 << 32) if value & 0x80000000 else value


class ElliptecRotator:
    """An ELL14 (or ELL18) rotation mount at one bus address; angles in degrees.

    ``move_to`` and ``home`` return once the module replies with its position,
    which it sends when the motion has ended; ``is_moving`` is therefore
    always false afterwards. While one module moves the bus is held.
    """

    units = "deg"

    def __init__(self, line: SerialLine, address: str = "0"):
        address = str(address).upper()
        if len(address) != 1 or address not in "0123456789ABCDEF":
            raise ValueError(f"Elliptec address must be one hex digit 0–F, got {address!r}")
        self.line, self.address = line, address
        self.name = f"Elliptec {address} on {line.name}"
        self.info = ElliptecInfo.parse(self._ask("in", "IN"))
        if self.info.travel != 360:
            raise InstrumentError(f"{self.name}: ELL{self.info.model} is not a rotation mount "
                                  f"(travel {self.info.travel})")
        self.counts_per_degree = self.info.pulses / 360.0

    def _ask(self, command: str, *expect: str) -> str:
        """Send ``command``; return the data of the reply whose code is in ``expect``.

        A ``GS`` reply with a non-zero code other than busy is the module's error.
        Busy replies (sent during long moves) are skipped.
        """
        with self.line.lock:
            self.line.write(f"{self.address}{command}".encode("ascii"))
            while True:
                reply = self.line.read_line().decode("ascii").strip()
                if reply[:1] != self.address or len(reply) < 3:
                    raise InstrumentError(f"{self.name}: unexpected reply {reply!r} to {command!r}")
                code, data = reply[1:3], reply[3:]
                if code == "GS" and "GS" not in expect:
                    status = int(data, 16)
                    if status == BUSY:
                        continue
                    if status != 0:
                        raise InstrumentError(f"{self.name}: {STATUS.get(status, f'status {status}')}")
                if code in expect:
                    return data
                raise InstrumentError(f"{self.name}: unexpected reply {reply!r} to {command!r}")

    def position(self) -> float:
        return decode_counts(self._ask("gp", "PO")) / self.counts_per_degree

    def move_to(self, angle: float) -> None:
        self._ask("ma" + encode_counts(round(angle * self.counts_per_degree)), "PO")

    def home(self) -> None:
        self._ask("ho0", "PO")  # direction 0: clockwise

    def is_moving(self) -> bool:
        return False

    def stop(self) -> None:
        self.line.write(f"{self.address}st".encode("ascii"))

    def travel(self) -> tuple[float, float]:
        return 0.0, 360.0

    def check_errors(self) -> None:
        status = int(self._ask("gs", "GS"), 16)
        if status not in (0, BUSY):
            raise InstrumentError(f"{self.name}: {STATUS.get(status, f'status {status}')}")
