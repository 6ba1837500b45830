import contextlib
import csv
import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from femtospin.acquisition import load_profile, load_run, main
from femtospin.acquisition.cli import _cmd_run
from femtospin.acquisition.cli._cmd_catalog import waveform_table
from femtospin.plans import PLANS

# the README's example of a composite run, fine near time zero
README_RUN = ("thz_emission --profile sim:fast --delays -1000:3000:20 --fine -200:400:5 --magnetization 1,-1 "
              "--angles 0,180 --repeats 2")

SMALL = {
    "thz_emission": ["--delays", "-200:400:50", "--magnetization", "1,-1", "--angles", "0,180", "--helicities", "1,-1",
                     "--spots", "0,5", "--fluences", "0.1", "--repeats", "2", "--interleave", "point"],
    "delay_scan": ["--delays", "-1100:400:50", "--fine", "-50:100:10", "--magnetization", "1,-1"],
    "moke_scan": ["--sample", "Co/Pt spin valve", "--delays", "-200:1000:100", "--kerr", "rotation,ellipticity",
                  "--states", "P,AP", "--saturation-mT", "100", "--reverse-mT", "20", "--static-reads", "2"],
    "static_kerr": ["--kerr", "rotation", "--static-reads", "3"],
    "temperature_series": ["--sample", "YIG(3um)|Pt(5.5)", "--delays", "-200:400:50", "--temperatures", "300,350"],
    "fluence_series": ["--delays", "-200:400:50", "--fluences", "0.05,0.1,0.2"],
    "field_loop": ["--delays", "100", "--max-field-mT", "5", "--step-mT", "1"],
    "qwp_sweep": ["--sample", "Bi(10)|Co(5)", "--delays", "100", "--angles", "0,45,90,135"],
    "find_time_zero": ["--start-fs", "-1000", "--stop-fs", "1000", "--step-fs", "50"],
}


def test_every_plan_has_a_command_line_case():
    assert set(SMALL) == set(PLANS)


MOKE_PLANS = ("moke_scan", "static_kerr")  # on the TR-MOKE table


