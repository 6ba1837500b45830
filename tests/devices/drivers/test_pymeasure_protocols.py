"""Every pymeasure-based driver against ``expected_protocol``: commands as the manuals give them."""

import pytest
from pymeasure.instruments.keithley import Keithley2400
from pymeasure.instruments.kepco import KepcoBOP3612
from pymeasure.instruments.lakeshore import LakeShore425
from pymeasure.instruments.lakeshore.lakeshore3xx import LakeShore3xx
from pymeasure.instruments.newport import ESP300
from pymeasure.instruments.srs import SR830, SR860
from pymeasure.instruments.thorlabs import ThorlabsPM100USB
from pymeasure.test import expected_protocol

from femtospin.devices import InstrumentError
from femtospin.devices.drivers.current_sources import Keithley2400Source, KepcoBOP
from femtospin.devices.drivers.lakeshore33x import LakeShoreHeater
from femtospin.devices.drivers.lakeshore425 import Gaussmeter
from femtospin.devices.drivers.newport_esp import ESPAxis, ESPController
from femtospin.devices.drivers.srs import SR830LockIn, SR860LockIn
from femtospin.devices.drivers.thorlabs_pm import PM100

PM100_SENSOR = ("SYST:SENSOR:IDN?", "S120C,1234567,01-Jan-2024,1,18,289")


def test_sr830_snapshot_and_settings():
    with expected_protocol(SR830, [("SNAP? 1,2", "1.5e-06,-2e-07"), ("LIAS?", "4"), ("OFLT8", None),
                                   ("OFLT?", "8"), ("OFSL3", None), ("OFSL?", "3"), ("SENS?", "17"),
                                   ("SENS18", None), ("FREQ?", "1234.5"), ("ERRS?", "0")]) as inst:
        lockin = SR830LockIn(inst)
        assert lockin.snap_xy() == (1.5e-6, -2e-7)
        assert lockin.overloaded()  # bit 2: output overload
        lockin.set_time_constant(0.1)
        assert lockin.time_constant() == 0.1
        lockin.set_slope_db(24)
        assert lockin.slope_db() == 24
        assert lockin.step_sensitivity_up()  # 1 mV (index 17) → 2 mV
        assert lockin.frequency() == 1234.5
        lockin.check_errors()


def test_sr830_error_status_is_raised():
    with expected_protocol(SR830, [("ERRS?", "4")]) as inst, pytest.raises(InstrumentError, match="RAM"):
        SR830LockIn(inst).check_errors()


def test_sr830_largest_range_cannot_step_up():
    with expected_protocol(SR830, [("SENS?", "26")]) as inst:
        assert not SR830LockIn(inst).step_sensitivity_up()


def test_sr860_snapshot_slope_and_overload():
    with expected_protocol(SR860, [("SNAP? 0,1", "3e-06,1e-06"), ("CUROVLDSTAT?", "0"), ("OFSL 1", None),
                                   ("OFSL?", "1"), ("SCAL?", "10"), ("SCAL 9", None)]) as inst:
        lockin = SR860LockIn(inst)
        assert lockin.snap_xy() == (3e-6, 1e-6)
        assert not lockin.overloaded()
        lockin.set_slope_db(12)
        assert lockin.slope_db() == 12
        assert lockin.step_sensitivity_up()  # 1 mV (index 10) → 2 mV (index 9)


def test_esp300_axis_moves_polls_and_reads_errors():
    with expected_protocol(ESP300, [("1PA12.500000", None), ("TB?", "0, 451322, NO ERROR DETECTED"),
                                    ("1MD?", "0"), ("1MD?", "1"), ("1TP", "12.4999"), ("1ST", None),
                                    ("1SL?", "-75"), ("1SR?", "75"), ("1OR1", None)]) as inst:
        axis = ESPAxis(ESPController(inst), 1)
        axis.move_to(12.5)
        assert axis.is_moving() and not axis.is_moving()
        assert axis.position() == 12.4999
        axis.stop()
        assert axis.travel() == (-75.0, 75.0)
        axis.home()


