"""Buffered lock-ins and constant-velocity stages at the protocol level (fly scans)."""

import struct

import pytest
from pymeasure.instruments.newport import ESP300
from pymeasure.instruments.srs import SR830, SR860
from pymeasure.test import expected_protocol

from femtospin.devices import InstrumentError
from femtospin.devices.drivers import apt, smc100
from femtospin.devices.drivers.newport_esp import ESPAxis, ESPController
from femtospin.devices.drivers.srs import SR830LockIn, SR860LockIn

from ..conftest import FakeAptStage, FakeSMC100


def test_sr830_buffer_setup_start_pause_and_binary_transfer():
    x, y = struct.pack("<3f", 1e-6, 2e-6, -3e-6), struct.pack("<3f", 0.5e-6, 0.0, 0.25e-6)
    with expected_protocol(SR830, [("DDEF 1,0,0", None), ("DDEF 2,0,0", None), ("SEND 0", None),
                                   ("TSTR 0", None), ("SRAT 9", None), ("REST", None), ("STRT", None),
                                   ("PAUS", None), ("SPTS?", "3"), ("TRCB? 1,0,3", x),
                                   ("TRCB? 2,0,3", y)]) as inst:
        lockin = SR830LockIn(inst)
        assert lockin.buffer_setup(20.0) == 32.0  # SRAT 9 = 2^9/16 Hz, the slowest rate ≥ 20 Hz
        lockin.buffer_start()
        lockin.buffer_pause()
        xs, ys = lockin.buffer_read()
    assert xs == pytest.approx([1e-6, 2e-6, -3e-6]) and ys == pytest.approx([0.5e-6, 0.0, 0.25e-6])


def test_sr860_capture_rate_start_stop_and_ieee_block():
    data = struct.pack("<4f", 1e-6, -1e-6, 2e-6, -2e-6)  # X, Y, X, Y
    with expected_protocol(SR860, [("CAPTURERATEMAX?", "1250000"), ("CAPTURECFG XY", None),
                                   ("CAPTURELEN 4096", None), ("CAPTURERATE 15", None),
                                   ("CAPTURESTART ONE, IMM", None), ("CAPTURESTOP", None),
                                   ("CAPTUREBYTES?", "16"), ("CAPTUREGET? 0,1", b"#216" + data)]) as inst:
        lockin = SR860LockIn(inst)
        assert lockin.buffer_setup(20.0) == pytest.approx(1250000 / 2**15)  # ≥ 20 Hz
        lockin.buffer_start()
        lockin.buffer_pause()
        xs, ys = lockin.buffer_read()
    assert xs == pytest.approx([1e-6, 2e-6]) and ys == pytest.approx([-1e-6, -2e-6])


def test_esp300_velocity_set_checked_and_read():
    with expected_protocol(ESP300, [("1VA0.003750", None), ("TB?", "0, 451322, NO ERROR DETECTED"),
                                    ("1VA?", "0.00375")]) as inst:
        axis = ESPAxis(ESPController(inst), 1)
        axis.set_velocity(0.00375)
        assert axis.velocity() == 0.00375


class VelocitySMC100(FakeSMC100):
    """FakeSMC100 that also keeps a velocity (``VA``), refusing zero or negative ones."""

    velocity = 2.0

    def expects_reply(self, data):
        return super().expects_reply(data) or data.startswith(b"1VA?")

    def answer(self, data):
        text = data.decode().strip()
        if text.startswith("1VA?"):
            return f"1VA{self.velocity:g}\r\n".encode()
        if text.startswith("1VA"):
            value = float(text[3:])
            if value > 0:
                self.velocity = value
            else:
                self.error = "C"
            return b""
        return super().answer(data)


def test_smc100_velocity_as_in_the_manual(line):
    serial_line = line(VelocitySMC100)
    axis = smc100.SMC100(serial_line, 1)
    axis.set_velocity(0.00375)
    assert serial_line.port.written[:2] == [b"1VA0.003750\r\n", b"1TE\r\n"]
    assert axis.velocity() == 0.00375
    with pytest.raises(InstrumentError, match="Parameter missing or out of range"):
        axis.set_velocity(0.0)


class VelocityApt(FakeAptStage):
    """FakeAptStage that answers MGMSG_MOT_REQ_VELPARAMS with what SET_VELPARAMS stored."""

    params = (0, 4506, 21987328)  # min velocity, acceleration, max velocity (device units)

    def expects_reply(self, data):
        return super().expects_reply(data) or struct.unpack("<H", data[:2])[0] == apt.MOT_REQ_VELPARAMS

    def answer(self, data):
        message_id, = struct.unpack("<H", data[:2])
        if message_id == apt.MOT_SET_VELPARAMS:
            _, *self.params = struct.unpack("<Hiii", data[6:20])
            return b""
        if message_id == apt.MOT_REQ_VELPARAMS:
            return struct.pack("<HHBB", apt.MOT_GET_VELPARAMS, 14, 0x81, 0x50) + struct.pack("<Hiii", 1, *self.params)
        return super().answer(data)


def test_apt_velocity_parameters_bytes_and_round_trip(line):
    # MGMSG_MOT_SET_VELPARAMS: 0x0413, 14 data bytes, channel 1, min 0, acceleration, max velocity (LE int32)
    assert apt.set_velparams(1, 0, 4506, 21987328) == bytes.fromhex(
        "13 04 0e 00 d0 01 01 00 00 00 00 00 9a 11 00 00 00 80 4f 01")
    serial_line = line(VelocityApt)
    motor = apt.AptMotor(serial_line, apt.COUNTS_PER_UNIT["LTS150"], units="mm", travel=(0.0, 150.0))
    accel_before, _ = motor.velocity_params()
    motor.set_velocity(0.5)
    assert motor.velocity() == pytest.approx(0.5, rel=1e-6)
    assert motor.velocity_params()[0] == pytest.approx(accel_before, rel=1e-3)  # the acceleration is kept
    assert serial_line.port.params[2] == round(0.5 * 409600.0 * apt.VELOCITY_SCALE)
