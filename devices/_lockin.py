"""Dual-phase lock-in over an SRS driver (SR830, SR860)."""

from __future__ import annotations

import math
import time

from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal

from ._base import DriverSignal, background, config, setting


def _setting(getter: str, setter: str, units: str | None = None):
    return setting(lambda d: getattr(d.driver, getter)(), lambda d, v: getattr(d.driver, setter)(v), units)


class LockInAmplifier(Device):
    """X, Y (V) from one snapshot query; R, θ derived; τ, slope, sensitivity, phase as configuration.

    With ``auto_sensitivity`` on, a point whose snapshot overloaded is retaken
    one sensitivity range up, after ``overload_settle_tc`` time constants,
    until it no longer overloads or the largest range is reached; ``overload``
    then tells whether the recorded point still overloaded.
    """

    x = Cpt(DriverSignal, value=0.0, units="V", kind=Kind.hinted)
    y = Cpt(DriverSignal, value=0.0, units="V", kind=Kind.normal)
    r = Cpt(DriverSignal, value=0.0, units="V", kind=Kind.normal)
    theta = Cpt(DriverSignal, value=0.0, units="deg", kind=Kind.normal)
    overload = Cpt(Signal, value=False, kind=Kind.normal)
    time_constant = _setting("time_constant", "set_time_constant", "s")
    slope_db = _setting("slope_db", "set_slope_db", "dB/oct")
    sensitivity = _setting("sensitivity", "set_sensitivity", "V")
    phase = _setting("phase", "set_phase", "deg")
    frequency = Cpt(DriverSignal, getter=lambda d: d.driver.frequency(), units="Hz", kind=Kind.config)
    # AUX input 1: the balanced detector's DC difference (TR-MOKE static Kerr); read on demand, never per point
    aux_in = Cpt(DriverSignal, getter=lambda d: d.driver.aux_in(), units="V", kind=Kind.omitted)
    auto_sensitivity = config(True)
    overload_settle_tc = config(5.0)
    timeout_s = config(30.0, "s")

    def __init__(self, driver, *, name: str, **kwargs):
        self.driver = driver
        super().__init__(name=name, **kwargs)

    def _snapshot(self) -> None:
        driver = self.driver
        x, y = driver.snap_xy()
        overloaded = driver.overloaded()
        while overloaded and self.auto_sensitivity.get() and driver.step_sensitivity_up():
            time.sleep(self.overload_settle_tc.get() * driver.time_constant())
            driver.overloaded()  # clears the flag latched while the range changed
            x, y = driver.snap_xy()
            overloaded = driver.overloaded()
        ts = time.time()
        for sig, value in ((self.x, x), (self.y, y), (self.r, math.hypot(x, y)),
                           (self.theta, math.degrees(math.atan2(y, x))), (self.overload, overloaded)):
            sig.put(value, timestamp=ts)

    def trigger(self):
        return background(self, self._snapshot, self.timeout_s.get())

    def buffer(self, sweep=None):
        """The instrument's internal buffer, for fly scans (SR830/SR860)."""
        from ._flyer import SRSBuffer
        if not hasattr(self.driver, "buffer_setup"):
            raise TypeError(f"{self.name}: its driver has no buffer, which fly scans need (use --mode step)")
        return SRSBuffer(self)
