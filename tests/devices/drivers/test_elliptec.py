import pytest

from femtospin.devices import InstrumentError
from femtospin.devices.drivers import elliptec

from ..conftest import ELL14_INFO, FakeElliptecBus


def test_counts_are_32_bit_twos_complement_hex():
    assert elliptec.encode_counts(35840) == "00008C00"
    assert elliptec.encode_counts(-1) == "FFFFFFFF"
    assert elliptec.decode_counts("FFFFFC00") == -1024


def test_info_reply_fields():
    info = elliptec.ElliptecInfo.parse(ELL14_INFO)
    assert (info.model, info.serial, info.year, info.travel, info.pulses) == (14, "11400517", 2023, 360, 143360)


def test_pulses_per_degree_come_from_the_in_reply(line):
    other = ELL14_INFO[:22] + "00040000"  # a module reporting 262144 pulses per revolution
    rotator = elliptec.ElliptecRotator(line(FakeElliptecBus, info=other), "0")
    assert rotator.counts_per_degree == pytest.approx(262144 / 360)


def test_move_bytes_and_busy_replies(line):
    serial_line = line(FakeElliptecBus)
    rotator = elliptec.ElliptecRotator(serial_line, "0")
    assert serial_line.port.written == [b"0in"]
    rotator.move_to(90.0)  # 90 × 143360/360 = 35840 = 0x8C00; one GS09 (busy) reply is skipped
    assert serial_line.port.written[-1] == b"0ma00008C00"
    assert rotator.position() == pytest.approx(90.0)
    assert serial_line.port.written[-1] == b"0gp"
    rotator.home()
    assert serial_line.port.written[-1] == b"0ho0"


def test_multi_drop_modules_share_the_bus(line):
    serial_line = line(FakeElliptecBus, addresses="0A")
    sample, plate = elliptec.ElliptecRotator(serial_line, "0"), elliptec.ElliptecRotator(serial_line, "a")
    plate.move_to(45.0)
    assert serial_line.port.written[-1] == b"Ama00004600"
    assert sample.position() == 0.0 and plate.position() == pytest.approx(45.0)


def test_module_error_status_raises_its_meaning(line):
    serial_line = line(FakeElliptecBus)
    rotator = elliptec.ElliptecRotator(serial_line, "0")
    serial_line.port.status_after_move = 2
    with pytest.raises(InstrumentError, match="mechanical time out"):
        rotator.move_to(10.0)


def test_a_linear_module_is_not_a_rotation_mount(line):
    ell17 = "11" + ELL14_INFO[2:18] + "001C" + "00000400"  # travel 28 mm
    with pytest.raises(InstrumentError, match="not a rotation mount"):
        elliptec.ElliptecRotator(line(FakeElliptecBus, info=ell17), "0")


def test_bad_address_is_refused(line):
    with pytest.raises(ValueError, match="hex digit"):
        elliptec.ElliptecRotator(line(FakeElliptecBus), "G")
