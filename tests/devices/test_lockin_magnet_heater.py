import itertools
import threading

import pytest
from ophyd.utils import LimitError
from pymeasure.instruments.kepco import KepcoBOP3612
from pymeasure.instruments.srs import SR830
from pymeasure.test import expected_protocol

from femtospin.devices import (
    Electromagnet,
    HeaterController,
    InstrumentTimeout,
    LockIn,
    LockInAmplifier,
    Magnet,
    TemperatureController,
)
from femtospin.devices.drivers.current_sources import KepcoBOP
from femtospin.devices.drivers.srs import SR830LockIn


def test_lockin_snapshot_and_auto_sensitivity_on_overload():
    pairs = [("SNAP? 1,2", "0.9e-03,0.5e-03"), ("LIAS?", "1"),  # input overload at 1 mV full scale
             ("SENS?", "17"), ("SENS18", None), ("OFLT?", "0"), ("LIAS?", "1"),  # latched while ranging
             ("SNAP? 1,2", "1.2e-03,0.5e-03"), ("LIAS?", "0")]
    with expected_protocol(SR830, pairs) as inst:
        lockin = LockInAmplifier(SR830LockIn(inst), name="lockin")
        assert isinstance(lockin, LockIn)
        lockin.trigger().wait(2)
        assert lockin.x.get() == 1.2e-3 and lockin.y.get() == 0.5e-3
        assert lockin.r.get() == pytest.approx(1.3e-3)
        assert lockin.overload.get() is False


def test_lockin_reports_overload_when_not_ranging():
    with expected_protocol(SR830, [("SNAP? 1,2", "1e-03,0"), ("LIAS?", "4")]) as inst:
        lockin = LockInAmplifier(SR830LockIn(inst), name="lockin")
        lockin.auto_sensitivity.put(False)
        lockin.trigger().wait(2)
        assert lockin.overload.get() is True


class _Source:
    """A current source double recording setpoints (the Kepco protocol is tested separately)."""

    max_current_A = 12.0

    def __init__(self):
        self.amps, self.setpoints, self.lock = 0.0, [], threading.Lock()

    def set_current(self, amps):
        self.setpoints.append(amps)
        self.amps = amps

    def current(self):
        return self.amps

    def check_errors(self):
        pass


def _magnet():
    magnet = Electromagnet(_Source(), name="magnet")
    for key, value in {"mT_per_A": 25.0, "max_current_A": 10.0, "max_field_mT": 200.0, "ramp_mT_s": 5000.0,
                       "ramp_step_s": 0.002, "settle_s": 0.0}.items():
        getattr(magnet, key).put(value)
    return magnet


def test_magnet_ramps_in_steps_to_the_calibrated_current():
    magnet = _magnet()
    assert isinstance(magnet, Magnet)
    magnet.set(100.0).wait(2)  # 4 A at 25 mT/A, 20 ms at 5000 mT/s → 10 steps of 2 ms
    steps = magnet.source.setpoints
    assert len(steps) == 10 and steps[-1] == pytest.approx(4.0)
    assert all(b > a for a, b in itertools.pairwise(steps))
    assert magnet.field.get() == pytest.approx(100.0)  # no gaussmeter: the calibrated current


def test_magnet_limits():
    magnet = _magnet()
    with pytest.raises(LimitError, match="magnet: field 250"):
        magnet.set(250.0)
    magnet.max_current_A.put(2.0)
    with pytest.raises(LimitError, match="needs 4 A"):
        magnet.set(100.0)


def test_magnet_over_kepco_protocol():
    pairs = [("MEAS:CURR?", "0"), ("CURR 1", None), ("CURR 2", None), ("SYST:ERR?", "0,No error")]
    with expected_protocol(KepcoBOP3612, pairs) as inst:
        magnet = _magnet()
        magnet.source = KepcoBOP(inst)
        magnet.ramp_step_s.put(0.0025)
        magnet.ramp_mT_s.put(10000.0)  # 2 A (50 mT) in 5 ms: two steps of 2.5 ms
        magnet.set(50.0).wait(2)


class _Heater:
    def __init__(self, readings):
        self.readings, self.setpoints, self.ramps, self.ranges = list(readings), [], [], []

    def temperature(self):
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]

    def setpoint(self):
        return self.setpoints[-1]

    def set_setpoint(self, kelvin):
        self.setpoints.append(kelvin)

    def set_ramp(self, rate):
        self.ramps.append(rate)

    def set_range(self, name):
        self.ranges.append(name)


def _heater(readings, hold_s=0.0, timeout_s=1.0):
    heater = HeaterController(_Heater(readings), name="heater")
    heater.poll_s.put(0.001)
    heater.hold_s.put(hold_s)
    heater.timeout_s.put(timeout_s)
    return heater


def test_heater_completes_once_stable_within_the_band():
    heater = _heater([300.0, 310.0, 319.5, 320.6, 320.1])
    assert isinstance(heater, TemperatureController)
    heater.set(320.0).wait(2)
    assert heater.driver.readings == [320.1]  # 320.6 is outside the ±0.2 K band
    assert heater.driver.ramps == [10.0] and heater.driver.ranges == ["medium"]


def test_heater_timeout_returns_to_safe_setpoint():
    heater = _heater([300.0], timeout_s=0.05)
    status = heater.set(350.0)
    with pytest.raises(InstrumentTimeout, match="heater: not stable at 350 K"):
        status.wait(3)
    assert heater.driver.setpoints == [350.0, 300.0]


def test_heater_sample_limit():
    with pytest.raises(LimitError, match="sample limit"):
        _heater([300.0]).set(500.0)


def test_power_meter_readings_reach_subscribers():
    """A real meter's readback notifies subscribers on each new reading: what the laser-drop suspender listens to."""
    from femtospin.devices import PumpPowerMeter

    class Meter:
        readings = iter([0.5, 0.5, 0.01, 0.5])

        def power_W(self):
            return next(self.readings)

    meter = PumpPowerMeter(Meter(), name="power_meter")
    seen = []
    meter.power.subscribe(lambda value, **kw: seen.append(value), run=False)
    for _ in range(4):
        meter.power.get()
    assert seen == [0.5, 0.01, 0.5]  # a repeated reading is not a new one
