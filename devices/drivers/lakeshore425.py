"""LakeShore 425 gaussmeter: the Hall probe that reads the field at the sample, over pymeasure."""

from __future__ import annotations

import threading

from pymeasure.instruments.lakeshore import LakeShore425

from ._visa import LockedInstrument


class Gaussmeter(LockedInstrument):
    """LakeShore 425 reading in tesla (``UNIT 2``), converted to mT."""

    model = LakeShore425

    def __init__(self, instrument: LakeShore425, lock: threading.RLock | None = None):
        super().__init__(instrument, lock)
        with self.lock:
            self.inst.unit = "T"

    def field_mT(self) -> float:
        with self.lock:
            return float(self.inst.field) * 1e3
