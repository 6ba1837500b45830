"""Pump devices: the power meter that watches the laser and the shutter that blocks the pump."""

from __future__ import annotations

import time

from ophyd import Device, Kind

from ._base import background, config, readback, setting


class PumpPowerMeter(Device):
    """Pump power meter (W); feeds the laser-drop suspender."""

    power = readback(lambda d: d.driver.power_W(), "W", Kind.hinted)
    wavelength_nm = setting(lambda d: d.driver.wavelength_nm(), lambda d, v: d.driver.set_wavelength_nm(v), "nm")

    def __init__(self, driver, *, name: str, **kwargs):
        self.driver = driver
        super().__init__(name=name, **kwargs)


class PumpShutter(Device):
    """Pump shutter over a driver with ``is_open()`` and ``set_open(bool)`` (Thorlabs SC10).

    ``set(1)`` opens, ``set(0)`` closes; the status finishes after ``switch_s``
    (the blade's travel), and ``open`` reads the controller's state back.
    """

    open = readback(lambda d: int(d.driver.is_open()), None, Kind.hinted)
    switch_s = config(0.05, "s")
    timeout_s = config(5.0, "s")

    def __init__(self, driver, *, name: str, **kwargs):
        self.driver = driver
        super().__init__(name=name, **kwargs)

    def set(self, value):
        if value not in (0, 1, True, False):
            raise ValueError(f"{self.name}: give 1 (open) or 0 (closed), got {value!r}")

        def work():
            self.driver.set_open(bool(value))
            time.sleep(self.switch_s.get())

        return background(self, work, self.timeout_s.get())
