"""DelayFlyer over a real delay line and lock-in: delays from the encoder's timestamped readings."""

import threading
import time

import numpy as np
import pytest

from femtospin.devices import DelayFlyer, DelayLine, LockInAmplifier


class MovingAxis:
    """An axis moving at its set velocity in wall time; its encoder reads ``short_mm`` below the command."""

    units = "mm"

    def __init__(self, position=25.0, short_mm=0.0005):
        self._x0, self._target, self._t0, self._v = position, position, 0.0, 1.0
        self.short_mm, self.speed, self.stuck = short_mm, 1.0, False
        self.lock = threading.Lock()

    def _at(self, t):
        if self.stuck:
            return self._x0
        span = self._target - self._x0
        done = min(1.0, self._v * max(t - self._t0, 0.0) / abs(span)) if span else 1.0
        return self._x0 + done * span

    def position(self):
        return self._at(time.monotonic()) - (self.short_mm if self._target != self._x0 else 0.0)

    def move_to(self, x):
        self._x0, self._target, self._t0, self._v = self.position(), x, time.monotonic(), self.speed

    def is_moving(self):
        return self.stuck or self._at(time.monotonic()) != self._target

    def velocity(self):
        return self.speed

    def set_velocity(self, v):
        self.speed = v

    def stop(self):
        self.stuck = False
        self._x0 = self._target = self.position()

    def check_errors(self):
        pass


class BufferDriver:
    """An SRS driver's buffer: X is the encoder reading at each sample time (so the test can check the delays)."""

    buffer_points, buffer_rates_hz = 100_000, (100.0, 200.0, 400.0)
    name = "lockin"

    def __init__(self, axis):
        self.axis, self.rate, self.t0, self.t1 = axis, 0.0, 0.0, 0.0

    def buffer_setup(self, rate_hz):
        self.rate = min(r for r in self.buffer_rates_hz if r >= rate_hz)
        return self.rate

    def buffer_start(self):
        self.t0 = time.monotonic()
        return self.t0

    def buffer_pause(self):
        self.t1 = time.monotonic()

    def buffer_read(self):
        t = self.t0 + np.arange(int((self.t1 - self.t0) * self.rate)) / self.rate
        return np.array([self.axis._at(tk) for tk in t]), np.zeros(t.size)

    def overloaded(self):
        return False


@pytest.fixture
def rig():
    axis = MovingAxis()
    line = DelayLine(axis, name="stage")
    line.time_zero_mm.put(25.0)
    lockin = LockInAmplifier(BufferDriver(axis), name="lockin")
    motion = line.sweeper()
    motion.poll_s = 0.005
    return axis, line, DelayFlyer(motion, lockin.buffer(motion), name="fly")


def test_sample_delays_come_from_the_encoder_not_the_command(rig):
    axis, line, flyer = rig
    stop_fs = 300.0
    flyer.stop_fs.put(stop_fs)
    flyer.velocity_mm_s.put(300.0 / line.fs_per_mm.get() / 0.3)  # 300 fs in about 0.3 s
    flyer.rate_hz.put(200.0)
    flyer.kickoff().wait(2)
    flyer.complete().wait(5)
    events = list(flyer.collect())
    delay = np.array([e["data"]["fly_delay"] for e in events])
    truth = np.array([e["data"]["fly_x"] for e in events])  # the carriage at each sample's time
    assert len(events) > 20 and np.all(np.diff(delay) >= 0)
    moving = (delay > 20.0) & (delay < stop_fs - 20.0)
    assert np.allclose(delay[moving], line.to_fs(truth[moving]) - axis.short_mm * line.fs_per_mm.get(), atol=2.0)
    assert axis.speed == 1.0  # step moves get their velocity back
    assert {e["data"]["fly_direction"] for e in events} == {1}


def test_stuck_stage_fails_the_sweep_and_stops_the_axis(rig):
    axis, line, flyer = rig
    line.timeout_s.put(0.1)
    flyer.stop_fs.put(30.0)
    flyer.velocity_mm_s.put(30.0 / line.fs_per_mm.get() / 0.05)
    axis.stuck = True
    flyer.kickoff().wait(2)
    status = flyer.complete()
    with pytest.raises(Exception, match=r"stage: sweep not done within .* \(stage stuck\?\)"):
        status.wait(5)
    assert not axis.stuck  # stopped


def test_a_lockin_without_a_buffer_cannot_fly():
    class NoBuffer:
        name = "old"

    with pytest.raises(TypeError, match="old: its driver has no buffer, which fly scans need"):
        LockInAmplifier(NoBuffer(), name="old").buffer()
