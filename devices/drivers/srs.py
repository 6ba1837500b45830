"""SRS SR830 and SR860 lock-ins over pymeasure, behind one locked interface.

X and Y come from one ``SNAP?`` query, so they belong to the same instant.
The two models differ in their snapshot indices, sensitivity command and
overload query; everything else is pymeasure's.
"""

from __future__ import annotations

import re
import time

import numpy as np
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
    """SR830: ``SNAP? 1,2``; overload bits 0–2 of ``LIAS?`` (input, filter, output).

    Buffer (manual, "Data storage commands"): the two display channels are stored
    at ``SRAT`` i (2^i/16 Hz, i = 0–13) into 16383 points each; ``SEND 0`` stops at
    the end (shot), ``STRT``/``PAUS``/``REST`` start, pause and clear, ``SPTS?``
    counts, ``TRCB? i,j,k`` reads k points of channel i from bin j as 4-byte
    little-endian IEEE floats.
    """

    model = SR830
    snap_command = "SNAP? 1,2"
    buffer_points = 16383
    buffer_rates_hz = tuple(2.0**k / 16 for k in range(14))

    def buffer_setup(self, rate_hz: float) -> float:
        """Channel 1 stores X, channel 2 Y, shot mode, internal rate; returns the rate set (Hz)."""
        index = _rate_index(rate_hz, self.buffer_rates_hz)
        with self.lock:
            for command in ("DDEF 1,0,0", "DDEF 2,0,0", "SEND 0", "TSTR 0", f"SRAT {index}", "REST"):
                self.inst.write(command)
        return self.buffer_rates_hz[index]

    def buffer_start(self) -> float:
        """Start storing; returns ``time.monotonic()`` when the command went out (first sample)."""
        with self.lock:
            t = time.monotonic()
            self.inst.write("STRT")
        return t

    def buffer_pause(self) -> None:
        with self.lock:
            self.inst.write("PAUS")

    def buffer_count(self) -> int:
        with self.lock:
            return int(self.inst.ask("SPTS?"))

    def buffer_read(self) -> tuple[np.ndarray, np.ndarray]:
        """X and Y of every stored point (pause first: the manual's rule for reading)."""
        with self.lock:
            n = self.buffer_count()
            if n == 0:
                return np.zeros(0), np.zeros(0)
            out = []
            for channel in (1, 2):
                self.inst.write(f"TRCB? {channel},0,{n}")
                out.append(np.frombuffer(self.inst.read_bytes(4 * n), "<f4").astype(float))
        return out[0], out[1]

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
    """SR860: ``SNAP? 0,1``; filter slope as index 0–3; ``CUROVLDSTAT?`` for overloads.

    Capture buffer (manual, "Data capture commands"): ``CAPTURECFG XY`` stores X
    and Y (8 bytes a sample) into ``CAPTURELEN`` kB (1–4096); the rate is
    ``CAPTURERATEMAX?``/2^n set with ``CAPTURERATE n``; ``CAPTURESTART ONE, IMM``
    fills once, ``CAPTURESTOP`` ends, ``CAPTUREBYTES?`` counts, and ``CAPTUREGET?
    offset,length`` (kB, at most 64 a call, only once stopped) returns an IEEE 488.2
    block of little-endian floats.
    """

    model = SR860
    snap_command = "SNAP? 0,1"
    capture_kb = 4096
    buffer_points = capture_kb * 1024 // 8

    def buffer_setup(self, rate_hz: float) -> float:
        """X and Y at the slowest rate max/2^n at or above ``rate_hz``; returns the rate set (Hz)."""
        if not rate_hz > 0:
            raise ValueError(f"buffer sample rate must be > 0 Hz, got {rate_hz}")
        with self.lock:
            fastest = float(self.inst.ask("CAPTURERATEMAX?"))
            n = int(np.clip(np.floor(np.log2(fastest / rate_hz) + 1e-9), 0, 20))
            for command in ("CAPTURECFG XY", f"CAPTURELEN {self.capture_kb}", f"CAPTURERATE {n}"):
                self.inst.write(command)
        return fastest / 2**n

    def buffer_start(self) -> float:
        with self.lock:
            t = time.monotonic()
            self.inst.write("CAPTURESTART ONE, IMM")
        return t

    def buffer_pause(self) -> None:
        with self.lock:
            self.inst.write("CAPTURESTOP")

    def buffer_count(self) -> int:
        with self.lock:
            return int(self.inst.ask("CAPTUREBYTES?")) // 8

    def buffer_read(self) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            n = self.buffer_count()
            kb = -(-n * 8 // 1024)
            data = []
            for offset in range(0, kb, 64):
                self.inst.write(f"CAPTUREGET? {offset},{min(64, kb - offset)}")
                data.append(_ieee_block(self.inst.read_bytes(-1)))
        values = np.concatenate(data)[: 2 * n] if data else np.zeros(0)
        return values[0::2].astype(float), values[1::2].astype(float)

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


def _rate_index(rate_hz: float, rates: tuple[float, ...]) -> int:
    """Index of the slowest rate at or above ``rate_hz`` (the fastest if none is)."""
    if not rate_hz > 0:
        raise ValueError(f"buffer sample rate must be > 0 Hz, got {rate_hz}")
    above = [i for i, r in enumerate(rates) if r >= rate_hz * (1 - 1e-9)]
    return above[0] if above else len(rates) - 1


def _ieee_block(raw: bytes) -> np.ndarray:
    """Little-endian float32 values of an IEEE 488.2 definite-length block ``#<n><length><data>``."""
    match = re.match(rb"#(\d)", raw)
    if match is None:
        raise InstrumentError(f"expected an IEEE 488.2 block, got {raw[:16]!r}")
    digits = int(match.group(1))
    length = int(raw[2:2 + digits])
    return np.frombuffer(raw[2 + digits:2 + digits + length], "<f4")
