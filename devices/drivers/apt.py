"""Thorlabs APT / Kinesis binary protocol over the USB serial port (K10CR1, LTS linear stages).

Every message starts with a 6-byte header (APT host-controller communications
protocol, "Message structure"): ``message id`` (16-bit little-endian), then
either two parameter bytes, or the data length (16-bit LE) when bit 7 of the
destination byte is set and that many data bytes follow; then destination
and source. The host is ``0x01``, a single-channel controller ``0x50``.
K10CR1 and the LTS stages are integrated stepper controllers, so both use the
stepper status messages.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from ._errors import InstrumentError, InstrumentTimeout
from ._serial import SerialLine

HOST, USB_DEVICE = 0x01, 0x50
SERIAL_SETTINGS = {"baudrate": 115200, "bytesize": 8, "parity": "N", "stopbits": 1, "rtscts": True}

# message ids
HW_NO_FLASH_PROGRAMMING = 0x0018
HW_RICHRESPONSE = 0x0081
MOD_SET_CHANENABLESTATE = 0x0210
MOT_SET_VELPARAMS = 0x0413
MOT_REQ_VELPARAMS = 0x0414
MOT_GET_VELPARAMS = 0x0415
MOT_MOVE_HOME = 0x0443
MOT_MOVE_HOMED = 0x0444
MOT_MOVE_ABSOLUTE = 0x0453
MOT_MOVE_COMPLETED = 0x0464
MOT_MOVE_STOP = 0x0465
MOT_MOVE_STOPPED = 0x0466
MOT_REQ_STATUSUPDATE = 0x0480
MOT_GET_STATUSUPDATE = 0x0481

# status bits of MOT_GET_STATUSUPDATE
MOVING_CW, MOVING_CCW, JOGGING_CW, JOGGING_CCW, HOMING, HOMED = 0x10, 0x20, 0x40, 0x80, 0x200, 0x400
MOVING = MOVING_CW | MOVING_CCW | JOGGING_CW | JOGGING_CCW | HOMING

#: Counts per unit of stages the table uses (APT protocol manual, "Position, velocity and
#: acceleration units"); other stages give ``counts_per_unit`` in the profile.
COUNTS_PER_UNIT = {"K10CR1": 409600 / 3, "LTS150": 409600.0, "LTS300": 409600.0}
#: Integrated stepper controllers (K10CR1, LTS): velocity parameter = µsteps/s × 53.68,
#: acceleration parameter = µsteps/s² / 90.9 (APT protocol manual, same section).
VELOCITY_SCALE, ACCELERATION_SCALE = 53.68, 1 / 90.9


def short(message_id: int, param1: int = 0, param2: int = 0, dest: int = USB_DEVICE, source: int = HOST) -> bytes:
    """A header-only message."""
    return struct.pack("<HBBBB", message_id, param1, param2, dest, source)


def long(message_id: int, data: bytes, dest: int = USB_DEVICE, source: int = HOST) -> bytes:
    """A message with a data packet: the destination byte carries bit 7."""
    return struct.pack("<HHBB", message_id, len(data), dest | 0x80, source) + data


def move_absolute(channel: int, counts: int, dest: int = USB_DEVICE) -> bytes:
    """MGMSG_MOT_MOVE_ABSOLUTE with channel ident and absolute position in counts."""
    return long(MOT_MOVE_ABSOLUTE, struct.pack("<Hi", channel, counts), dest)


def set_velparams(channel: int, min_velocity: int, acceleration: int, max_velocity: int,
                  dest: int = USB_DEVICE) -> bytes:
    """MGMSG_MOT_SET_VELPARAMS: channel, minimum velocity, acceleration, maximum velocity (device units)."""
    return long(MOT_SET_VELPARAMS, struct.pack("<Hiii", channel, min_velocity, acceleration, max_velocity), dest)


def req_velparams(channel: int, dest: int = USB_DEVICE) -> bytes:
    return short(MOT_REQ_VELPARAMS, channel, 0, dest)


def move_home(channel: int, dest: int = USB_DEVICE) -> bytes:
    return short(MOT_MOVE_HOME, channel, 0, dest)


def move_stop(channel: int, immediate: bool = False, dest: int = USB_DEVICE) -> bytes:
    return short(MOT_MOVE_STOP, channel, 0x01 if immediate else 0x02, dest)


def req_status(channel: int, dest: int = USB_DEVICE) -> bytes:
    return short(MOT_REQ_STATUSUPDATE, channel, 0, dest)


def enable_channel(channel: int, dest: int = USB_DEVICE) -> bytes:
    return short(MOD_SET_CHANENABLESTATE, channel, 0x01, dest)


@dataclass(frozen=True)
class Message:
    """A decoded message: id, the two header parameters, data (empty for short messages)."""

    id: int
    param1: int
    param2: int
    dest: int
    source: int
    data: bytes = b""


@dataclass(frozen=True)
class Status:
    """MGMSG_MOT_GET_STATUSUPDATE data: channel, position (counts), encoder count, status bits."""

    channel: int
    position: int
    encoder: int
    bits: int

    @classmethod
    def parse(cls, data: bytes) -> Status:
        return cls(*struct.unpack("<HiiI", data[:14]))


def read_message(line: SerialLine) -> Message:
    """Read one message (header, then the data packet if the header announces one)."""
    with line.lock:
        header = line.read_exactly(6)
        message_id, = struct.unpack("<H", header[:2])
        dest, source = header[4], header[5]
        if dest & 0x80:
            length, = struct.unpack("<H", header[2:4])
            return Message(message_id, 0, 0, dest & 0x7F, source, line.read_exactly(length))
        return Message(message_id, header[2], header[3], dest, source)


class AptMotor:
    """One channel of an APT stepper controller; positions in the stage's units (deg or mm).

    Parameters
    ----------
    line : SerialLine
        The controller's USB serial port.
    counts_per_unit : float
        Microsteps per degree or mm of this stage.
    channel : int
        Channel ident (1 for single-channel controllers).
    units : str
        ``"deg"`` or ``"mm"``.
    travel : (float, float)
        The stage's range in its units.
    timeout : float
        Longest wait for an expected reply, in s.
    """

    def __init__(self, line: SerialLine, counts_per_unit: float, *, channel: int = 1, units: str = "deg",
                 travel: tuple[float, float] = (0.0, 360.0), dest: int = USB_DEVICE, timeout: float = 2.0):
        self.line, self.counts_per_unit, self.channel, self.units = line, float(counts_per_unit), channel, units
        self._travel = (float(travel[0]), float(travel[1]))
        self.dest, self.timeout = dest, timeout
        self.name = f"APT channel {channel} on {line.name}"
        with line.lock:
            line.write(short(HW_NO_FLASH_PROGRAMMING, dest=dest))
            line.write(enable_channel(channel, dest))

    def _expect(self, message_id: int) -> Message:
        """Read until ``message_id`` arrives, skipping unsolicited messages; a rich response is an error."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = read_message(self.line)
            if message.id == HW_RICHRESPONSE:
                text = message.data[4:].split(b"\0", 1)[0].decode("ascii", "replace")
                raise InstrumentError(f"{self.name}: {text}")
            if message.id == message_id:
                return message
        raise InstrumentTimeout(f"{self.name}: no message 0x{message_id:04X} within {self.timeout:g} s")

    def status(self) -> Status:
        with self.line.lock:
            self.line.write(req_status(self.channel, self.dest))
            return Status.parse(self._expect(MOT_GET_STATUSUPDATE).data)

    def position(self) -> float:
        return self.status().position / self.counts_per_unit

    def move_to(self, position: float) -> None:
        self.line.write(move_absolute(self.channel, round(position * self.counts_per_unit), self.dest))

    def is_moving(self) -> bool:
        return bool(self.status().bits & MOVING)

    def velocity_params(self) -> tuple[float, float]:
        """(acceleration in units/s², maximum velocity in units/s) from MGMSG_MOT_GET_VELPARAMS."""
        with self.line.lock:
            self.line.write(req_velparams(self.channel, self.dest))
            _, _, accel, vmax = struct.unpack("<Hiii", self._expect(MOT_GET_VELPARAMS).data[:14])
        return accel / ACCELERATION_SCALE / self.counts_per_unit, vmax / VELOCITY_SCALE / self.counts_per_unit

    def velocity(self) -> float:
        return self.velocity_params()[1]

    def set_velocity(self, units_per_s: float, acceleration: float | None = None) -> None:
        """Maximum velocity of the next moves (units/s); the acceleration is kept unless given (units/s²)."""
        accel = self.velocity_params()[0] if acceleration is None else float(acceleration)
        self.line.write(set_velparams(self.channel, 0, round(accel * self.counts_per_unit * ACCELERATION_SCALE),
                                      round(units_per_s * self.counts_per_unit * VELOCITY_SCALE), self.dest))

    def home(self) -> None:
        self.line.write(move_home(self.channel, self.dest))

    def stop(self) -> None:
        self.line.write(move_stop(self.channel, dest=self.dest))

    def travel(self) -> tuple[float, float]:
        return self._travel

    def check_errors(self) -> None:
        """APT has no error queue: errors arrive as rich responses, raised when read."""
