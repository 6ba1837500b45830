"""After a killed process: its runs closed as aborted, the table made safe (``femtospin serve`` on start)."""

import fcntl
import json
import uuid

import pytest
from bluesky import RunEngine

from femtospin.acquisition import load_run, sim_profile
from femtospin.acquisition.storage._recover import close_unfinished, make_table_safe


def _run_file(directory, *, stop=False, partial=False) -> str:
    uid, desc = str(uuid.uuid4()), str(uuid.uuid4())
    docs = [["start", {"uid": uid, "time": 0.0}],
            ["descriptor", {"uid": desc, "run_start": uid, "name": "primary", "data_keys": {"x": {}}}],
            *(["event", {"descriptor": desc, "seq_num": i, "time": 0.0, "uid": str(uuid.uuid4()), "data": {"x": i},
                         "timestamps": {"x": 0.0}}] for i in (1, 2))]
    if stop:
        docs.append(["stop", {"run_start": uid, "exit_status": "success"}])
    text = "".join(json.dumps(d) + "\n" for d in docs) + ('["event", {"descr' if partial else "")
    (directory / f"{uid}.jsonl").write_text(text)
    return uid


def test_runs_left_open_are_closed_as_aborted_and_nothing_else_is_touched(tmp_path):
    killed, cut, finished, alive = (_run_file(tmp_path), _run_file(tmp_path, partial=True),
                                    _run_file(tmp_path, stop=True), _run_file(tmp_path))
    before = {u: (tmp_path / f"{u}.jsonl").read_bytes() for u in (finished, alive)}
    with open(tmp_path / f"{alive}.jsonl", "rb") as writer:  # a live process still writing it
        fcntl.flock(writer, fcntl.LOCK_EX)
        assert sorted(close_unfinished(tmp_path)) == sorted([killed, cut])
    for uid in (killed, cut):
        run = load_run(uid, tmp_path)
        assert run.stop["exit_status"] == "abort" and "killed" in run.stop["reason"]
        assert run.stop["num_events"] == {"primary": 2} and len(run.table()["x"]) == 2
    assert {u: (tmp_path / f"{u}.jsonl").read_bytes() for u in (finished, alive)} == before
    assert close_unfinished(tmp_path) == [alive]  # once its writer is gone


def test_the_table_is_made_safe_by_the_plans_own_path():
    table = sim_profile(fast=True)
    RE = RunEngine({})
    table.attach(RE)
    table.magnet.set(10.0).wait(5)
    table.stage.set(600.0).wait(5)
    assert "stage parked" in make_table_safe(table, RE)
    assert table.magnet.field.get() == pytest.approx(0.0, abs=0.1)
    assert table.stage.delay.get() == pytest.approx(table.stage.park_fs.get(), abs=20)  # moved from 600 fs
