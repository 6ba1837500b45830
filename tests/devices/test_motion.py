import pytest
from ophyd.utils import LimitError

from femtospin.devices import (
    DelayLine,
    DelayStage,
    InstrumentTimeout,
    RotationMount,
    RotationStage,
    SpotStage,
)
from femtospin.devices.drivers import elliptec, smc100

from .conftest import FakeElliptecBus, FakeSMC100


@pytest.fixture
def stage(line):
    serial_line = line(FakeSMC100, position=25.0, travel=(0.0, 50.0), polls_per_move=2)
    device = DelayLine(smc100.SMC100(serial_line, 1), name="stage")
    device.time_zero_mm.put(25.0)
    device.poll_s.put(0.001)
    device.timeout_s.put(0.5)
    return device


def test_satisfies_the_interface(stage, line):
    assert isinstance(stage, DelayStage)
    assert isinstance(RotationStage(object(), name="qwp"), RotationMount)


def test_delay_from_encoder_with_double_pass_factor(stage):
    assert stage.fs_per_mm.get() == pytest.approx(6671.28 * 1.000275, rel=1e-6)
    stage.axis.line.port.position = 25.1
    assert stage.delay.get() == pytest.approx(0.1 * stage.fs_per_mm.get())


def test_moves_down_overshoot_then_approach_from_below(stage):
    port = stage.axis.line.port
    stage.set(-600.0).wait(2)
    moves = [w for w in port.written if w.startswith(b"1PA")]
    below = 25.0 - 800.0 / stage.fs_per_mm.get()  # 600 fs target and 200 fs approach
    assert moves == [f"1PA{below:.6f}\r\n".encode(), f"1PA{stage.to_mm(-600.0):.6f}\r\n".encode()]
    assert stage.delay.get() == pytest.approx(-600.0, abs=1e-3)
    port.written.clear()
    stage.set(500.0).wait(2)  # upward: no overshoot
    assert [w for w in port.written if w.startswith(b"1PA")] == [f"1PA{stage.to_mm(500.0):.6f}\r\n".encode()]


def test_soft_limits_in_fs(stage):
    with pytest.raises(LimitError, match="stage: delay 200000"):
        stage.set(200_000.0)


def test_timeout_fails_the_status_naming_the_device_and_stops(stage):
    port = stage.axis.line.port
    port.stuck = True
    status = stage.set(1000.0)
    with pytest.raises(InstrumentTimeout, match="stage: move to 1000 fs"):
        status.wait(3)
    assert b"1ST\r\n" in port.written


def test_park_goes_to_park_position(stage):
    stage.park().wait(2)
    assert stage.delay.get() == pytest.approx(stage.park_fs.get(), abs=1e-3)


def test_spot_stage_limits_and_move(line):
    spot = SpotStage(smc100.SMC100(line(FakeSMC100, polls_per_move=0), 1), name="spot")
    spot.poll_s.put(0.001)
    spot.set(12.0).wait(2)
    assert spot.position_mm.get() == 12.0
    with pytest.raises(LimitError):
        spot.set(30.0)


def test_rotation_wraps_and_homes(line):
    serial_line = line(FakeElliptecBus)
    mount = RotationStage(elliptec.ElliptecRotator(serial_line, "0"), name="pump_qwp")
    mount.offset_deg.put(10.0)
    mount.set(-45.0).wait(2)  # −45° + 10° offset → 325° on the mount
    moves = [w for w in serial_line.port.written if w.startswith(b"0ma")]
    assert moves == [b"0ma" + elliptec.encode_counts(round(325 * 143360 / 360)).encode()]
    assert mount.angle.get() == pytest.approx(315.0, abs=1e-2)
    mount.set(370.0).wait(2)
    assert mount.angle.get() == pytest.approx(10.0, abs=1e-2)
    mount.home().wait(2)
    assert serial_line.port.written[-2:] == [b"0ho0", b"0gs"]  # home, then the error check
    with pytest.raises(ValueError, match="finite"):
        mount.set(float("nan"))
