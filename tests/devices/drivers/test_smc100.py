import threading

import pytest

from femtospin.devices import InstrumentError
from femtospin.devices.drivers import smc100

from ..conftest import FakeSMC100


def test_commands_as_in_the_manual(line):
    serial_line = line(FakeSMC100)
    axis = smc100.SMC100(serial_line, 1)
    axis.move_to(12.5)
    assert serial_line.port.written[:2] == [b"1PA12.500000\r\n", b"1TE\r\n"]
    assert axis.is_moving()
    assert serial_line.port.written[-1] == b"1TS\r\n"
    assert axis.position() == 12.5
    assert axis.travel() == (-25.0, 25.0)


def test_error_raised_with_the_controllers_message(line):
    axis = smc100.SMC100(line(FakeSMC100), 1)
    with pytest.raises(InstrumentError, match="Parameter missing or out of range"):
        axis.move_to(40.0)


def test_queries_from_many_threads_never_interleave(line):
    serial_line = line(FakeSMC100, position=3.0)
    axis = smc100.SMC100(serial_line, 1)
    results = []

    def poll():
        for _ in range(50):
            results.append(axis.position())

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not serial_line.port.interleaved
    assert results == [3.0] * 200
