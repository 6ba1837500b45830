import struct

import pytest

from femtospin.devices import InstrumentError, InstrumentTimeout
from femtospin.devices.drivers import apt

from ..conftest import FakeAptStage, FakePort


def test_move_absolute_bytes_as_in_the_protocol_manual():
    # MGMSG_MOT_MOVE_ABSOLUTE, channel 1, position 2048 (manual's example)
    assert apt.move_absolute(1, 2048) == bytes.fromhex("53 04 06 00 d0 01 01 00 00 08 00 00")


@pytest.mark.parametrize("message, expected", [
    (apt.move_home(1), "43 04 01 00 50 01"),
    (apt.req_status(1), "80 04 01 00 50 01"),
    (apt.enable_channel(1), "10 02 01 01 50 01"),
    (apt.move_stop(1), "65 04 01 02 50 01"),
    (apt.short(apt.HW_NO_FLASH_PROGRAMMING), "18 00 00 00 50 01"),
    (apt.move_absolute(1, -1), "53 04 06 00 d0 01 01 00 ff ff ff ff"),
])
def test_header_only_and_signed_messages(message, expected):
    assert message == bytes.fromhex(expected)


def test_status_update_decodes_position_and_bits():
    data = struct.pack("<HiiI", 1, -136533, 7, 0x80000410)
    status = apt.Status.parse(data)
    assert (status.channel, status.position, status.encoder, status.bits) == (1, -136533, 7, 0x80000410)
    assert status.bits & apt.MOVING


def test_motor_initializes_moves_and_polls(line):
    serial_line = line(FakeAptStage, polls_per_move=2)
    port = serial_line.port
    motor = apt.AptMotor(serial_line, apt.COUNTS_PER_UNIT["K10CR1"])
    assert port.written[:2] == [bytes.fromhex("18 00 00 00 50 01"), bytes.fromhex("10 02 01 01 50 01")]
    motor.move_to(90.0)
    assert port.written[-1] == apt.move_absolute(1, 12288000)  # 90° × 409600/3 counts
    assert [motor.is_moving() for _ in range(3)] == [True, True, False]
    # the unsolicited MOVE_COMPLETED before the status reply is skipped
    assert motor.position() == pytest.approx(90.0)


def test_rich_response_raises_the_controllers_text(line):
    serial_line = line(FakeAptStage)
    motor = apt.AptMotor(serial_line, 1000.0)
    serial_line.port.rich_error = "Move rejected: stage not homed"
    with pytest.raises(InstrumentError, match="Move rejected: stage not homed"):
        motor.position()


def test_silent_controller_times_out(line):
    class Silent(FakePort):
        def answer(self, data):
            return b""

    motor = apt.AptMotor(line(Silent), 1000.0, timeout=0.05)
    with pytest.raises(InstrumentTimeout, match="/dev/fake"):
        motor.position()
