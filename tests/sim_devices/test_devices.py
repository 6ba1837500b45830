"""ophyd devices over one accelerated simulated table, against the interfaces of femtospin.devices."""

import numpy as np
import pytest
from ophyd.utils import LimitError

from femtospin.devices import (
    FS_PER_MM_DOUBLE_PASS,
    N_AIR,
    DelayStage,
    LockIn,
    Magnet,
    PowerMeter,
    RotationMount,
    TemperatureController,
    TranslationStage,
)
from femtospin.sim_devices import (
    Noise,
    SimClock,
    SimDelayStage,
    SimLockIn,
    SimMagnet,
    SimPowerMeter,
    SimRotationMount,
    SimTable,
    SimTemperatureController,
    SimTranslationStage,
    get_sample,
)

TIMEOUT = 5.0


class Rig:
    def __init__(self, noise):
        self.table = SimTable(get_sample("CoFeB(5)|Pt(3)"), noise=noise, clock=SimClock(accelerated=True))
        t = self.table
        self.stage = SimDelayStage(t, name="stage")
        self.lockin = SimLockIn(t, name="lockin")
        self.magnet = SimMagnet(t, name="magnet")
        self.rotation = SimRotationMount(t, "angle_deg", name="rotation")
        self.heater = SimTemperatureController(t, name="heater")
        self.spot = SimTranslationStage(t, name="spot")
        self.power = SimPowerMeter(t, name="power")


@pytest.fixture
def rig():
    return Rig(Noise(seed=2))


@pytest.fixture
def quiet_rig():
    return Rig(Noise.off())


def done(status):
    status.wait(timeout=TIMEOUT)
    assert status.done and status.success
    return status


# ------------------------------------------------------------------ interfaces
@pytest.mark.parametrize("attr, protocol", [
    ("stage", DelayStage), ("lockin", LockIn), ("magnet", Magnet), ("rotation", RotationMount),
    ("heater", TemperatureController), ("spot", TranslationStage), ("power", PowerMeter),
])
def test_devices_satisfy_their_interfaces(rig, attr, protocol):
    assert isinstance(getattr(rig, attr), protocol)


def test_interfaces_are_not_trivially_satisfied(rig):
    assert not isinstance(rig.power, DelayStage)
    assert not isinstance(rig.stage, LockIn)
    assert not isinstance(rig.rotation, TemperatureController)


@pytest.mark.parametrize("attr, signal, units", [
    ("stage", "delay", "fs"), ("stage", "encoder_mm", "mm"), ("magnet", "field", "mT"),
    ("rotation", "angle", "deg"), ("heater", "temperature", "K"), ("heater", "setpoint", "K"),
    ("spot", "position_mm", "mm"), ("power", "power", "W"), ("lockin", "x", "V"),
])
def test_readbacks_carry_units(rig, attr, signal, units):
    device = getattr(rig, attr)
    desc = device.describe()
    assert desc[f"{device.name}_{signal}"]["units"] == units


# ------------------------------------------------------------------ delay stage
def test_stage_reads_back_in_fs_from_the_encoder(quiet_rig):
    stage, table = quiet_rig.stage, quiet_rig.table
    done(stage.set(500.0))
    fs_per_mm = stage.fs_per_mm.get()
    assert fs_per_mm == pytest.approx(FS_PER_MM_DOUBLE_PASS * N_AIR)
    readback = stage.delay.get()
    assert readback == pytest.approx((table.carriage_mm - stage.time_zero_mm.get()) * fs_per_mm)
    assert stage.encoder_mm.get() == table.carriage_mm
    # the readback is the encoder, not the command: it differs by the backlash play at most
    assert abs(readback - 500.0) <= table.backlash_mm / 2 * fs_per_mm + 1e-9
    assert readback != 500.0
    assert stage.position == readback
    # and matches the true delay the sample sees (time zero calibrated correctly)
    assert readback == pytest.approx(table.delay_fs())


@pytest.mark.parametrize("target", [-25_000.0, 150_000.0])
def test_stage_soft_limits(quiet_rig, target):
    stage = quiet_rig.stage
    done(stage.set(0.0))
    before = stage.delay.get()
    with pytest.raises(LimitError):
        stage.set(target)
    assert stage.delay.get() == before
    assert quiet_rig.table.motor_mm == pytest.approx(stage.time_zero_mm.get())


