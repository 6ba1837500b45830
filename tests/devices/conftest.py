"""Fake serial ports that answer by the instruments' protocols, injected in place of ``serial.Serial``."""

from __future__ import annotations

import struct
import threading

import pytest

from femtospin.devices.drivers import SerialLine


class FakePort:
    """A serial port double: bytes written go to ``answer``; its replies are read back.

    It also fails loudly if a second command arrives while a reply is still unread,
    which is what an interleaved query would look like on the wire.
    """

    def __init__(self, *args, timeout=0.05, **kwargs):
        self.written: list[bytes] = []
        self.pending = bytearray()
        self.timeout = timeout
        self.interleaved = False
        self._guard = threading.Lock()

    def write(self, data: bytes) -> int:
        with self._guard:
            if self.pending and self.expects_reply(bytes(data)):
                self.interleaved = True
            self.written.append(bytes(data))
            self.pending += self.answer(bytes(data))
        return len(data)

    def expects_reply(self, data: bytes) -> bool:
        return True

    def answer(self, data: bytes) -> bytes:
        raise NotImplementedError

    def read(self, n: int = 1) -> bytes:
        with self._guard:
            out = bytes(self.pending[:n])
            del self.pending[:n]
            return out

    def read_until(self, expected: bytes = b"\n") -> bytes:
        with self._guard:
            i = self.pending.find(expected)
            end = len(self.pending) if i < 0 else i + len(expected)
            out = bytes(self.pending[:end])
            del self.pending[:end]
            return out

    def close(self) -> None:
        pass


class FakeSMC100(FakePort):
    """One SMC100 at address 1: moves take ``polls_per_move`` ``TS`` queries."""

    def __init__(self, *args, position=0.0, travel=(-25.0, 25.0), polls_per_move=2, **kwargs):
        super().__init__(*args, **kwargs)
        self.position, self.travel, self.polls_per_move = position, travel, polls_per_move
        self.moving_polls = 0
        self.error = "@"
        self.stuck = False

    def expects_reply(self, data):
        return data[1:3] in (b"TP", b"TS", b"TE", b"TB", b"SL", b"SR")

    def answer(self, data: bytes) -> bytes:
        text = data.decode().strip()
        addr, cmd, arg = text[0], text[1:3], text[3:]
        if cmd == "PA":
            target = float(arg)
            if not self.travel[0] <= target <= self.travel[1]:
                self.error = "C"
            else:
                self.position, self.moving_polls = target, self.polls_per_move
            return b""
        if cmd == "TP":
            return f"{addr}TP{self.position:.6f}\r\n".encode()
        if cmd == "TS":
            moving = self.stuck or self.moving_polls > 0
            self.moving_polls = max(0, self.moving_polls - 1)
            return f"{addr}TS0000{'28' if moving else '33'}\r\n".encode()
        if cmd == "TE":
            error, self.error = self.error, "@"
            return f"{addr}TE{error}\r\n".encode()
        if cmd == "TB":
            messages = {"@": "No error", "C": "Parameter missing or out of range"}
            return f"{addr}TB{arg} {messages[arg]}\r\n".encode()
        if cmd == "SL":
            return f"{addr}SL{self.travel[0]:g}\r\n".encode()
        if cmd == "SR":
            return f"{addr}SR{self.travel[1]:g}\r\n".encode()
        if cmd in ("ST", "OR"):
            self.stuck = False
            return b""
        return f"{addr}TE@\r\n".encode()


ELL14_INFO = "0E1140051720231701016800023000"  # ELL14, travel 0x168 = 360°, 0x23000 = 143360 pulses/rev


