"""Playback devices serve a recorded run's readings per condition and delay, exactly, and refuse anything else."""

import numpy as np
import pytest

from femtospin.acquisition import Session, load_run, sim_profile
from femtospin.devices import Table
from femtospin.plans import delay_grid, field_loop, thz_emission
from femtospin.sim_devices import PlaybackError, PlaybackTable

# a fine grid of 5 fs, finer than twice the stage's backlash offset (6.7 fs): the readbacks sit nearer the wrong point
DELAYS = delay_grid(-100.0, 100.0, 50.0, fine=(-20.0, 20.0, 5.0))


def record(session_factory, table, plan_of):
    table.lockin.time_constant.put(0.003)
    session = session_factory(table)
    (uid,) = session.run(plan_of(table))
    return load_run(uid, session.data_dir)


def playback_of(run, **kwargs) -> PlaybackTable:
    conf = {**run.config("baseline")}
    conf.update(run.config("primary"))
    columns = {k: v for k, v in run.table().items() if k not in ("seq_num", "time")}
    return PlaybackTable(columns, run.start["conditions"], conf, **kwargs)


def as_table(playback):
    return Table(**playback.devices, clock=playback.clock)


def thz(delays=DELAYS, angles=(0.0, 180.0), repeats=2):
    return lambda t: thz_emission(t.lockin, t.stage, delays, magnet=t.magnet, sample_rotation=t.sample_rotation,
                                  power_meter=t.power_meter, magnetization=(1, -1), angles=angles, repeats=repeats,
                                  interleave="point")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """One noisy recorded run for the whole module (read-only): ±M × 0°/180°, two repeats, point interleave."""
    data = tmp_path_factory.mktemp("recorded")
    return record(lambda table: Session(table, data), sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=1), thz())


def test_the_unchanged_plan_on_playback_devices_records_the_same_events(recorded, session_factory):
    playback = playback_of(recorded, delays=recorded.start["plan_args"]["delays"])
    table = as_table(playback)
    assert table.lockin.time_constant.get() == 0.003  # the recorded configuration
    replayed = record(session_factory, table, thz())
    old, new = recorded.table(), replayed.table()
    assert set(old) == set(new)
    for key in old:
        if key != "time":
            assert np.array_equal(old[key], new[key]), key
    assert playback.served == list(range(len(old["lockin_x"])))  # every reading once, in the recorded order


def test_repeats_of_a_condition_and_delay_are_served_in_their_recorded_order(recorded):
    playback = playback_of(recorded, delays=DELAYS)
    table = as_table(playback)
    x = recorded.table()["lockin_x"]
    at = recorded.table()
    rows = np.flatnonzero((at["magnetization"] == -1) & (at["angle_deg"] == 180.0)
                          & (np.abs(at["stage_delay"] - at["stage_delay"][0] - (DELAYS[3] - DELAYS[0])) < 1))
    assert len(rows) == 2  # two repeats
    table.magnet.set(-50.0)
    table.magnet.set(0.0)
    table.sample_rotation.set(180.0)
    table.stage.set(float(DELAYS[3]))
    served = []
    for _ in range(2):
        table.lockin.trigger()
        served.append(table.lockin.x.get())
        assert table.stage.delay.get() == at["stage_delay"][rows[len(served) - 1]]  # the recorded readback
    assert served == list(x[rows])
    with pytest.raises(PlaybackError, match="every reading recorded for angle_deg=180, magnetization=-1 at delay"):
        table.lockin.trigger()


def test_off_grid_delays_and_unrecorded_conditions_raise_naming_the_value(recorded):
    table = as_table(playback_of(recorded, delays=DELAYS))
    with pytest.raises(PlaybackError, match="delay 7 fs is not on the recorded delay grid"):
        table.stage.set(7.0)
    table.stage.set(table.stage.park_fs.get())  # parking is always allowed
    table.stage.set(0.0)
    table.sample_rotation.set(90.0)
    with pytest.raises(PlaybackError, match=r"angle_deg=90 was not recorded \(recorded angle_deg: 0, 180\)"):
        table.lockin.trigger()


def test_a_plan_asking_for_more_than_was_recorded_fails_with_the_playback_error(recorded, session_factory):
    table = as_table(playback_of(recorded, delays=DELAYS))
    with pytest.raises(PlaybackError, match="angle_deg=90 was not recorded"):
        record(session_factory, table, thz(angles=(0.0, 90.0)))
    assert table.magnet.field.get() == 0.0  # the plan still left the table safe


def test_readings_that_are_not_on_the_grid_are_refused_when_the_table_is_built(recorded):
    with pytest.raises(PlaybackError, match="is not on the recorded delay grid"):
        playback_of(recorded, delays=DELAYS[::2] + 1.0)


def test_helicity_is_read_off_the_wave_plate_and_field_loop_labels_are_served_in_order(session_factory):
    sim = sim_profile("Bi(10)|Co(5)", fast=True, seed=2)
    loop = record(session_factory, sim, lambda t: thz_emission(t.lockin, t.stage, [0.0, 100.0], pump_qwp=t.pump_qwp,
                                                                helicities=(1, -1, 0)))
    replayed = record(session_factory, as_table(playback_of(loop, delays=[0.0, 100.0])),
                      lambda t: thz_emission(t.lockin, t.stage, [0.0, 100.0], pump_qwp=t.pump_qwp,
                                             helicities=(1, -1, 0)))
    assert np.array_equal(loop.table()["lockin_x"], replayed.table()["lockin_x"])

    def plan(t):
        return field_loop(t.lockin, t.stage, t.magnet, [100.0], max_field_mT=3.0, step_mT=1.0)

    loop = record(session_factory, sim_profile(fast=True, seed=3), plan)
    replayed = record(session_factory, as_table(playback_of(loop, delays=[100.0])), plan)
    for key in ("lockin_x", "magnet_field", "branch", "field_mT"):
        assert np.array_equal(loop.table()[key], replayed.table()[key]), key
