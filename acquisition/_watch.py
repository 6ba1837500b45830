"""Laser-drop suspender: the run waits while the pump power is low and repeats the interrupted point."""

from __future__ import annotations

import threading

from bluesky.suspenders import SuspendFloor

RESUME_FACTOR = 1.2  # a suspended run resumes above this × the threshold, so it does not flicker


class LaserWatch:
    """Suspend a RunEngine while ``power_meter.power`` is below ``threshold_W``.

    Every point reads the power meter before the lock-in (see
    :func:`femtospin.plans.read_at`), which trips the suspender; while suspended
    a poller keeps reading the meter so the run resumes once the power is back
    above ``resume_W``, from the last checkpoint: the interrupted point is measured
    again, never recorded with the laser off.

    On an accelerated simulated clock nothing else lets time pass while the run
    waits, so each poll below ``resume_W`` also advances the clock by
    ``sim_step_s``: waiting for the laser is a simulated wait like any other.
    """

    def __init__(self, power_meter, threshold_W: float, resume_W: float | None = None, *, clock=None,
                 poll_s: float = 0.05, sim_step_s: float = 1.0):
        if not threshold_W > 0:
            raise ValueError(f"laser threshold must be > 0 W, got {threshold_W}")
        self.power = power_meter.power
        self.threshold_W = float(threshold_W)
        self.resume_W = float(resume_W) if resume_W is not None else RESUME_FACTOR * self.threshold_W
        self.clock, self.poll_s, self.sim_step_s = clock, poll_s, sim_step_s
        self.suspender = SuspendFloor(
            self.power, self.threshold_W, resume_thresh=self.resume_W, sleep=0,
            tripped_message=f"pump power below {self.threshold_W:g} W (laser drop)")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self, run_engine) -> None:
        run_engine.install_suspender(self.suspender)

    def __enter__(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="laser-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return False

    def _poll(self) -> None:
        fast = self.clock is not None and self.clock.accelerated
        while not self._stop.wait(self.poll_s):
            try:
                power = self.power.get()  # a reading notifies the suspender
            except Exception:  # noqa: BLE001 — a faulty meter is the run's error to report, not the poller's
                continue
            if fast and power < self.resume_W:
                self.clock.advance(self.sim_step_s)
