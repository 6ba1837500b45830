"""What every real device shares: signals over a driver, errors, and statuses that finish off-thread.

Devices are an ophyd ``Device`` plus a driver object (composition): the device
holds configuration in ``kind="config"`` signals and reads everything else from
the driver, so it keeps no state of its own that the run would not record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ophyd import Component as Cpt
from ophyd import Kind, Signal
from ophyd.status import DeviceStatus
from ophyd.utils import ReadOnlyError

from .drivers import InstrumentTimeout

log = logging.getLogger(__name__)
_notifying = threading.local()  # per thread: ids of the DriverSignals whose subscribers are running


class DriverSignal(Signal):
    """A signal read from (and optionally written to) its parent's driver.

    Parameters
    ----------
    getter : callable, optional
        ``getter(device) -> value``. Without it the signal is a plain soft value
        (configuration such as calibrations and limits).
    setter : callable, optional
        ``setter(device, value)``; with a getter but no setter the signal is read-only.
    units : str, optional
        Units reported in ``describe``.
    """

    def __init__(self, *, getter: Callable | None = None, setter: Callable | None = None,
                 units: str | None = None, value=None, **kwargs):
        self._getter, self._setter, self._units = getter, setter, units
        super().__init__(value=value, **kwargs)

    def get(self, **kwargs):
        if self._getter is not None:
            old, value = self._readback, self._getter(self.parent)
            self._readback = value
            self._metadata["timestamp"] = ts = time.time()
            if value != old:  # like an instrument monitor: subscribers (suspenders) see every new reading
                self._notify(old, value, ts)
        return self._readback

    def _notify(self, old, value, ts) -> None:
        # A subscriber that reads the signal again (a bluesky suspender's justification does, holding
        # its lock) must not be called back from inside itself: with a noisy reading it would wait
        # for its own lock and hang the RunEngine's loop.
        busy = _notifying.__dict__.setdefault("ids", set())
        if id(self) in busy:
            return
        busy.add(id(self))
        try:
            self._run_subs(sub_type=self.SUB_VALUE, old_value=old, value=value, timestamp=ts)
        finally:
            busy.discard(id(self))

    def put(self, value, **kwargs):
        if self._getter is None:
            return super().put(value, **kwargs)
        if self._setter is None:
            raise ReadOnlyError(f"{self.name} is read-only")
        self._setter(self.parent, value)
        super().put(self._getter(self.parent), force=True)

    def describe(self):
        self.get()  # the value's type decides the dtype
        desc = super().describe()
        if self._units:
            desc[self.name]["units"] = self._units
        return desc


def config(value, units: str | None = None):
    """A configuration value of a device, stored with the run's descriptors."""
    return Cpt(DriverSignal, value=value, units=units, kind=Kind.config)


def setting(getter: Callable, setter: Callable, units: str | None = None):
    """An instrument setting read from and written to the instrument, stored as configuration."""
    return Cpt(DriverSignal, getter=getter, setter=setter, units=units, kind=Kind.config)


def readback(getter: Callable, units: str | None = None, kind=Kind.normal):
    """A read-only signal measured by the instrument."""
    return Cpt(DriverSignal, getter=getter, units=units, kind=kind)


def background(device, work: Callable[[], None], timeout: float, *, on_failure: Callable[[], None] | None = None
               ) -> DeviceStatus:
    """Run ``work`` on a worker thread; the returned status finishes when it returns.

    ``work`` enforces its own deadline (see :func:`wait_until`); the status also
    carries ``timeout`` plus a margin as a backstop, so a driver stuck in I/O can
    never hold the RunEngine forever. On any failure ``on_failure`` (e.g. stop the
    motor, zero the magnet) runs first, so the table is left safe.
    """
    status = DeviceStatus(device, timeout=timeout + 5.0)

    def run():
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - reported through the status, never lost in the thread
            if on_failure is not None:
                try:
                    on_failure()
                except Exception:  # making the table safe must not hide the original error
                    log.exception("%s: could not make the table safe", device.name)
            status.set_exception(exc)
        else:
            status.set_finished()

    threading.Thread(target=run, name=f"{device.name}-status", daemon=True).start()
    return status


def finished(device) -> DeviceStatus:
    """A status that is already done (instant settings)."""
    status = DeviceStatus(device)
    status.set_finished()
    return status


def wait_until(done: Callable[[], bool], *, timeout: float, poll_s: float, what: str) -> None:
    """Poll ``done()`` every ``poll_s`` until it is true; raise :class:`InstrumentTimeout` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise InstrumentTimeout(f"{what}: not done within {timeout:g} s")
        time.sleep(poll_s)
