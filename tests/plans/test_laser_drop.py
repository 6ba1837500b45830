"""A laser drop suspends the run; the interrupted point is measured again once the laser is back."""

import numpy as np

from femtospin.acquisition import load_run
from femtospin.plans import delay_grid, thz_emission


def test_no_point_recorded_during_a_dropout_and_every_point_measured(fast_table, session_factory):
    t = fast_table
    session = session_factory(t)
    assert session.laser is not None  # the simulated profile names a threshold
    threshold = session.laser.threshold_W
    seen = []
    t.power_meter.power.subscribe(lambda value, **kw: seen.append(value), run=False)
    delays = delay_grid(-1000.0, 800.0, 40.0)
    t.sim.inject_dropout(after_s=12.0, duration_s=25.0)  # within the first sweep (≈ 1 s per point)
    (uid,) = session.run(thz_emission(t.lockin, t.stage, delays, magnet=t.magnet, power_meter=t.power_meter,
                                      magnetization=(1, -1)))
    start, end = t.sim.dropouts[0]
    assert t.clock.now() > end  # the run outlasted the dropout
    assert min(seen) < threshold  # the drop was seen
    run = load_run(uid, session.data_dir)
    data = run.table()
    assert run.stop["exit_status"] == "success"
    assert np.all(data["power_meter_power"] > threshold)
    # every delay exactly once per sign, in order
    for sign in (1, -1):
        measured = data["stage_delay"][data["magnetization"] == sign]
        assert np.allclose(measured, delays, atol=10.0)  # encoder readback: within the backlash play
    # and no reading is the laser-off zero: the recorded points follow the physics
    plus = data["magnetization"] == 1
    expected = np.abs(t.sim.waveform(data["stage_delay"][plus]))
    big = expected > 0.3 * expected.max()
    assert np.all(np.abs(np.abs(data["lockin_x"][plus][big]) / expected[big] - 1) < 0.1)
