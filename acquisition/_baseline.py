"""The baseline read so that one device that does not answer cannot lose the others' closing readings."""

from __future__ import annotations

import operator

from ophyd import Signal
from ophyd.status import Status


class Answering:
    """A device as the baseline sees it: read as usual, or from its last readings when it fails.

    The closing baseline shows the state the table was left in, and is most needed
    when an instrument has failed. bluesky reads a stream's devices into one event
    and gives up on the first error, so a wrapped device that does not answer is
    read from its signals' caches instead: the values and timestamps of its last
    successful readings (older than the event's, which tells them apart).
    :attr:`error` keeps what went wrong.
    """

    def __init__(self, device):
        self.device = device
        self.error: str | None = None

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def parent(self):
        return None

    @property
    def hints(self):
        return getattr(self.device, "hints", {})

    def describe(self):
        return self.device.describe()

    def describe_configuration(self):
        return self.device.describe_configuration()

    def read_configuration(self):
        try:
            return self.device.read_configuration()
        except Exception:  # noqa: BLE001 — configuration is cached at the run's start; a stale copy is fine
            return {sig.name: _cached(sig) for sig in _signals(self.device, self.device.configuration_attrs)}

    def trigger(self):
        done = Status()
        try:
            status = self.device.trigger()
        except Exception as exc:  # noqa: BLE001 — read() below falls back to the cache
            self.error = str(exc)
            done.set_finished()
            return done

        def finish(status):
            if not status.success:
                self.error = str(status.exception())
            done.set_finished()  # a failed trigger is read from the cache, not a failed baseline

        status.add_callback(finish)
        return done

    def read(self):
        try:
            reading = self.device.read()
        except Exception as exc:  # noqa: BLE001 — the device's last readings, so the event is still written
            self.error = str(exc)
            return {sig.name: _cached(sig) for sig in _signals(self.device, self.device.read_attrs)}
        self.error = None
        return reading


def _signals(device, attrs) -> list[Signal]:
    out = []
    for attr in attrs:
        obj = operator.attrgetter(attr)(device)
        if isinstance(obj, Signal):
            out.append(obj)
    return out


def _cached(sig: Signal) -> dict:
    """A signal's last value without asking the instrument."""
    return {"value": sig._readback, "timestamp": sig.timestamp}  # ophyd's cache: no public accessor