def _offset_after(stage, start, target):
    done(stage.set(start))
    done(stage.set(target))
    return stage.delay.get() - target


@pytest.mark.parametrize("target", [0.0, 1234.0])
def test_one_sided_approach_removes_backlash(quiet_rig, target):
    stage = quiet_rig.stage
    assert stage.approach_fs.get() > 0
    from_below = _offset_after(stage, target - 3000.0, target)
    from_above = _offset_after(stage, target + 3000.0, target)
    assert from_below == pytest.approx(from_above, abs=1e-9)


@pytest.mark.parametrize("target", [0.0, 1234.0])
def test_two_sided_approach_shows_backlash(quiet_rig, target):
    stage = quiet_rig.stage
    stage.approach_fs.put(0.0)
    from_below = _offset_after(stage, target - 3000.0, target)
    from_above = _offset_after(stage, target + 3000.0, target)
    expected = quiet_rig.table.backlash_mm * stage.fs_per_mm.get()
    assert from_above - from_below == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(13.3, abs=0.1)  # 2 µm of play at 6.67 fs/µm


def test_stage_move_takes_simulated_time(quiet_rig):
    stage, clock = quiet_rig.stage, quiet_rig.table.clock
    done(stage.set(0.0))
    t0 = clock.now()
    done(stage.set(10_000.0))  # 1.5 mm at 20 mm/s
    distance_mm = 10_000.0 / stage.fs_per_mm.get()
    assert clock.now() - t0 >= distance_mm / stage.velocity_mm_s.get()


# ------------------------------------------------------------------ lock-in
def test_lockin_snapshot_is_consistent(rig):
    table, lockin, stage = rig.table, rig.lockin, rig.stage
    done(stage.set(80.0))
    table.clock.advance(10.0)
    for phase in (0.0, 30.0, 200.0):
        lockin.phase.put(phase)
        table.clock.advance(10.0)
        done(lockin.trigger())
        reading = lockin.read()
        x, y = reading["lockin_x"]["value"], reading["lockin_y"]["value"]
        assert reading["lockin_r"]["value"] == pytest.approx(np.hypot(x, y), rel=1e-12)
        assert reading["lockin_theta"]["value"] == pytest.approx(np.degrees(np.arctan2(y, x)), abs=1e-9)
        assert reading["lockin_overload"]["value"] is False
        assert x != 0.0 and y != 0.0


def test_lockin_configuration(rig):
    lockin, table = rig.lockin, rig.table
    lockin.time_constant.put(0.3)
    lockin.slope_db.put(12)
    lockin.sensitivity.put(0.05)
    config = lockin.read_configuration()
    assert config["lockin_time_constant"]["value"] == 0.3
    assert config["lockin_slope_db"]["value"] == 12
    assert config["lockin_sensitivity"]["value"] == 0.05
    assert "lockin_phase" in config
    assert (table.lockin.time_constant_s, table.lockin.slope_db, table.lockin.sensitivity_V) == (0.3, 12, 0.05)


def test_lockin_rejects_bad_settings(rig):
    lockin = rig.lockin
    with pytest.raises(ValueError, match="slope"):
        lockin.slope_db.put(9)
    with pytest.raises(ValueError):
        lockin.slope_db.set(9).wait(timeout=TIMEOUT)
    with pytest.raises(ValueError):
        lockin.time_constant.put(0.0)
    with pytest.raises(ValueError):
        lockin.sensitivity.put(-1.0)
    assert rig.table.lockin.slope_db == 24 and rig.table.lockin.time_constant_s == 0.1


def test_lockin_overload_flag(quiet_rig):
    lockin, stage, table = quiet_rig.lockin, quiet_rig.stage, quiet_rig.table
    done(stage.set(80.0))
    table.clock.advance(10.0)
    done(lockin.trigger())
    x = lockin.x.get()
    lockin.sensitivity.put(abs(x) / 4)
    table.clock.advance(10.0)
    done(lockin.trigger())
    assert lockin.overload.get() is True
    assert abs(lockin.x.get()) == pytest.approx(abs(x) / 4)


# ------------------------------------------------------------------ magnet
def test_magnet_limits(rig):
    limit = rig.magnet.max_field_mT.get()
    with pytest.raises(LimitError):
        rig.magnet.set(limit * 1.5)
    with pytest.raises(LimitError):
        rig.magnet.set(-limit - 1)
    assert rig.table.field_mT == 0.0


