"""``femtospin replay``: re-simulating a stored run and playing its readings back through the unchanged plan."""

import json
import shutil

import pytest

from femtospin.acquisition import load_run, main

RUN = ["run", "thz_emission", "--profile", "sim:fast", "--seed", "1", "--no-progress", "--lockin-tau", "0.003",
       "--delays", "-1000:1100:40", "--magnetization", "1,-1", "--angles", "0,180"]


def uid_of(out: str, prefix: str = "run uid:") -> str:
    return next(line.split()[-1] for line in out.splitlines() if line.startswith(prefix))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A stored, noisy ±M × 0°/180° run with its live fit; each test replays it in a copy of the data directory."""
    data = tmp_path_factory.mktemp("recorded")
    assert main([*RUN, "--data-dir", str(data)]) == 0
    uid = next(p.stem for p in data.glob("*.jsonl") if ".analysis." not in p.name)
    return data, uid


@pytest.fixture
def data(recorded, tmp_path):
    src, uid = recorded
    copy = tmp_path / "data"
    shutil.copytree(src, copy)
    return copy, uid


def replay(data_dir, *args):
    return main(["replay", *args, "--data-dir", str(data_dir), "--no-progress", "--out", str(data_dir / "out")])


def test_playback_reproduces_the_stored_fit(data, capsys):
    data_dir, uid = data
    assert replay(data_dir, uid[:8], "--playback") == 0
    out = capsys.readouterr().out
    new = load_run(uid_of(out), data_dir)
    assert new.start["replay_of"] == uid and new.start["replay_mode"] == "playback"
    assert new.start["profile"] == "playback"
    old = load_run(uid, data_dir)
    for key in ("stage_delay", "lockin_x", "lockin_y", "magnetization", "angle_deg"):
        assert new.table()[key].tolist() == old.table()[key].tolist()
    (stored,), (played,) = old.fits(), new.fits()
    assert stored["fit"]["params"]["tau_es_fs"]["vary"]
    for name, p in stored["fit"]["params"].items():
        q = played["fit"]["params"][name]
        assert q["value"] == pytest.approx(p["value"], rel=1e-12, abs=1e-15), name
        assert q["stderr"] == pytest.approx(p["stderr"], rel=1e-9, abs=1e-15), name
    assert "(reproduced)" in out and "tau_es_fs" in out
    assert (data_dir / "out" / f"replay_{new.uid[:8]}_of_{uid[:8]}.png").stat().st_size > 10_000


def test_replay_re_simulates_the_same_plan_and_sample_and_agrees_within_errors(data, capsys):
    data_dir, uid = data
    assert replay(data_dir, uid[:8], "--seed", "7") == 0
    out = capsys.readouterr().out
    old, new = load_run(uid, data_dir), load_run(uid_of(out), data_dir)
    assert new.start["replay_of"] == uid and new.start["replay_mode"] == "simulate"
    assert new.start["profile"] == "sim:fast"  # the recorded run's clock
    assert new.start["sample"] == old.start["sample"] and new.start["plan_name"] == "thz_emission"
    assert new.start["plan_args"] == old.start["plan_args"]
    assert new.config()["lockin"]["lockin_time_constant"] == 0.003
    assert new.table()["lockin_x"].tolist() != old.table()["lockin_x"].tolist()  # fresh noise: a real comparison
    a = old.fits()[0]["fit"]["params"]["tau_es_fs"]
    b = new.fits()[0]["fit"]["params"]["tau_es_fs"]
    assert abs(a["value"] - b["value"]) < 4 * (a["stderr"] ** 2 + b["stderr"] ** 2) ** 0.5
    assert "recorded" in out and "simulate" in out and "σ)" in out
    assert f"replay_{new.uid[:8]}_of_{uid[:8]}.png" in out


def test_a_run_recorded_with_condition_names_as_arguments_replays_the_same_plan(data, capsys):
    """Runs stored before plans recorded their parameter names (``angle_deg`` for ``angles``) still replay."""
    data_dir, uid = data
    path = data_dir / f"{uid}.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    name, start = json.loads(lines[0])
    args = start["plan_args"]
    args["angle_deg"] = args.pop("angles")
    path.write_text(json.dumps([name, start]) + "\n" + "".join(lines[1:]))
    assert replay(data_dir, uid[:8], "--seed", "2") == 0
    new = load_run(uid_of(capsys.readouterr().out), data_dir)
    assert new.start["plan_args"]["angles"] == [0.0, 180.0]
    assert sorted(set(new.table()["angle_deg"].tolist())) == [0.0, 180.0]


def test_a_run_without_a_fit_is_compared_by_its_waveforms(tmp_path, capsys):
    assert main(["run", "delay_scan", "--profile", "sim:fast", "--no-progress", "--lockin-tau", "0.003",
                 "--delays", "-100:100:50", "--magnetization", "1,-1", "--data-dir", str(tmp_path)]) == 0
    uid = uid_of(capsys.readouterr().out)
    assert replay(tmp_path, uid, "--playback") == 0
    out = capsys.readouterr().out
    assert "no fit to compare (the recorded run has no stored fit): comparing the raw waveforms only" in out
    assert "waveform magnetization=1: rms" in out and "playback 0 V" in out


def write_run(path, docs):
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


@pytest.mark.parametrize("case, message", [
    ("unknown", "error: no run 'feedbeef'"),
    ("corrupt", "line 1, the start document, is corrupt"),
    ("plan", "plan 'bogus' is not one of the known plans"),
    ("no-primary", "no primary stream"),
    ("find_time_zero", "playback needs the recorded delay grid"),
    ("sample", "cannot simulate sample 'wafer 17' (stack 'wafer 17'): the simulator knows CoFeB(5)|Pt(3)"),
])
def test_bad_input_exits_2_naming_the_problem_before_anything_is_written(tmp_path, capsys, case, message):
    start = {"uid": "abcdef01-0000", "time": 0, "plan_name": "thz_emission", "plan_args": {"delays": [0.0]},
             "sample": {"name": "CoFeB(5)|Pt(3)"}}
    if case == "corrupt":
        (tmp_path / "abcdef01-0000.jsonl").write_text("{oops\n" + json.dumps(["stop", {}]) + "\n")
    elif case == "sample":  # a real table's run: the sample is what the operator called it
        desc = {"uid": "d1", "name": "primary", "run_start": start["uid"],
                "data_keys": {"stage_delay": {}, "lockin_x": {}}}
        event = {"descriptor": "d1", "seq_num": 1, "time": 0, "data": {"stage_delay": 0.0, "lockin_x": 1.0}}
        write_run(tmp_path / "abcdef01-0000.jsonl", [
            ["start", {**start, "profile": "lab.yaml", "sample": {"name": "wafer 17", "stack": "wafer 17"}}],
            ["descriptor", desc], ["event", event]])
    elif case == "plan":
        write_run(tmp_path / "abcdef01-0000.jsonl", [["start", {**start, "plan_name": "bogus"}]])
    elif case == "no-primary":
        write_run(tmp_path / "abcdef01-0000.jsonl", [["start", start], ["stop", {"run_start": start["uid"]}]])
    elif case == "find_time_zero":
        fz = {**start, "plan_name": "find_time_zero", "plan_args": {"start_fs": -100, "stop_fs": 100, "step_fs": 50}}
        desc = {"uid": "d1", "name": "primary", "run_start": start["uid"],
                "data_keys": {"stage_delay": {}, "lockin_x": {}}}
        event = {"descriptor": "d1", "seq_num": 1, "time": 0, "data": {"stage_delay": 0.0, "lockin_x": 1.0}}
        write_run(tmp_path / "abcdef01-0000.jsonl", [["start", fz], ["descriptor", desc], ["event", event]])
    before = sorted(p.name for p in tmp_path.iterdir())
    uid = "feedbeef" if case == "unknown" else "abcdef01"
    code = main(["replay", uid, "--data-dir", str(tmp_path), "--no-progress"]
                + (["--playback"] if case == "find_time_zero" else []))

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_replay_says_what_it_cannot_simulate_of_a_real_tables_run():
    from femtospin.acquisition.cli._cmd_replay import not_simulated

    real = {"profile": "/lab/thz.yaml", "sample": {"name": "wafer 17", "stack": "CoFeB(5)|Pt(3)"}}
    lines = not_simulated(real)
    assert lines[0].startswith("not simulated: the instruments of /lab/thz.yaml")
    assert "sample 'wafer 17' itself; simulated as the library's CoFeB(5)|Pt(3)" in lines[1]
    assert lines[2].startswith("not recorded, so not simulated: the detection; simulated with gap250")
    assert lines[3].startswith("not recorded, so not simulated: the pump")
    assert len(lines) == 4
    sim = {"profile": "sim:fast", "sample": {"name": "CoFeB(5)|Pt(3)"}, "detection": {"mode": "eos"},
           "pump": {"fwhm_fs": 40.0}}
    assert not_simulated(sim) == []