class FakeElliptecBus(FakePort):
    """ELL14 modules on one bus, keyed by address; replies to a move only when it has ended."""

    def __init__(self, *args, addresses="0", info=ELL14_INFO, **kwargs):
        super().__init__(*args, **kwargs)
        self.counts = dict.fromkeys(addresses, 0)
        self.info = info
        self.status_after_move = 0
        self.busy_replies = 1

    def answer(self, data: bytes) -> bytes:
        text = data.decode()
        addr, cmd, arg = text[0], text[1:3], text[3:]
        if addr not in self.counts:
            return b""  # nobody at that address
        if cmd == "in":
            return f"{addr}IN{self.info}\r\n".encode()
        if cmd == "gp":
            return f"{addr}PO{self.counts[addr] & 0xFFFFFFFF:08X}\r\n".encode()
        if cmd == "gs":
            return f"{addr}GS00\r\n".encode()
        if cmd in ("ma", "ho"):
            if self.status_after_move:
                return f"{addr}GS{self.status_after_move:02X}\r\n".encode()
            value = int(arg, 16) if cmd == "ma" else 0
            self.counts[addr] = value - (1 << 32) if value & 0x80000000 else value
            busy = f"{addr}GS09\r\n" * self.busy_replies
            return f"{busy}{addr}PO{self.counts[addr] & 0xFFFFFFFF:08X}\r\n".encode()
        return b""


class FakeAptStage(FakePort):
    """An APT stepper controller (K10CR1): status updates, moves taking ``polls_per_move`` polls."""

    def __init__(self, *args, polls_per_move=2, **kwargs):
        super().__init__(*args, **kwargs)
        self.counts, self.polls_per_move, self.moving = 0, polls_per_move, 0
        self.homed = False
        self.rich_error: str | None = None

    def expects_reply(self, data):
        return struct.unpack("<H", data[:2])[0] == 0x0480

    def answer(self, data: bytes) -> bytes:
        message_id, = struct.unpack("<H", data[:2])
        if message_id == 0x0453:  # MOVE_ABSOLUTE
            _, self.counts = struct.unpack("<Hi", data[6:12])
            self.moving = self.polls_per_move
            return b""
        if message_id == 0x0443:  # MOVE_HOME
            self.counts, self.moving, self.homed = 0, self.polls_per_move, True
            return b""
        if message_id == 0x0480:  # REQ_STATUSUPDATE
            out = b""
            if self.rich_error:
                text = self.rich_error.encode().ljust(64, b"\0")
                out += struct.pack("<HHBB", 0x0081, 68, 0x81, 0x50) + struct.pack("<HH", 0x0453, 42) + text
            bits = 0x80000000 | (0x400 if self.homed else 0)
            if self.moving:
                bits |= 0x10
                self.moving -= 1
            elif self.counts is not None:
                # a finished move announces itself once, unsolicited, before the status
                out += struct.pack("<HHBB", 0x0464, 14, 0x81, 0x50) + struct.pack("<HiiI", 1, self.counts, 0, bits)
            return out + struct.pack("<HHBB", 0x0481, 14, 0x81, 0x50) + struct.pack("<HiiI", 1, self.counts, 0, bits)
        return b""


@pytest.fixture
def line():
    """A serial line over a fake port class: ``line(FakeSMC100, position=1.0)``."""

    def make(fake_cls, **kwargs):
        return SerialLine("/dev/fake", serial_factory=lambda *a, **k: fake_cls(*a, **{**k, **kwargs}), timeout=0.05)

    return make


class FakeSC10(FakePort):
    """A Thorlabs SC10: echoes each command with CR, then the reply (queries), then the prompt ``> ``."""

    def __init__(self, *args, enabled=False, refuse=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.enabled, self.mode, self.refuse = enabled, 1, set(refuse)

    def answer(self, data: bytes) -> bytes:
        command = data.decode().removesuffix("\r")
        if command in self.refuse:
            reply = "CMD_NOT_DEFINED"
        elif command == "ens":
            self.enabled, reply = not self.enabled, None
        elif command == "ens?":
            reply = str(int(self.enabled))
        elif command.startswith("mode="):
            self.mode, reply = int(command[5:]), None
        else:
            reply = "CMD_NOT_DEFINED"
        return (command + "\r" + (reply + "\r" if reply is not None else "") + "> ").encode()