@pytest.mark.parametrize("field", [30.0, -30.0, 0.5])
def test_magnet_field_readback(rig, field):
    done(rig.magnet.set(field))
    assert rig.magnet.field.get() == pytest.approx(field, abs=0.1)  # through the Hall probe
    assert rig.table.field_mT == field


def test_magnet_saturates_the_sample(rig):
    done(rig.magnet.set(-50.0))
    done(rig.magnet.set(0.0))
    assert rig.table.magnetization == -1.0
    done(rig.magnet.set(50.0))
    done(rig.magnet.set(0.0))
    assert rig.table.magnetization == 1.0


def test_magnet_ramp_takes_time(rig):
    clock = rig.table.clock
    t0 = clock.now()
    done(rig.magnet.set(100.0))
    assert clock.now() - t0 >= 100.0 / rig.magnet.ramp_mT_s.get() + rig.magnet.settle_s.get()


# ------------------------------------------------------------------ rotation, translation
@pytest.mark.parametrize("command, expected", [(370.0, 10.0), (-90.0, 270.0), (180.0, 180.0), (720.0, 0.0)])
def test_rotation_wraps(rig, command, expected):
    done(rig.rotation.set(command))
    assert rig.rotation.angle.get() == pytest.approx(expected)


def test_rotation_turns_the_sample_signal(quiet_rig):
    table = quiet_rig.table
    d = np.array([80.0])
    before = table.waveform(d)[0]
    done(quiet_rig.rotation.set(180.0))
    assert table.waveform(d)[0] == pytest.approx(-before, rel=0.05)


def test_rotation_rejects_nan(rig):
    with pytest.raises(ValueError):
        rig.rotation.set(float("nan"))


def test_translation_stage(rig):
    done(rig.spot.set(12.5))
    assert rig.spot.position_mm.get() == 12.5
    with pytest.raises(LimitError):
        rig.spot.set(30.0)
    assert rig.spot.position_mm.get() == 12.5


# ------------------------------------------------------------------ temperature
def test_temperature_limit_is_the_sample_limit(rig):
    limit = rig.table.sample.max_temperature_K
    assert rig.heater.max_K.get() == limit
    with pytest.raises(LimitError):
        rig.heater.set(limit + 10.0)
    with pytest.raises(LimitError):
        rig.heater.set(0.0)
    assert rig.heater.setpoint.get() == 300.0


@pytest.mark.parametrize("target", [400.0, 350.0, 600.0])
def test_temperature_set_completes_within_band(rig, target):
    clock = rig.table.clock
    t0 = clock.now()
    done(rig.heater.set(target))
    band = rig.heater.band_K.get()
    assert abs(rig.heater.temperature.get() - target) <= band
    assert rig.heater.setpoint.get() == target
    # it took at least the ramp at the configured rate plus the hold time
    ramp_s = abs(target - 300.0) / rig.heater.ramp_K_per_min.get() * 60.0
    assert clock.now() - t0 >= ramp_s + rig.heater.hold_s.get()
    # and it stays there
    clock.advance(600.0)
    assert abs(rig.heater.temperature.get() - target) <= band


# ------------------------------------------------------------------ power meter
def test_power_meter(rig):
    nominal = rig.table.pump.power_W
    readings = []
    for _ in range(50):  # readings over time (on the accelerated clock one instant reads one value)
        rig.table.clock.advance(0.05)
        readings.append(rig.power.power.get())
    assert np.mean(readings) == pytest.approx(nominal, rel=0.05)
    assert np.std(readings) > 0  # a real meter is noisy
    rig.table.set_knob("laser_on", 0)
    assert rig.power.power.get() == pytest.approx(0.0, abs=1e-12)
    reading = rig.power.read()
    assert reading["power_power"]["value"] == pytest.approx(0.0, abs=1e-12)


def test_the_hall_probe_reads_the_field_with_its_offset_and_noise(rig):
    noise = rig.table.noise
    done(rig.magnet.set(10.0))
    readings = np.array([rig.magnet.field.get() for _ in range(400)])
    assert rig.table.field_mT == 10.0
    assert readings.mean() == pytest.approx(10.0 + noise.hall_offset_mT, abs=5 * noise.hall_noise_mT / 20)
    assert readings.std() == pytest.approx(noise.hall_noise_mT, rel=0.2)