def test_an_adaptive_run_says_why_it_stopped(tmp_path, capsys):
    code = main(["run", "thz_emission", "--profile", "sim:fast", "--data-dir", str(tmp_path), "--no-progress",
                 "--delays", "-800:1000:20", "--magnetization", "1,-1", "--sampling", "adaptive",
                 "--target", "tau_es_fs=0.4", "--budget-s", "900", "--batch", "12"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "at most" in out.splitlines()[0]
    assert any(line.startswith("adaptive: target reached: tau_es_fs") for line in out.splitlines()), out


@pytest.mark.parametrize("argv, message", [
    (["--target", "tau_es_fs"], "give PARAMETER=STDERR"),
    (["--target", "tau_es_fs=-1"], "give PARAMETER=STDERR"),
    (["--target", "R=0.1"], "'R' is not fitted"),
    ([], "give a target stderr"),
])
def test_a_bad_adaptive_request_is_one_line_and_nothing_runs(argv, message, tmp_path, capsys):
    try:
        code = main(["run", "thz_emission", "--profile", "sim:fast", "--data-dir", str(tmp_path), "--no-progress",
                     "--delays", "-800:1000:20", "--sampling", "adaptive", *argv])
    except SystemExit as exc:  # the parser's refusal
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.glob("*.jsonl"))


@pytest.mark.parametrize("plan", sorted(SMALL))
def test_every_plan_runs_from_the_command_line(plan, tmp_path, capsys):
    profile = "sim-moke:fast" if plan in MOKE_PLANS else "sim:fast"
    code = main(["run", plan, "--profile", profile, "--data-dir", str(tmp_path), "--no-progress",
                 "--lockin-tau", "0.01", *SMALL[plan]])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "estimated duration" in out
    uid = next(line.split()[-1] for line in out.splitlines() if line.startswith("run uid:"))
    run = load_run(uid, tmp_path)
    assert run.stop["exit_status"] == "success"
    assert run.start["plan_name"] == plan
    stream, field = ("static_kerr", "lockin_aux_in") if plan == "static_kerr" else ("primary", "lockin_x")
    assert len(run.table(stream)[field]) == run.start["num_points"]


def test_help_lists_plans_and_arguments_with_units(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in PLANS)
    with pytest.raises(SystemExit):
        main(["run", "field_loop", "--help"])
    out = capsys.readouterr().out
    assert "--max-field-mT" in out and "[mT]" in out and "[fs]" in out
    with pytest.raises(SystemExit):
        main(["run", "thz_emission", "--help"])
    out = capsys.readouterr().out
    assert "--inner" in out and "--temperatures" in out and "[K]" in out
    assert ":func:" not in out and "``" not in out  # Sphinx markup is for the docstrings, not the terminal


def test_plan_help_reads_the_plans_source_and_agrees_with_their_signatures():
    """`run PLAN --help` builds its parser from the plans' source (no bluesky import); it must say what the
    imported plans take."""
    import inspect

    from femtospin.acquisition.cli._plan_table import _from_import, _from_source

    assert _from_source() == _from_import()
    assert list(_from_source()) == list(PLANS)
    for name, plan in PLANS.items():
        assert _from_source()[name].doc == inspect.getdoc(plan)


def test_plan_help_imports_neither_bluesky_nor_the_plans():
    code = ("import contextlib, io, sys\n"
            "from femtospin.acquisition.cli._cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
            "    main(['run', 'thz_emission', '--help'])\n"
            "assert '--magnetization' in out.getvalue()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('bluesky', 'ophyd') "
            "or m == 'femtospin.plans'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_value_ranges_and_the_old_spelling_of_inner(capsys):
    from femtospin.acquisition.cli._cli import build_parser

    args = build_parser("run").parse_args(["run", "qwp_sweep", "--delays", "100", "--angles", "0:180:45"])
    assert args.angles == [0.0, 45.0, 90.0, 135.0, 180.0]
    args = build_parser("run").parse_args(["run", "thz_emission", "--delays", "100", "--fast", "x"])
    assert args.fast == ["x"] and "--inner" in capsys.readouterr().err  # still works, and says what it is now
    args = build_parser("run").parse_args(["run", "thz_emission", "--delays", "100", "--temperatures",
                                           "300:400:50", "--inner", "magnetization"])
    assert args.temperatures == [300.0, 350.0, 400.0] and args.fast == ["magnetization"]
    with pytest.raises(SystemExit):
        build_parser("run").parse_args(["run", "qwp_sweep", "--delays", "100", "--angles", "0:1e9:1e-3"])
    assert "at most" in capsys.readouterr().err


def test_a_long_wall_clock_run_is_announced_with_its_estimate(capsys):
    from femtospin.acquisition.cli._cmd_run import duration_lines
    from femtospin.acquisition.cli._run_options import ARGS  # noqa: F401 — the run module is importable alone

    wall = load_profile("sim")
    measurement = PLANS["delay_scan"](wall.lockin, wall.stage, np.arange(-1000.0, 3000.0, 0.5))
    lines = duration_lines("delay_scan", measurement, wall)
    assert len(lines) == 2 and lines[1].startswith("warning: a long run") and "sim:fast" in lines[1]
    fast = load_profile("sim:fast")
    measurement = PLANS["delay_scan"](fast.lockin, fast.stage, np.arange(-1000.0, 3000.0, 0.5))
    assert len(duration_lines("delay_scan", measurement, fast)) == 1  # simulated time: nothing to wait for


@pytest.mark.parametrize(
    "argv, message",
    [
        (["thz_emission", "--delays", "-200:400:50", "--temperatures", "900"], "temperatures: 900 K is outside"),
        (["delay_scan", "--delays", "0,1e7"], "delays: 1e+07 fs is outside the stage travel"),
        (["thz_emission", "--delays", "0:100:10", "--magnetization", "1,-1", "--fast", "angle_deg"], "fast:"),
        (["delay_scan", "--delays", "0,100", "--fine", "0:50:5"], "fine: only with delays given as"),
        (["delay_scan", "--delays", "0,100", "--seed", "3", "--profile", "lab.yaml"], "--seed"),
        (["thz_emission", "--delays", "0:100:10", "--magnetization", "1,-1", "--inner", "angle_deg"], "fast:"),
        (["thz_emission", "--delays", "-300:1000:10", "--magnetization", "1,-1"],
         "delays: the scan starts at -300 fs; the analysis needs a baseline from -"),
    ],
)
def test_bad_arguments_exit_non_zero_and_store_nothing(tmp_path, capsys, argv, message):
    plan, rest = argv[0], argv[1:]
    profile = [] if "--profile" in rest else ["--profile", "sim:fast"]
    code = main(["run", plan, *profile, "--data-dir", str(tmp_path / "d"), "--no-progress", *rest])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_ctrl_c_aborts_the_run_and_leaves_the_table_safe(tmp_path):
    """A real SIGINT to `femtospin run` on the wall-clock simulated table."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "femtospin", "run", "delay_scan", "--profile", "sim", "--delays", "-1000:3000:10",
         "--magnetization", "1,-1", "--lockin-tau", "0.003", "--data-dir", str(tmp_path), "--no-progress",
         "--catalog", "off"],  # the catalog's service has its own tests; here it would only add a process
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 120
    events = 0
    while time.monotonic() < deadline and proc.poll() is None:  # wait for a few recorded events
        files = [p for p in tmp_path.glob("*.jsonl") if ".analysis." not in p.name]
        events = sum(1 for line in files[0].open() if line.startswith('["event"')) if files else 0
        if events > 5:
            break
        time.sleep(0.1)
    assert proc.poll() is None and events > 5, f"the run did not get going: {events} events"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, out, err)
    paths = [p for p in tmp_path.glob("*.jsonl") if ".analysis." not in p.name]
    assert len(paths) == 1, (paths, err)
    path = paths[0]
    lines = [x for x in err.splitlines() if "aborted" in x]  # one line: the run and where its data is
    assert len(lines) == 1 and path.stem in lines[0] and f"data: {path}" in lines[0], err
    run = load_run(path.stem, tmp_path)
    assert run.stop["exit_status"] == "abort", run.stop
    end = run.table("baseline")
    assert abs(end["magnet_field"][-1]) < 0.1, end["magnet_field"]
    assert end["stage_delay"][-1] == pytest.approx(-1000.0, abs=10.0), end["stage_delay"]
    assert json.loads(json.dumps(run.start["plan_args"]))["magnetization"] == [1, -1]


def test_delay_scan_runs_from_the_command_line_on_the_pyvisa_sim_profile(tmp_path, capsys):
    from pathlib import Path

    profile = Path(__file__).resolve().parents[2] / "profiles" / "sim-visa.yaml"
    code = main(["run", "delay_scan", "--profile", str(profile), "--delays", "-300:300:100", "--magnetization",
                 "1,-1", "--data-dir", str(tmp_path), "--no-progress", "--sample", "wafer 17 CoFeB|Pt",
                 "--operator", "ada", "--note", "after realignment"])
    out = capsys.readouterr().out
    assert code == 0
    uid = next(line.split()[-1] for line in out.splitlines() if line.startswith("run uid:"))
    run = load_run(uid, tmp_path)
    assert run.start["profile"] == str(profile) and run.stop["exit_status"] == "success"
    assert run.start["sample"]["name"] == "wafer 17 CoFeB|Pt"  # on a real table the sample is metadata
    assert run.start["operator"] == "ada" and run.start["note"] == "after realignment"
    assert len(run.table()["lockin_x"]) == 14


def test_broken_profile_is_one_line(tmp_path, capsys):
    profile = tmp_path / "table.yaml"
    profile.write_text("roles: {stage: {class: ESP999, address: x}}\n")
    code = main(["run", "delay_scan", "--profile", str(profile), "--delays", "0,100", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.endswith("table.yaml: roles.lockin: missing (write 'null' if the table has no such instrument)")


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    """The README's --fine example, run as the README gives it (data dir and catalog aside)."""
    data = tmp_path_factory.mktemp("readme")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", *shlex.split(README_RUN), "--data-dir", str(data), "--catalog", "off"])
    printed = out.getvalue()
    uid = next(line.split()[-1] for line in printed.splitlines() if line.startswith("run uid:"))
    return {"code": code, "out": printed, "run": load_run(uid, data), "data": data}


def test_the_readme_fine_grid_example_fits_live(readme_run):
    assert readme_run["code"] == 0, readme_run["out"]
    run = readme_run["run"]
    (stored,) = run.fits()  # the final fit, stored in the run's analysis file
    tau = stored["fit"]["params"]["tau_es_fs"]
    lines = readme_run["out"].splitlines()
    (fit_at,) = [i for i, line in enumerate(lines) if line.startswith("fit:")]
    assert f"tau_es_fs={tau['value']:.4g}±{tau['stderr']:.2g}" in lines[fit_at]
    # the analysis's warnings follow the fit line, one each
    assert lines[fit_at + 1:fit_at + 1 + len(stored["warnings"])] == [f"warning: {w}" for w in stored["warnings"]]
    # the non-uniform grid is analysed as measured, the sweeps give the noise, the pump power the level
    assert len(np.unique(np.round(run.table()["stage_delay"], 0))) > 250
    assert stored["regularization"]["grid_step_fs"] == pytest.approx(5.0, abs=0.1)
    assert stored["noise"]["method"] == "repeats" and stored["noise"]["sweeps"] == 2
    assert [r["repeat"] for r in stored["drift"]["per_repeat"]] == [0, 1]
    assert stored["reference"]["level"] == run.start["laser"]["nominal_W"]
    assert stored["fit"]["params"]["resolution_fwhm_fs"]["source"] == "the run's pump duration (start document)"
    assert abs(tau["value"] - 104.0) < 4 * tau["stderr"] + 0.5


def test_analyze_on_the_readme_runs_rows_agrees_with_the_live_fit(readme_run, tmp_path, capsys):
    """`femtospin analyze` on the run's rows in the export's CSV format (export needs the catalog, off here)."""
    run = readme_run["run"]
    table = waveform_table(run.start, run.table("primary"))
    assert {"repeat", "overload", "pump_power"} <= set(table)
    src = tmp_path / "run.csv"
    with open(src, "w", newline="") as fh:
        csv.writer(fh).writerows([list(table), *zip(*(v.tolist() for v in table.values()))])
    out = tmp_path / "fit.json"
    assert main(["analyze", str(src), "--sample", run.start["sample"]["name"], "--reference-level",
                 str(run.start["laser"]["nominal_W"]), "--json", str(out)]) == 0
    offline = json.loads(out.read_text())
    live = run.fits()[0]
    for name in ("tau_es_fs", "t0_fs", "amplitude"):
        a, b = offline["fit"]["params"][name], live["fit"]["params"][name]
        assert abs(a["value"] - b["value"]) <= b["stderr"], name
    assert offline["noise"]["method"] == "repeats"
    printed = capsys.readouterr().out
    assert "(non-uniform)" in printed and "tau_es_fs" in printed


def test_run_prints_the_analysis_warnings_after_the_fit_line(tmp_path, capsys, monkeypatch):
    """A lock-in range below the peak: the overloaded points are left out, and the run says so."""

    def small_range(spec, **options):
        table = load_profile(spec, **options)
        table.lockin.sensitivity.put(1.6e-3)  # the ±M peaks reach ≈ 2 mV
        return table

    monkeypatch.setattr(_cmd_run, "load_profile", small_range)
    code = main(["run", "thz_emission", "--profile", "sim:fast", "--delays", "-1000:1000:20", "--magnetization",
                 "1,-1", "--lockin-tau", "0.01", "--data-dir", str(tmp_path), "--no-progress", "--catalog", "off"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    (fit_at,) = [i for i, line in enumerate(lines) if line.startswith("fit:")]
    assert lines[fit_at + 1].startswith("warning: ") and "overloaded lock-in reading(s) left out" in lines[fit_at + 1]
    warnings = [line for line in lines if line.startswith("warning:")]
    assert lines[fit_at + 1:fit_at + 1 + len(warnings)] == warnings  # all together, after the fit line


@pytest.mark.parametrize("debug", [False, True])
def test_unsafe_table_is_one_prominent_line_and_exit_3(tmp_path, capsys, monkeypatch, debug):
    from femtospin.acquisition import sim_profile
    from femtospin.acquisition.cli import _cmd_run

    def faulty_table(spec, **options):
        table = sim_profile(fast=True, seed=1)
        table.sim.inject_fault("magnet", "timeout", after_s=3.0)  # within the + sweep, at +10 mT
        return table

    monkeypatch.setattr(_cmd_run, "load_profile", faulty_table)
    code = main(["run", "delay_scan", "--profile", "sim:fast", "--delays", "-1000:600:30", "--magnetization", "1,-1",
                 "--field-mT", "10", "--lockin-tau", "0.01", "--data-dir", str(tmp_path), "--no-progress",
                 *(["--debug"] if debug else [])])
    err = capsys.readouterr().err
    assert code == _cmd_run.EXIT_UNSAFE == 3
    lines = [line for line in err.splitlines() if not line.startswith(" ")]
    assert "TABLE NOT SAFE: magnet at 10.0 mT — no reply within 3 s" in lines
    assert any(line.startswith("run ") and line.endswith("failed: magnet: no reply within 3 s") for line in lines)
    assert ("Traceback" in err) is debug
    if not debug:
        assert len(err.strip().splitlines()) == 3  # the unsafe device, the run, where its data is
    (path,) = [p for p in tmp_path.glob("*.jsonl") if ".analysis." not in p.name]
    end = load_run(path.stem, tmp_path).table("baseline")
    assert end["stage_delay"][-1] == pytest.approx(-1000.0, abs=10.0)  # the others made safe and recorded


# bad arguments of every plan: tests/reliability/test_inputs.py


def test_a_long_run_goes_ahead_when_confirmed(fast_table, monkeypatch):
    from femtospin.acquisition.cli import _cmd_run

    monkeypatch.setattr(_cmd_run, "MAX_DURATION_S", 1.0)
    _cmd_run.check_duration(10.0, confirmed=True)
    with pytest.raises(ValueError, match="--confirm-long"):
        _cmd_run.check_duration(10.0, confirmed=False)


def test_profile_file_metadata_gives_the_defaults_and_the_options_override_them():
    from femtospin.acquisition.cli._cmd_run import apply_metadata
    from femtospin.devices import Table

    table = Table(stage=None, lockin=None, metadata={"profile": "lab.yaml", "sample": "CoFeB(5)|Pt(3)",
                                                     "operator": "ann", "note": "default note"})
    apply_metadata(table, None, "bob", None)
    assert table.metadata["sample"] == {"name": "CoFeB(5)|Pt(3)", "stack": "CoFeB(5 nm)|Pt(3 nm)",
                                        "substrate": "glass 500 µm", "cap": "glass 500 µm"}  # the library's entry
    assert table.metadata["operator"] == "bob" and table.metadata["note"] == "default note"
    apply_metadata(table, "wafer 17", None, "realigned")
    assert table.metadata["sample"] == {"name": "wafer 17", "stack": "wafer 17", "substrate": None, "cap": None}
    assert table.metadata["note"] == "realigned"
