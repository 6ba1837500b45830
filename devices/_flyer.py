"""Fly scans: the delay line sweeping at constant velocity while the lock-in fills its buffer.

:class:`DelayFlyer` is an ophyd (v1) flyer over two parts it is composed of:

* a *motion* (``start_sweep(stop_fs, velocity_mm_s)`` → status, ``encoder_trace(t0, t1)``,
  ``power_trace(power_meter, t0, t1)``, ``stop()``) — :class:`AxisSweep` on a real
  :class:`~femtospin.devices.DelayLine`, or the simulator's;
* a *buffer* (``start_buffer(rate_hz)`` → time of the first sample, ``stop_buffer()``,
  ``read_buffer()`` → t, x, y, overload, overflowed; ``rates_hz``, ``capacity``) —
  :class:`SRSBuffer` over an SR830/SR860, or the simulator's.

Both report times on one clock (``time.monotonic`` on a real table, the simulated
clock on the simulator), so the delay of every lock-in sample is the encoder's
reading interpolated at the sample's time — never the commanded position.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
from ophyd import Device
from ophyd.status import DeviceStatus, Status

from ._base import config, finished
from .drivers import InstrumentError, InstrumentTimeout


class AxisSweep:
    """Constant-velocity sweeps of a real delay line, polling its encoder (and the pump power) with timestamps.

    Each reading is stamped at the middle of its query, so the stamp is off by at
    most half a query's round trip (a few ms on RS-232; a lab that needs better
    wires the controller's trigger output to the lock-in, docs/hardware.md).
    """

    def __init__(self, line, power_meter=None, *, poll_s: float = 0.02, clock: Callable[[], float] = time.monotonic):
        if not (hasattr(line.axis, "set_velocity") and hasattr(line.axis, "velocity")):
            raise TypeError(f"{line.name}: its controller cannot set a velocity, which fly scans need "
                            f"(use --mode step)")
        self.line, self.power_meter, self.poll_s, self.clock = line, power_meter, poll_s, clock
        self.stage = line
        self.name = line.name
        self._log: list[tuple[float, float, float]] = []
        self._stop = threading.Event()

    def now(self) -> float:
        return self.clock()

    def start_sweep(self, stop_fs: float, velocity_mm_s: float) -> DeviceStatus:
        line, axis = self.line, self.line.axis
        lo, hi = line.limits
        if not lo <= stop_fs <= hi:
            raise InstrumentError(f"{line.name}: sweep end {stop_fs:g} fs outside soft limits [{lo:g}, {hi:g}] fs")
        target = line.to_mm(stop_fs)
        previous = axis.velocity()
        duration = abs(target - axis.position()) / velocity_mm_s
        status = DeviceStatus(line, timeout=2 * duration + line.timeout_s.get() + 5.0)
        self._log, self._stop = [], threading.Event()

        def poll():
            try:
                axis.set_velocity(velocity_mm_s)
                axis.move_to(target)
                deadline = time.monotonic() + 2 * duration + line.timeout_s.get()
                while True:
                    t0 = self.clock()
                    x = axis.position()
                    p = float(self.power_meter.power.get()) if self.power_meter is not None else np.nan
                    self._log.append((0.5 * (t0 + self.clock()), x, p))
                    if self._stop.is_set() or not axis.is_moving():
                        break
                    if time.monotonic() > deadline:
                        raise InstrumentTimeout(f"{line.name}: sweep not done within {2 * duration:.3g} s "
                                                f"(stage stuck?)")
                    time.sleep(self.poll_s)
                axis.check_errors()
            except Exception as exc:  # noqa: BLE001 — reported through the status; the axis is stopped first
                axis.stop()
                status.set_exception(exc)
            else:
                status.set_finished()
            finally:
                try:
                    axis.set_velocity(previous)  # step moves go back to their speed
                except Exception:  # noqa: BLE001 — the sweep's own outcome is what the run must see
                    pass

        threading.Thread(target=poll, name=f"{line.name}-sweep", daemon=True).start()
        return status

    def _trace(self, t0: float, t1: float, column: int) -> tuple[np.ndarray, np.ndarray]:
        log = np.array(self._log, float).reshape(-1, 3)
        return log[:, 0], log[:, column]

    def encoder_trace(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        return self._trace(t0, t1, 1)

    def power_trace(self, power_meter, t0: float, t1: float) -> np.ndarray:
        return self._trace(t0, t1, 2)[1]

    def stop(self) -> None:
        self._stop.set()
        self.line.axis.stop()


class SRSBuffer:
    """The buffer of an SRS lock-in (SR830 ``SRAT``/``STRT``/``PAUS``/``TRCB?``, SR860 capture) as a fly scan uses it.

    Samples are taken at the rate set from the moment the start command goes out;
    sample k is at that time plus k/rate. The overload status latched during the
    sweep is read once at its end.
    """

    def __init__(self, lockin):
        self.lockin, self.driver, self.name = lockin, lockin.driver, lockin.name
        self.rates_hz = getattr(self.driver, "buffer_rates_hz", None)
        self.capacity = int(self.driver.buffer_points)
        self.rate_hz = 0.0
        self._t0: float | None = None

    def now(self) -> float:
        return time.monotonic()

    def start_buffer(self, rate_hz: float) -> float:
        self.rate_hz = self.driver.buffer_setup(rate_hz)
        self.driver.overloaded()  # clears the latched flag, so the sweep's own overloads are what is read
        self._t0 = self.driver.buffer_start()
        return self._t0

    def stop_buffer(self) -> None:
        self.driver.buffer_pause()

    def read_buffer(self):
        x, y = self.driver.buffer_read()
        t = self._t0 + np.arange(x.size) / self.rate_hz
        return t, x, y, bool(self.driver.overloaded()), x.size >= self.capacity


class DelayFlyer(Device):
    """One sweep of the delay line from where it is to ``stop_fs`` at ``velocity_mm_s``, the lock-in at ``rate_hz``.

    ``kickoff`` starts the buffer and the move; ``complete`` finishes when the
    stage has arrived (and fails if it never does); ``collect`` yields one event
    per lock-in sample in the stream ``fly``: the delay from the encoder readings
    interpolated at the sample's time, X, Y, the pump power at that time, the
    sweep's overload flag, its direction (+1 up, −1 down) and its index. A buffer
    that overflowed raises instead: a sweep is kept whole or not at all.
    """

    stop_fs = config(0.0, "fs")
    velocity_mm_s = config(0.01, "mm/s")
    rate_hz = config(16.0, "Hz")

    def __init__(self, motion, buffer, *, power_meter=None, name: str, **kwargs):
        self.motion, self.buffer, self.power_meter = motion, buffer, power_meter
        self._status: Status | None = None
        self._t0 = self._t1 = 0.0
        self._start_fs = 0.0
        self.sweeps = 0
        super().__init__(name=name, **kwargs)

    def kickoff(self):
        self._start_fs = float(self.motion.stage.delay.get())
        self._t0 = self.buffer.start_buffer(float(self.rate_hz.get()))
        try:
            self._status = self.motion.start_sweep(float(self.stop_fs.get()), float(self.velocity_mm_s.get()))
        except Exception:
            self.buffer.stop_buffer()
            raise
        return finished(self)

    def complete(self):
        if self._status is None:
            raise RuntimeError(f"{self.name}: complete() before kickoff()")
        done = Status(obj=self)

        def finish(status):
            exc = status.exception()
            try:
                self.buffer.stop_buffer()
                self._t1 = self.buffer.now()
            except Exception as stop_exc:  # noqa: BLE001 — reported through the status
                exc = exc or stop_exc
            if exc is not None:
                done.set_exception(exc)
            else:
                done.set_finished()

        self._status.add_callback(finish)
        return done

    def describe_collect(self):
        n = self.name
        keys = {f"{n}_delay": ("fs", "number"), f"{n}_x": ("V", "number"), f"{n}_y": ("V", "number"),
                f"{n}_power": ("W", "number"), f"{n}_overload": ("", "boolean"),
                f"{n}_direction": ("", "integer"), f"{n}_sweep": ("", "integer")}
        return {"fly": {k: {"source": f"fly:{n}", "dtype": dtype, "shape": [], "units": units}
                        for k, (units, dtype) in keys.items()}}

    def collect(self):
        t, x, y, overload, overflowed = self.buffer.read_buffer()
        if overflowed:
            raise InstrumentError(f"{self.buffer.name}: buffer overflowed ({t.size} samples, capacity "
                                  f"{self.buffer.capacity}); lower the sample rate or shorten the sweep")
        te, xe = self.motion.encoder_trace(self._t0, self._t1)
        if te.size < 2:
            raise InstrumentError(f"{self.motion.name}: fewer than 2 encoder readings during the sweep")
        delay = (np.interp(t, te, xe) - self.motion_time_zero()) * self.motion_fs_per_mm()
        power = (np.interp(t, te, self.motion.power_trace(self.power_meter, self._t0, self._t1))
                 if self.power_meter is not None else np.full(t.shape, np.nan))
        direction = 1 if float(self.stop_fs.get()) >= self._start_fs else -1
        index = self.sweeps
        self.sweeps += 1
        n = self.name
        wall = time.time() - self.buffer.now()  # the buffer's clock to epoch seconds
        for k in range(t.size):
            ts = float(t[k] + wall)
            data = {f"{n}_delay": float(delay[k]), f"{n}_x": float(x[k]), f"{n}_y": float(y[k]),
                    f"{n}_power": float(power[k]), f"{n}_overload": bool(overload),
                    f"{n}_direction": direction, f"{n}_sweep": index}
            yield {"data": data, "timestamps": dict.fromkeys(data, ts), "time": ts}

    def motion_time_zero(self) -> float:
        return float(self.motion.stage.time_zero_mm.get())

    def motion_fs_per_mm(self) -> float:
        return float(self.motion.stage.fs_per_mm.get())

    def stop(self, *, success: bool = False):
        """Called by the RunEngine on pause and abort: halt the stage and the buffer."""
        self.motion.stop()
        try:
            self.buffer.stop_buffer()
        except Exception:  # noqa: BLE001 — the stage stopping is what makes the table safe
            pass

