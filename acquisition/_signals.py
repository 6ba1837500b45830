"""Stop signals: Ctrl-C, SIGTERM and SIGHUP end a run the same way, through the plan's cleanup.

bluesky's own handler knows only SIGINT, and its first Ctrl-C waits for the next
checkpoint, which a run suspended on a weak laser never reaches. Here every stop
signal asks for a pause at the next checkpoint (the point being measured finishes,
so no move is cut short); if none comes within ``grace_s``, on a second signal, or
at once while a suspender holds the run, the pause is immediate. The paused run is
then aborted by :meth:`Session.run`, so ``make_safe``, the closing baseline and the
stop document follow as for any abort.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

from bluesky.utils import TransitionError

from .cli._cli import tolerant_streams

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_S = 5.0  # longer than one point takes; a heater still settling is cut short after this


class StopSignals:
    """Stop-signal policy of one :class:`Session`, and the first signal received.

    Pass the instance to ``RunEngine(context_managers=[...])``: the RunEngine enters
    ``instance(RE)`` around every stretch it runs a plan, which installs the handlers
    and restores the previous ones afterwards. Outside the main thread (where
    Python allows no handlers) it does nothing.

    Parameters
    ----------
    suspended : callable
        ``suspended()`` is true while a suspender holds the run (no checkpoint is coming).
    grace_s : float
        How long the first signal waits for a checkpoint before pausing at once.
    """

    def __init__(self, suspended: Callable[[], bool] = lambda: False, grace_s: float = GRACE_S):
        self.suspended, self.grace_s = suspended, grace_s
        self.received: int | None = None

    def reset(self) -> None:
        self.received = None

    def __call__(self, RE) -> _Handlers:
        return _Handlers(self, RE)


class _Handlers:
    """What :class:`StopSignals` installs for one stretch of a run."""

    def __init__(self, policy: StopSignals, RE):
        self.policy, self.RE = policy, RE
        self._count = 0
        self._wake = threading.Event()
        self._released = False
        self._previous: dict[int, object] = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handler)
        threading.Thread(target=self._request, name="stop-signals", daemon=True).start()
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._released = True
        self._wake.set()
        return False

    def _handler(self, signum, frame):
        # runs between bytecodes of the main thread: record and wake the worker, nothing more
        if self.policy.received is None:
            self.policy.received = signum
        if signum == signal.SIGHUP:  # the terminal may be gone; printing must not break the cleanup
            tolerant_streams()
        self._count += 1
        self._wake.set()

    def _request(self) -> None:
        """Worker: a pause at the next checkpoint, made immediate when waiting cannot help."""
        self._wake.wait()
        if self._released:
            return
        if not self.policy.suspended():
            self._pause(defer=True)
        deadline = time.monotonic() + self.policy.grace_s
        while not self._released:
            if self._count > 1 or self.policy.suspended() or time.monotonic() > deadline:
                self._pause(defer=False)
                return
            self._wake.clear()
            self._wake.wait(0.05)

    def _pause(self, defer: bool) -> None:
        try:
            self.RE.request_pause(defer=defer)
        except (TransitionError, RuntimeError):  # already pausing, paused, aborting or done
            pass
