"""Injected instrument faults end the plan with an error naming the device; the table is safe, the data readable."""

import numpy as np
import pytest

from femtospin.acquisition import load_run
from femtospin.plans import device_error, thz_emission

DELAYS = np.arange(-300.0, 600.0, 30.0)


@pytest.mark.parametrize(
    "device, kind, message",
    [
        ("lockin", "timeout", "lockin: no reply within 3 s"),
        ("lockin", "disconnect", "lockin: instrument disconnected"),
        ("stage", "stuck", "stage: move did not complete within"),
        ("sample_rotation", "disconnect", "sample_rotation: instrument disconnected"),
    ],
)
def test_fault_ends_run_with_device_named(fast_table, session_factory, device, kind, message):
    t = fast_table
    t.lockin.time_constant.put(0.01)
    session = session_factory(t)
    t.sim.inject_fault(device, kind, after_s=5.0)
    with pytest.raises(Exception) as info:
        session.run(thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, sample_rotation=t.sample_rotation,
                                 magnetization=(1, -1), angles=(0.0, 180.0)))
    context = info.value.__context__
    assert message in device_error(info.value) + repr(info.value) + repr(context) + device_error(context)
    # safe: field off; the stage parked unless it is the stuck one
    assert t.sim.field_mT == 0.0
    if device != "stage":
        assert t.stage.delay.get() == pytest.approx(t.stage.park_fs.get(), abs=10.0)
    (path,) = session.data_dir.glob("*.jsonl")
    run = load_run(path.stem, session.data_dir)
    assert run.stop["exit_status"] == "fail"
    data = run.table()
    assert len(data["lockin_x"]) > 5  # everything recorded before the fault is readable
    assert np.all(np.isfinite(data["lockin_x"]))


def test_timeout_takes_simulated_time_not_a_hang(fast_table, session_factory):
    t = fast_table
    t.sim.inject_fault("lockin", "timeout", timeout_s=30.0)
    before = t.clock.now()
    with pytest.raises(Exception, match="lockin: no reply within 30 s"):
        session_factory(t).run(thz_emission(t.lockin, t.stage, [0.0]))
    assert t.clock.now() - before >= 30.0
