import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import pytest

from femtospin.acquisition import RunWriter, load_run
from femtospin.plans import delay_grid, delay_scan


def _run_with_memory(session, table, delays, **kwargs):
    docs = []
    session.RE.subscribe(lambda name, doc: docs.append((name, doc)))
    (uid,) = session.run(delay_scan(table.lockin, table.stage, delays, **kwargs))
    return uid, docs


def test_stored_run_reads_back_every_field_and_the_metadata(fast_table, session_factory):
    session = session_factory(fast_table, operator="tester")
    delays = delay_grid(-900, 300, 20)
    uid, docs = _run_with_memory(session, fast_table, delays, magnet=fast_table.magnet,
                                 magnetization=(1, -1), md={"purpose": "storage test"})
    run = load_run(uid[:8], session.data_dir)  # a unique prefix is enough
    start = next(d for n, d in docs if n == "start")
    primary = {d["uid"] for n, d in docs if n == "descriptor" and d["name"] == "primary"}
    events = [d for n, d in docs if n == "event" and d["descriptor"] in primary]
    assert run.start == json.loads(json.dumps(start))
    assert run.start["sample"]["name"] == "CoFeB(5)|Pt(3)"
    assert run.start["operator"] == "tester"
    assert run.start["detection"]["crystal"] == "gap250"
    assert run.stop["exit_status"] == "success"
    table = run.table("primary")
    assert len(table["seq_num"]) == len(events) == 2 * len(delays)
    for key in events[0]["data"]:
        assert np.allclose(table[key], [e["data"][key] for e in events]), key
    assert {"stage_delay", "stage_encoder_mm", "lockin_x", "lockin_y", "lockin_r", "lockin_theta",
            "lockin_overload", "magnet_field", "magnetization"} <= set(table)
    config = run.config("primary")
    assert config["lockin"]["lockin_time_constant"] == pytest.approx(0.1)
    assert config["stage"]["stage_time_zero_mm"] == pytest.approx(25.0)
    # the baseline records every knob of the table at start and end
    baseline = run.table("baseline")
    assert len(baseline["seq_num"]) == 2
    assert baseline["heater_temperature"] == pytest.approx([300.0, 300.0], abs=0.1)
    assert {"sample_rotation_angle", "pump_qwp_angle", "spot_position_mm", "power_meter_power"} <= set(baseline)


def test_truncated_last_line_is_tolerated_and_corruption_is_named(fast_table, session_factory):
    session = session_factory(fast_table)
    uid, _ = _run_with_memory(session, fast_table, [0.0, 10.0, 20.0])
    path = session.writer.path(uid)
    lines = path.read_text().splitlines(keepends=True)
    # cut in the middle of the stop document, as a crash while writing would
    path.write_text("".join(lines[:-1]) + lines[-1][:15])
    run = load_run(uid, session.data_dir)
    assert run.stop is None and len(run.table()["seq_num"]) == 3
    # a corrupt line in the middle loses that line, not the run, and is named
    events = [i for i, line in enumerate(lines) if line.startswith('["event')]
    lines[events[1]] = lines[events[1]][:20] + "\n"
    path.write_text("".join(lines))
    run = load_run(uid, session.data_dir)
    assert run.problems == [f"{path}: line {events[1] + 1} is corrupt and left out"]
    assert len(run.table()["seq_num"]) == 2 and run.stop is not None
    # a lost descriptor takes its events with it, and says how many
    descriptor = next(i for i, line in enumerate(lines) if '"primary"' in line and line.startswith('["descriptor'))
    lines[descriptor] = "{\n"
    path.write_text("".join(lines))
    run = load_run(uid, session.data_dir)
    assert run.problems == [f"{path}: lines {descriptor + 1}, {events[1] + 1} are corrupt and left out, with 2 "
                            "event document(s) of a lost descriptor"]
    assert "primary" not in run.streams
    # only the start document, which says what the run is, cannot be done without
    path.write_text("{oops\n" + "".join(lines[1:]))
    with pytest.raises(ValueError, match=rf"{path.name}: line 1, the start document, is corrupt"):
        load_run(uid, session.data_dir)


