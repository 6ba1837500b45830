import pytest

from femtospin.devices import InstrumentError, PumpShutter
from femtospin.devices.drivers import sc10

from ..conftest import FakeSC10


def test_manual_mode_then_enable_toggles_only_when_the_state_differs(line):
    serial_line = line(FakeSC10)
    shutter = sc10.SC10Shutter(serial_line)
    assert serial_line.port.written == [b"mode=1\r"] and serial_line.port.mode == 1
    assert not shutter.is_open()
    shutter.set_open(True)
    assert serial_line.port.written[-3:] == [b"ens?\r", b"ens\r", b"ens?\r"] and shutter.is_open()
    before = len(serial_line.port.written)
    shutter.set_open(True)  # already open: 'ens' would toggle it shut, so it is not sent
    assert b"ens\r" not in serial_line.port.written[before:]
    shutter.set_open(False)
    assert not serial_line.port.enabled


def test_refused_command_is_the_controllers_own_error(line):
    with pytest.raises(InstrumentError, match="SC10 refused 'ens\\?': CMD_NOT_DEFINED"):
        sc10.SC10Shutter(line(FakeSC10, refuse={"ens?"})).is_open()


def test_no_echo_is_an_error_not_a_state(line):
    class Mute(FakeSC10):
        def answer(self, data):
            return b"> "

    with pytest.raises(InstrumentError, match="did not echo 'mode=1'"):
        sc10.SC10Shutter(line(Mute))


def test_pump_shutter_device_opens_and_reads_back(line):
    shutter = PumpShutter(sc10.SC10Shutter(line(FakeSC10)), name="shutter")
    shutter.switch_s.put(0.0)
    shutter.set(1).wait(5)
    assert shutter.open.get() == 1
    shutter.set(0).wait(5)
    assert shutter.open.get() == 0
    with pytest.raises(ValueError, match="give 1 \\(open\\) or 0 \\(closed\\)"):
        shutter.set(0.5)
