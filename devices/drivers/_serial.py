"""One serial connection shared by the drivers on it, with its lock."""

from __future__ import annotations

import threading

import serial

from ._errors import InstrumentTimeout


class SerialLine:
    """A serial port and the lock that serializes every exchange on it.

    Parameters
    ----------
    port : str
        Port name (``/dev/ttyUSB0``, ``COM3``).
    serial_factory : callable
        Opens the port; ``serial.Serial`` by default, a fake port in tests.
    **settings
        Passed to the factory (baud rate, timeout, …).
    """

    def __init__(self, port: str, *, serial_factory=serial.Serial, **settings):
        self.name = port
        self.port = serial_factory(port, **settings)
        self.lock = threading.RLock()

    def query_line(self, command: bytes, terminator: bytes = b"\r\n") -> bytes:
        """Write ``command`` and read one reply line (without its terminator)."""
        with self.lock:
            self.port.write(command)
            return self.read_line(terminator)

    def read_line(self, terminator: bytes = b"\r\n") -> bytes:
        """Read one reply line; a missing terminator means the port's read timeout expired."""
        with self.lock:
            reply = self.port.read_until(terminator)
            if not reply.endswith(terminator):
                raise InstrumentTimeout(f"{self.name}: no reply within the port timeout (got {reply!r})")
            return reply[: -len(terminator)]

    def write(self, data: bytes) -> None:
        with self.lock:
            self.port.write(data)

    def read_exactly(self, n: int) -> bytes:
        """Read ``n`` bytes or raise :class:`InstrumentTimeout`."""
        with self.lock:
            data = self.port.read(n)
            if len(data) != n:
                raise InstrumentTimeout(f"{self.name}: expected {n} bytes, got {len(data)} within the port timeout")
            return data

    def close(self) -> None:
        self.port.close()
