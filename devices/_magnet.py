"""Electromagnet: a bipolar current source, a current↔field calibration and a Hall-probe readback."""

from __future__ import annotations

import math
import time

from ophyd import Device, Kind
from ophyd.utils import LimitError

from ._base import background, config, readback


class Electromagnet(Device):
    """Bipolar magnet supply with Hall-probe readback (mT), ramp-rate and current limits.

    The current for a field is ``(field_mT − offset_mT) / mT_per_A`` (calibrated
    against the gaussmeter, see docs/hardware.md). Moves ramp the current in
    steps of ``ramp_step_s`` at ``ramp_mT_s`` and then wait ``settle_s``. Without
    a gaussmeter ``field`` is the calibrated measured current.
    """

    field = readback(lambda d: d.read_field_mT(), "mT", Kind.hinted)
    current_A = readback(lambda d: d.source.current(), "A")
    max_field_mT = config(200.0, "mT")
    max_current_A = config(5.0, "A")
    mT_per_A = config(40.0, "mT/A")
    offset_mT = config(0.0, "mT")
    ramp_mT_s = config(500.0, "mT/s")
    ramp_step_s = config(0.05, "s")
    settle_s = config(0.2, "s")
    timeout_s = config(120.0, "s")

    def __init__(self, source, gaussmeter=None, *, name: str, **kwargs):
        self.source, self.gaussmeter = source, gaussmeter
        super().__init__(name=name, **kwargs)

    def read_field_mT(self) -> float:
        if self.gaussmeter is not None:
            return self.gaussmeter.field_mT()
        return self.source.current() * self.mT_per_A.get() + self.offset_mT.get()

    def current_for(self, field_mT: float) -> float:
        return (field_mT - self.offset_mT.get()) / self.mT_per_A.get()

    def set(self, field_mT: float):
        limit = self.max_field_mT.get()
        if not abs(field_mT) <= limit:
            raise LimitError(f"{self.name}: field {field_mT} mT outside ±{limit} mT")
        target = self.current_for(field_mT)
        max_current = self.max_current_A.get()
        if not abs(target) <= max_current:
            raise LimitError(f"{self.name}: {field_mT} mT needs {target:.4g} A, beyond ±{max_current} A")
        rate_A_s = self.ramp_mT_s.get() / abs(self.mT_per_A.get())
        step_s, settle = self.ramp_step_s.get(), self.settle_s.get()
        start = self.source.current()
        duration = abs(target - start) / rate_A_s
        steps = max(1, math.ceil(duration / step_s))

        def work():
            for i in range(1, steps + 1):
                self.source.set_current(start + (target - start) * i / steps)
                time.sleep(duration / steps)
            self.source.check_errors()
            time.sleep(settle)

        return background(self, work, duration + settle + self.timeout_s.get(), on_failure=self.zero)

    def zero(self) -> None:
        """Drop the current to zero at once (safe state after a failure)."""
        self.source.set_current(0.0)