def test_esp300_error_buffer_message_is_raised():
    with expected_protocol(ESP300, [("2PA300.000000", None), ("TB?", "107, 8123, POSITIVE SOFTWARE LIMIT DETECTED"),
                                    ("TB?", "0, 8125, NO ERROR DETECTED")]) as inst:
        axis = ESPAxis(ESPController(inst), 2)
        with pytest.raises(InstrumentError, match="POSITIVE SOFTWARE LIMIT DETECTED"):
            axis.move_to(300)


def test_kepco_current_mode_setpoint_readback_errors():
    with expected_protocol(KepcoBOP3612, [("FUNC:MODE CURR", None), ("OUTP 1", None), ("SYST:ERR?", "0,No error"),
                                          ("CURR -2.5", None), ("MEAS:CURR?", "-2.4998"),
                                          ("SYST:ERR?", '-222,"Data out of range"'),
                                          ("SYST:ERR?", "0,No error")]) as inst:
        source = KepcoBOP(inst)
        source.enable()
        source.set_current(-2.5)
        assert source.current() == -2.4998
        with pytest.raises(InstrumentError, match="Data out of range"):
            source.check_errors()


def test_keithley2400_as_current_source():
    with expected_protocol(Keithley2400, [(":FORMAT:ELEMENTS VOLTAGE, CURRENT, RESISTANCE, TIME, STATUS", None),
                                          (":SOUR:FUNC CURR", None), (":OUTP ON", None),
                                          ("SYST:ERR?", '0,"No error"'), (":SOUR:CURR 0.25", None),
                                          (":MEAS:CURR?", "+1.2E+00,+2.5E-01,+9.9E+37,+1.0E+02,+4.0E+04")]) as inst:
        source = Keithley2400Source(inst)
        source.enable()
        source.set_current(0.25)
        assert source.current() == 0.25


def test_lakeshore425_field_in_mT():
    with expected_protocol(LakeShore425, [("UNIT 2", None), ("RDGFIELD?", "0.0523")]) as inst:
        assert Gaussmeter(inst).field_mT() == pytest.approx(52.3)


def test_lakeshore336_setpoint_range_ramp_reading():
    with expected_protocol(LakeShore3xx, [("RAMP 1,1,5.0", None), ("*ESR?", "0"), ("RANGE 1,2", None),
                                          ("*ESR?", "0"), ("SETP 1,77.000", None), ("*ESR?", "0"),
                                          ("SETP? 1", "+77.000"), ("KRDG? A", "+76.912")]) as inst:
        heater = LakeShoreHeater(inst, output=1, sensor="A")
        heater.set_ramp(5.0)
        heater.set_range("medium")
        heater.set_setpoint(77.0)
        assert heater.setpoint() == 77.0
        assert heater.temperature() == 76.912


def test_lakeshore336_command_error_from_status_register():
    with (expected_protocol(LakeShore3xx, [("RANGE 2,3", None), ("*ESR?", "32")]) as inst,
          pytest.raises(InstrumentError, match="command error")):
        LakeShoreHeater(inst, output=2).set_range("high")


def test_pm100_power_and_wavelength():
    with expected_protocol(ThorlabsPM100USB, [PM100_SENSOR, ("MEAS:POW?", "1.25E-02"), ("SENSE:CORR:WAV?", "800"),
                                              ("SENS:CORR:WAV 1030", None), ("SYST:ERR?", '0,"No error"')]) as inst:
        meter = PM100(inst)
        assert meter.power_W() == 0.0125
        assert meter.wavelength_nm() == 800.0
        meter.set_wavelength_nm(1030)


def test_aux_input_1_reads_the_balanced_detectors_dc_level():
    """TR-MOKE: the static Kerr signal is the DC difference on AUX input 1 (SR830 OAUX? 1, SR860 OAUX? 0)."""
    with expected_protocol(SR830, [("OAUX?1;", "0.1234")]) as inst:
        assert SR830LockIn(inst).aux_in() == 0.1234
    with expected_protocol(SR860, [("OAUX? 0", "-0.0567")]) as inst:
        assert SR860LockIn(inst).aux_in() == -0.0567