def test_unknown_and_ambiguous_uids(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run 'abc'"):
        load_run("abc", tmp_path)
    for name in ("ab1.jsonl", "ab2.jsonl"):
        (tmp_path / name).write_text("")
    with pytest.raises(ValueError, match="ambiguous"):
        load_run("ab", tmp_path)


def test_writer_never_overwrites_a_stored_run(tmp_path):
    writer, uid = RunWriter(tmp_path), str(uuid.uuid4())
    (tmp_path / f"{uid}.jsonl").write_text("precious\n")
    with pytest.raises(FileExistsError):
        writer("start", {"uid": uid, "time": 0.0})
    assert (tmp_path / f"{uid}.jsonl").read_text() == "precious\n"


@pytest.mark.parametrize("start", [
    {"analysis_of": "../ESCAPED"},
    {"analysis_of": "ABSOLUTE"},
    {"analysis_of": ["not", "a", "uid"]},
    {"uid": "../ESCAPED"},
], ids=["relative", "absolute", "not-a-string", "own-uid"])
def test_a_start_document_cannot_choose_where_it_is_written(tmp_path, start):
    data = tmp_path / "data"
    writer = RunWriter(data)
    start = {k: str(tmp_path / "ESCAPED") if v == "ABSOLUTE" else v for k, v in start.items()}
    with pytest.raises(ValueError, match="is not a run uid"):
        writer("start", {"uid": str(uuid.uuid4()), "time": 0.0, **start})
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) in ([], [data.relative_to(tmp_path)])


def test_an_analysis_run_is_written_beside_its_run(tmp_path):
    measured, uid = str(uuid.uuid4()), str(uuid.uuid4())
    assert RunWriter(tmp_path).path(uid, {"analysis_of": measured}) == tmp_path / f"{measured}.analysis.{uid[:8]}.jsonl"


@pytest.mark.parametrize("uid", ["../data/x", "*", "/etc/passwd"])
def test_a_run_id_is_never_a_path_or_a_pattern(tmp_path, uid):
    with pytest.raises(FileNotFoundError, match="hexadecimal digits and dashes"):
        load_run(uid, tmp_path / "data")


CHILD = textwrap.dedent(
    """
    import sys
    from femtospin.acquisition import Session, sim_profile
    from femtospin.plans import delay_grid, delay_scan

    table = sim_profile("CoFeB(5)|Pt(3)", fast=False, seed=3)   # wall clock: slow enough to kill
    table.lockin.time_constant.put(0.005)
    session = Session(table, sys.argv[1])

    def report(name, doc):
        if name == "start":
            print("start", doc["uid"], flush=True)
        elif name == "event":
            print("event", doc["seq_num"], flush=True)

    session.RE.subscribe(report)   # after the writer: a reported event is already stored
    session.run(delay_scan(table.lockin, table.stage, delay_grid(-700, 5000, 5)))
    """
)


def test_sigkill_mid_run_leaves_every_recorded_event_readable(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    uid, seen = None, []
    deadline = time.monotonic() + 60
    try:
        while len(seen) < 8 and time.monotonic() < deadline:
            kind, value = proc.stdout.readline().split()
            if kind == "start":
                uid = value
            else:
                seen.append(int(value))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert uid is not None and len(seen) >= 8
    run = load_run(uid, tmp_path)
    assert run.stop is None
    table = run.table()
    assert set(seen) <= set(table["seq_num"].tolist())
    assert np.all(np.isfinite(table["lockin_x"])) and np.all(np.isfinite(table["stage_delay"]))


def test_a_document_that_cannot_be_stored_leaves_no_file(tmp_path):
    writer, uid = RunWriter(tmp_path), str(uuid.uuid4())
    with pytest.raises(TypeError, match="cannot store object"):
        writer("start", {"uid": uid, "time": 0.0, "bad": object()})
    assert not (tmp_path / f"{uid}.jsonl").exists()


def test_a_data_directory_under_home_is_found_with_a_tilde(tmp_path, monkeypatch):
    from event_model import compose_run

    from femtospin.acquisition import RunWriter, load_run

    monkeypatch.setenv("HOME", str(tmp_path))
    data = tmp_path / "femtospin-data"
    run = compose_run()
    writer = RunWriter(data)
    writer("start", run.start_doc)
    writer("stop", run.compose_stop())
    assert load_run(run.start_doc["uid"][:8], "~/femtospin-data").start["uid"] == run.start_doc["uid"]
