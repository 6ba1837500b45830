"""Injected instrument faults end the plan with an error naming the device; the table is safe, the data readable."""

import numpy as np
import pytest

from femtospin.acquisition import load_run
from femtospin.plans import UnsafeTableError, device_error, thz_emission

DELAYS = np.arange(-900.0, 600.0, 30.0)  # with the baseline the analysis needs


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
    said = device_error(info.value) + repr(info.value) + repr(context) + (device_error(context) if context else "")
    assert message in said
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


FAULTS = [("magnet", "timeout"), ("magnet", "disconnect"), ("heater", "timeout"), ("heater", "disconnect"),
          ("stage", "stuck"), ("stage", "timeout"), ("lockin", "disconnect"), ("power_meter", "timeout")]


@pytest.mark.parametrize("device, kind", FAULTS)
def test_closing_baseline_is_written_whatever_fails(fast_table, session_factory, device, kind):
    """make_safe tries every device; the closing baseline records every device, the answering ones read afresh."""
    t = fast_table
    t.lockin.time_constant.put(0.01)
    session = session_factory(t)
    # in the first sweep: the magnet at +10 mT, the heater at 310 K, the stage away from park
    session.RE.subscribe(lambda name, doc: doc["seq_num"] == 5 and t.sim.inject_fault(device, kind), "event")
    with pytest.raises(Exception) as info:
        session.run(thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, heater=t.heater,
                                 power_meter=t.power_meter, magnetization=(1, -1), field_mT=10.0,
                                 temperatures=(310.0,)))
    run = load_run(session.uids[0], session.data_dir)
    assert run.stop["exit_status"] == "fail"
    end = run.table("baseline")
    assert len(end["magnet_field"]) == 2  # the closing baseline is there
    safe = {"magnet": t.sim.field_mT == 0.0, "heater": t.sim.thermal.target == 300.0,
            "stage": abs(t.stage.delay.get() - t.stage.park_fs.get()) < 10.0 if device != "stage" else True}
    assert all(ok for name, ok in safe.items() if name != device)  # every other device made safe
    if device in ("magnet", "heater", "stage"):
        unsafe = info.value if isinstance(info.value, UnsafeTableError) else info.value.__context__
        assert isinstance(unsafe, UnsafeTableError), repr(info.value)
        assert [d.name for d in unsafe.devices] == [device]
        assert str(unsafe).startswith(f"TABLE NOT SAFE: {device} at ")
    if device != "magnet":
        assert abs(end["magnet_field"][-1]) < 0.1  # read afresh: the safe state


def test_unsafe_magnet_line_gives_its_last_field(fast_table, session_factory):
    t = fast_table
    t.lockin.time_constant.put(0.01)
    t.sim.inject_fault("magnet", "timeout", after_s=3.0)
    with pytest.raises(UnsafeTableError) as info:
        session_factory(t).run(thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, magnetization=(1, -1),
                                            field_mT=10.0))
    assert str(info.value) == "TABLE NOT SAFE: magnet at 10.0 mT — no reply within 3 s"
