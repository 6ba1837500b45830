"""What every pymeasure-based driver shares: the instrument, its connection lock, and how to open it."""

from __future__ import annotations

import threading
import warnings


class LockedInstrument:
    """A pymeasure instrument and the lock every exchange with it takes.

    Subclasses set ``model`` to the pymeasure class; ``open`` connects to a VISA address.
    """

    model: type

    def __init__(self, instrument, lock: threading.RLock | None = None):
        self.inst, self.lock = instrument, lock or threading.RLock()
        self.name = getattr(instrument, "name", type(instrument).__name__)

    @classmethod
    def open(cls, address: str, visa_library: str = "", **kwargs):
        with warnings.catch_warnings():  # pymeasure asks its maintainers about SCPI support; not the user's concern
            warnings.filterwarnings("ignore", message="It is not known whether this device support",
                                    category=FutureWarning)
            return cls(cls.model(address, visa_library=visa_library, **kwargs))
