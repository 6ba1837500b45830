"""Heater controller: a setpoint reached once the reading stays within a band for a hold time."""

from __future__ import annotations

import time

from ophyd import Device, Kind
from ophyd.utils import LimitError

from ._base import background, config, readback
from .drivers import InstrumentTimeout


class HeaterController(Device):
    """Temperature controller; ``set`` completes when the reading has stayed within ±``band_K``
    of the setpoint for ``hold_s``, polling every ``poll_s``.

    If that does not happen within ``timeout_s`` the setpoint goes back to
    ``safe_K`` and the status fails naming the device.
    """

    temperature = readback(lambda d: d.driver.temperature(), "K", Kind.hinted)
    setpoint = readback(lambda d: d.driver.setpoint(), "K")
    ramp_K_per_min = config(10.0, "K/min")
    band_K = config(0.2, "K")
    hold_s = config(30.0, "s")
    safe_K = config(300.0, "K")
    max_K = config(400.0, "K")
    heater_range = config("medium")
    poll_s = config(1.0, "s")
    timeout_s = config(3600.0, "s")

    def __init__(self, driver, *, name: str, **kwargs):
        self.driver = driver
        super().__init__(name=name, **kwargs)

    def set(self, temperature_K: float):
        limit = self.max_K.get()
        if not 0 < temperature_K <= limit:
            raise LimitError(f"{self.name}: setpoint {temperature_K} K outside (0, {limit}] K (sample limit)")
        driver = self.driver
        band, hold, poll, timeout = self.band_K.get(), self.hold_s.get(), self.poll_s.get(), self.timeout_s.get()
        driver.set_ramp(self.ramp_K_per_min.get())
        driver.set_range(self.heater_range.get())
        driver.set_setpoint(float(temperature_K))

        def work():
            deadline = time.monotonic() + timeout
            inside_since = None
            while True:
                now = time.monotonic()
                if abs(driver.temperature() - temperature_K) <= band:
                    inside_since = now if inside_since is None else inside_since
                    if now - inside_since >= hold:
                        return
                else:
                    inside_since = None
                if now > deadline:
                    raise InstrumentTimeout(f"{self.name}: not stable at {temperature_K:g} K ± {band:g} K "
                                            f"for {hold:g} s within {timeout:g} s; setpoint back to "
                                            f"{self.safe_K.get():g} K")
                time.sleep(poll)

        return background(self, work, timeout + hold, on_failure=lambda: driver.set_setpoint(self.safe_K.get()))
