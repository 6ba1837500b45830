"""The simulated table's clock.

It follows wall time by default, so a lock-in with τ = 100 ms really makes the
demo wait. An accelerated clock (design.md "Simulated clock") skips every
simulated wait but adds it to simulated time, so settling, ramps and drift still
happen in simulated seconds; its time is only what was waited, so a seeded run
gives the same readings however fast the computer is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SimClock:
    """Time source of the simulated table, in seconds since the clock was made.

    Parameters
    ----------
    accelerated : bool
        If True, :meth:`sleep` and :meth:`call_later` return at once and advance
        simulated time instead of waiting.
    """

    def __init__(self, accelerated: bool = False):
        self.accelerated = accelerated
        self._start = time.monotonic()
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            if self.accelerated:  # purely simulated: a seeded run repeats exactly
                return self._skipped
            return time.monotonic() - self._start

    def advance(self, seconds: float) -> None:
        """Account a skipped wait (accelerated clock; a wall clock ignores it)."""
        if self.accelerated and seconds > 0:
            with self._lock:
                self._skipped += seconds

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` of simulated time."""
        if seconds <= 0:
            return
        if self.accelerated:
            self.advance(seconds)
        else:
            time.sleep(seconds)

    def call_later(self, seconds: float, func: Callable[[], None]) -> None:
        """Run ``func`` after ``seconds`` of simulated time, without blocking the caller.

        The accelerated clock advances and calls at once, in the caller's thread.
        """
        if self.accelerated or seconds <= 0:
            self.advance(seconds)
            func()
        else:
            timer = threading.Timer(seconds, func)
            timer.daemon = True
            timer.start()
