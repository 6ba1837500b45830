"""Instrument faults × devices, through ``femtospin run``: what the user reads, and what the table is left in.

Every device a composite THz-emission run uses fails in each way it can (no
reply, disconnected, a move that never ends) at a seeded moment of the run. The
run must end with one line per unsafe device, one for the run and one naming its
data; exit 1 with the table safe, or 3 with the device that could not be made
safe named; the data readable with the closing baseline; nothing written
elsewhere.
"""

from __future__ import annotations

import random

import pytest

from femtospin.acquisition import load_run, main
from femtospin.acquisition.cli import _cmd_run

ARGV = ["run", "thz_emission", "--profile", "sim:fast", "--no-progress", "--delays", "-1100:600:50",
        "--magnetization", "1,-1", "--angles", "0,180", "--helicities", "1,-1", "--temperatures", "300",
        "--field-mT", "10"]
DEVICES = ("lockin", "stage", "magnet", "heater", "power_meter", "sample_rotation", "pump_qwp")
MOVING = ("stage", "sample_rotation", "pump_qwp")
CASES = [(d, k) for d in DEVICES for k in ("timeout", "disconnect")] + [(d, "stuck") for d in MOVING]
# make_safe moves these: if they fail, the table cannot be made safe and the user must be told
SAFETY = {"magnet": "field", "heater": "heater", "stage": "stage"}
RANDOM = random.Random(12)
AFTER_S = {case: RANDOM.uniform(2.0, 60.0) for case in CASES}  # simulated seconds into the run


@pytest.mark.parametrize("device, kind", CASES, ids=[f"{d}-{k}" for d, k in CASES])
def test_a_fault_of_any_device_ends_the_run_in_a_few_lines_with_the_table_safe_or_named(
        attack, capsys, tmp_path, monkeypatch, device, kind):
    tables = []

    def faulty(*args, **kwargs):
        table = load_profile(*args, **kwargs)
        table.sim.inject_fault(device, kind, after_s=AFTER_S[device, kind])
        tables.append(table)
        return table

    load_profile = _cmd_run.load_profile
    monkeypatch.setattr(_cmd_run, "load_profile", faulty)
    data = tmp_path / "data"
    code = main([*ARGV, "--data-dir", str(data)])
    err = capsys.readouterr().err
    (table,) = tables
    sim = table.sim
    unsafe = [line for line in err.splitlines() if line.startswith("TABLE NOT SAFE")]
    attack.safe_exit(err, max_lines=2 + len(unsafe),
                     outside=any(p for p in tmp_path.iterdir() if p != data))
    assert device in err  # the device is named
    (path,) = [p for p in data.glob("*.jsonl") if ".analysis." not in p.name]
    run = load_run(path.stem, data)
    assert run.stop["exit_status"] == "fail"
    assert f"data recorded before the failure: {path}" in err
    assert len(run.table("baseline")["stage_delay"]) == 2  # the closing baseline, whatever failed
    faulted_safety = device in SAFETY and kind != "stuck" or device == "stage"
    if unsafe:
        assert code == 3
        assert [line.split()[3] for line in unsafe] == [device]  # "TABLE NOT SAFE: magnet at …"
        assert faulted_safety
    else:
        assert code == 1
        assert "table left safe" in err
    # whatever failed, every device that answers was made safe
    if device != "magnet":
        assert sim.field_mT == 0.0
    if device != "heater":
        assert table.heater.setpoint.get() == table.heater.safe_K.get()
    if device != "stage":
        assert table.stage.delay.get() == pytest.approx(table.stage.park_fs.get(), abs=10.0)
