"""Bad input, hostile or careless: one line naming the argument or the file, exit 2, nothing moved or written.

Every input the command line takes is attacked here: out-of-range and non-finite
numbers, point counts and durations no table should start, duplicated conditions,
files in the wrong encoding, not YAML, or built to explode (a YAML alias bomb),
outputs that are directories, series no model can determine, ports and hosts that
do not exist. Each case runs ``femtospin`` in-process and checks the exit code,
the single line and that no file appeared anywhere.
"""

from __future__ import annotations

import csv
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from femtospin.acquisition import main

from ..analysis.simdata import make_table, scan

PROFILES = Path(__file__).parents[2] / "profiles"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Good and bad input files, in a folder of their own (checked unchanged after every case)."""
    d = tmp_path_factory.mktemp("inputs")
    rows = scan(make_table(seed=4), np.arange(-800.0, 1600.0, 10.0), {"magnetization": [1, -1],
                                                                       "angle_deg": [0, 180]})
    cols = ["delay_fs", "magnetization", "angle_deg", "signal"]
    with open(d / "waves.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        w.writerows(zip(*[rows[c] for c in cols]))
    good = (d / "waves.csv").read_bytes()
    (d / "latin1.csv").write_bytes(good.replace(b"signal", b"sign\xe9l"))
    (d / "empty.csv").write_text("")
    (d / "nan.csv").write_text("delay_fs,magnetization,angle_deg,signal\n0,1,0,1e-6\n10,1,0,nan\n")
    (d / "h_latin1.csv").write_bytes(b"time_fs,h\n0,\xe9\n")
    series = {
        "temperature_negative.csv": "temperature_K,amplitude,stderr\n-10,1,0.01\n100,0.9,0.01\n200,0.7,0.01\n"
                                    "300,0.4,0.01\n",
        "temperature_one_T.csv": "temperature_K,amplitude,stderr\n" + "100,1,0.01\n" * 4,
        "field_one_H.csv": "field_mT,signal,branch\n1,1,up\n1,1,up\n1,1,down\n1,1,down\n",
        "qwp_one_angle.csv": "qwp_deg,signal\n" + "10,1\n" * 5,
        "qwp_aliased.csv": "qwp_deg,signal\n0,1\n180,1\n360,1\n90,2\n270,2\n",
        "fluence_negative.csv": "fluence_mJcm2,amplitude\n-1,1\n1,1\n2,2\n3,3\n",
        "fluence_zero_stderr.csv": "fluence_mJcm2,amplitude,stderr\n0,0,0.1\n1,1,0\n2,2,0.1\n3,3,0.1\n",
    }
    for name, text in series.items():
        (d / name).write_text(text)
    shutil.copy(PROFILES / "sim-visa-instruments.yaml", d)
    profile = (PROFILES / "sim-visa.yaml").read_text()
    meta = "metadata:\n  table: pyvisa-sim rehearsal table\n"
    assert meta in profile
    bomb = "  x0: &x0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"  x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]\n" for i in range(1, 9))  # 9^9 values once expanded
    (d / "bomb.yaml").write_text(profile.replace(meta, meta + bomb))
    (d / "latin1.yaml").write_bytes(profile.replace("rehearsal", "r\xe9hearsal").encode("latin-1"))
    (d / "meta_list.yaml").write_text(profile.replace(meta, "metadata: [1, 2]\n"))
    (d / "not_yaml.yaml").write_text("just some text\nnot: [yaml")
    (d / "huge.yaml").write_text(profile + "# " + "x" * 300_000 + "\n")
    (d / "a_folder.yaml").mkdir()
    return d


def _tree(*roots: Path) -> set[str]:
    return {str(p) for root in roots if root.exists() for p in root.rglob("*")}


def _refused(attack, capsys, tmp_path, files, argv, code, message):
    before = _tree(tmp_path, files)
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        got = exc.code
    err = capsys.readouterr().err
    attack.refused(err, outside=bool(_tree(tmp_path, files) - before))
    assert got == code, err
    assert message in err, err


def _expand(argv: list[str], files: Path, data: Path) -> list[str]:
    return [a.format(f=files, d=data) for a in argv]


RUN = ["--profile", "sim:fast", "--data-dir", "{d}", "--no-progress"]

# femtospin run PLAN …: refused before the table moves
RUN_CASES = [
    (["delay_scan", "--delays", "0:inf:10"], "delays: 0:inf:10 fs; start, stop and step must be finite"),
    (["delay_scan", "--delays", "-10000:90000:0.001"], "gives 1e+08 points; at most 1 000 000 per run"),
    (["thz_emission", "--delays", "0:1000:10", "--magnetization", "1,-1", "--repeats", "100000"],
     "repeats: 100000 × 101 delays × every condition gives 2.02e+07 points"),
    (["field_loop", "--delays", "100", "--max-field-mT", "5", "--step-mT", "1e-9"],
     "step_mT: 1e-09 mT over ±5 mT gives 2e+10 points"),
    (["delay_scan", "--delays", "0:100:10", "--magnetization", "inf"], "argument --magnetization: 'inf': give whole"),
    (["delay_scan", "--delays", "0:100:10", "--magnetization", "nan"], "argument --magnetization: 'nan': give whole"),
    (["delay_scan", "--delays", "0:100:10", "--magnetization", "1,1"], "magnetization: 1 is given twice"),
    (["thz_emission", "--delays", "0:100:10", "--angles", "0,0"], "angles: 0.0 is given twice"),
    (["thz_emission", "--delays", "0:100:10", "--angles", "0,360"], "angles: 360.0 is given twice"),
    (["thz_emission", "--delays", "0:100:10", "--angles", ","], "argument --angles: ',': give at least one value"),
    (["moke_scan", "--delays", "0:100:10", "--kerr", ","], "argument --kerr: ',': give at least one value"),
    (["moke_scan", "--profile", "sim-moke:fast", "--delays", "0:100:10", "--kerr", "rotation,spin"],
     "kerr: 'spin' is not one of"),
    (["moke_scan", "--delays", "0:100:10"], "moke_scan: this table detects THz emission"),
    (["thz_emission", "--profile", "sim-moke:fast", "--delays", "-1000:600:20"], "thz_emission:"),
    (["thz_emission", "--delays", "0:100:10", "--ramp-K-per-min", "-5"],
     "ramp_K_per_min: -5.0 K/min is outside the allowed range (0, 20] K/min"),
    (["delay_scan", "--delays", "0:100:10", "--seed", "-1"],
     "argument --seed: '-1': the noise seed is a whole number ≥ 0"),
    (["thz_emission", "--delays", "0:100:10", "--repeats", "0"], "argument --repeats: '0': give a whole number ≥ 1"),
    (["delay_scan", "--delays", "0:100:10", "--repeats", "2"], "unrecognized arguments: --repeats 2"),
    (["delay_scan", "--delays", "0:100:10", "--lockin-tau", "1e9"],
     "min is over the limit of 48 h; check the arguments or add --confirm-long"),
    (["delay_scan", "--delays", "0:100:10", "--lockin-tau", "nan"], "lockin-tau: nan s is outside the allowed range"),
    (["delay_scan", "--delays", "0:100:10", "--laser-threshold", "0.6", "--catalog", "embedded"],
     "laser-threshold: 0.6 W must be below the measured pump power 0.4"),
    (["delay_scan", "--delays", "0:100:10", "--laser-threshold", "1e9", "--catalog", "embedded"],
     "laser-threshold: 1e+09 W must be below the measured pump power"),
    (["delay_scan", "--delays", "0:100:10", "--laser-threshold", "-1", "--catalog", "embedded"],
     "laser-threshold: -1.0 W is outside the allowed range: finite and > 0 W"),
    (["delay_scan", "--delays", "0:100:10", "--laser-threshold", "nan", "--catalog", "embedded"],
     "laser-threshold: nan W is outside the allowed range"),
    (["delay_scan", "--delays", "-300:300:20"], "the analysis needs a baseline from"),
    (["delay_scan", "--delays", "0:100:10", "--sample", "Unobtainium(5)"], "Unobtainium"),
]


@pytest.mark.parametrize("argv, message", RUN_CASES, ids=[" ".join(a[:1] + a[3:]) for a, _ in RUN_CASES])
def test_run_refuses_in_one_line_and_writes_nothing(attack, capsys, tmp_path, files, argv, message):
    _refused(attack, capsys, tmp_path, files, ["run", argv[0], *_expand(RUN, files, tmp_path / "d"), *argv[1:]],
             2, message)


PROFILE_CASES = [
    ("bomb.yaml", "bomb.yaml: more than 10000 values once its YAML aliases are expanded"),
    ("latin1.yaml", "latin1.yaml: not UTF-8 text (byte"),
    ("meta_list.yaml", "meta_list.yaml: metadata: must be a mapping"),
    ("not_yaml.yaml", "not_yaml.yaml: not valid YAML"),
    ("huge.yaml", "is not a profile (at most 256 kB)"),
    ("a_folder.yaml", "a_folder.yaml: cannot read the profile (Is a directory)"),
    ("missing.yaml", "missing.yaml: cannot read the profile (No such file or directory)"),
]


@pytest.mark.parametrize("name, message", PROFILE_CASES, ids=[n for n, _ in PROFILE_CASES])
def test_a_bad_profile_is_refused_by_run_and_by_serve(attack, capsys, tmp_path, files, name, message):
    _refused(attack, capsys, tmp_path, files, ["run", "delay_scan", "--profile", str(files / name), "--data-dir",
                                               str(tmp_path / "d"), "--delays", "-1000:600:20"], 2, message)
    _refused(attack, capsys, tmp_path, files, ["serve", "--profile", str(files / name), "--data-dir",
                                               str(tmp_path / "d"), "--zmq-port", str(_free_port())], 2, message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE_CASES = [
    (["--zmq-port", "70000"], "--zmq-port 70000: give a port between 1 and 65535"),
    (["--zmq-port", "-1"], "--zmq-port -1: give a port between 1 and 65535"),
    (["--host", "999.1.1.1"], "--host 999.1.1.1: not an address of this machine"),
]


@pytest.mark.parametrize("argv, message", SERVE_CASES, ids=[" ".join(a) for a, _ in SERVE_CASES])
def test_serve_refuses_in_one_line(attack, capsys, tmp_path, files, argv, message):
    _refused(attack, capsys, tmp_path, files, ["serve", "--profile", "sim:fast", "--data-dir", str(tmp_path / "d"),
                                               *argv], 2, message)


ANALYZE_CASES = [
    (["{f}/waves.csv", "--json", "{f}"], "--json {f}: is a directory; give a file name"),
    (["{f}/waves.csv", "--json", "{f}/no/such/out.json"], "directory {f}/no/such does not exist"),
    (["{f}/waves.csv", "--probe-fwhm-fs", "-20"], "--probe-fwhm-fs: probe duration -20.0 fs is outside the allowed"),
    (["{f}/waves.csv", "--probe-fwhm-fs", "nan"], "--probe-fwhm-fs: probe duration nan fs is outside the allowed"),
    (["{f}/waves.csv", "--probe-fwhm-fs", "inf"], "--probe-fwhm-fs: probe duration inf fs is outside the allowed"),
    (["{f}/waves.csv", "--fix", "tau_es_fs=-100"], "tau_es_fs = -100 is outside its allowed range"),
    (["{f}/waves.csv", "--fix", "tau_es_fs=nan"], "expected NAME=VALUE with a finite number"),
    (["{f}/waves.csv", "--fix", "bogus=1"], "bogus"),
    (["{f}/waves.csv", "--sample", "Unobtainium(5)"], "--sample:"),
    (["{f}/waves.csv", "--reference-level", "1.0"], "has no pump_power column to normalize by"),
    (["{f}/waves.csv", "--transfer", "{f}/h_latin1.csv"], "--transfer: {f}/h_latin1.csv: not UTF-8 text"),
    (["{f}/waves.csv", "--transfer", "{f}"], "--transfer: {f}: is a directory"),
    (["{f}/latin1.csv"], "{f}/latin1.csv: not UTF-8 text (byte"),
    (["{f}/empty.csv"], "{f}/empty.csv: file is empty"),
    (["{f}/nan.csv"], "{f}/nan.csv: line"),
    (["{f}/missing.csv"], "cannot read {f}/missing.csv: no such file or directory"),
    (["{f}"], "cannot read {f}: is a directory"),
]


@pytest.mark.parametrize("argv, message", ANALYZE_CASES, ids=[" ".join(a).replace("{f}/", "")
                                                               for a, _ in ANALYZE_CASES])
def test_analyze_refuses_in_one_line(attack, capsys, tmp_path, files, argv, message):
    _refused(attack, capsys, tmp_path, files, ["analyze", *_expand(argv, files, tmp_path)], 2,
             message.format(f=files))


SERIES_CASES = [
    ("temperature", "temperature_negative.csv", "temperature_K -10 in row 1 is below 0"),
    ("temperature", "temperature_one_T.csv", "1 different temperature_K value(s); the model needs at least 3"),
    ("field", "field_one_H.csv", "1 different field_mT value(s); the model needs at least 3"),
    ("qwp", "qwp_one_angle.csv", "1 different qwp_deg value(s); the model needs at least 4"),
    ("qwp", "qwp_aliased.csv", "2 different qwp_deg value(s); the model needs at least 4"),
    ("fluence", "fluence_negative.csv", "fluence_mJcm2 -1 in row 1 is below 0"),
    ("fluence", "fluence_zero_stderr.csv", "column 'stderr': must be > 0"),
    ("temperature", "latin1.csv", "latin1.csv: not UTF-8 text"),
    ("temperature", "waves.csv", "missing column(s) temperature_K, amplitude"),
]


@pytest.mark.parametrize("kind, name, message", SERIES_CASES, ids=[n for _, n, _ in SERIES_CASES])
def test_fit_series_refuses_what_no_model_can_determine(attack, capsys, tmp_path, files, kind, name, message):
    _refused(attack, capsys, tmp_path, files, ["fit-series", kind, str(files / name), "--json",
                                               str(tmp_path / "out.json")], 2, message)


STORED_CASES = [
    (["show", "../../etc/passwd"], "argument uid: '../../etc/passwd': a run id is hexadecimal digits and dashes"),
    (["show", "%"], "argument uid: '%': a run id is hexadecimal digits and dashes"),  # a catalog LIKE wildcard
    (["export", "*", "--out", "{d}/x.csv"], "argument uid: '*': a run id is hexadecimal digits and dashes"),
    (["replay", "../x"], "argument uid: '../x': a run id is hexadecimal digits and dashes"),
    (["replay", "feedbeef"], "no run 'feedbeef'"),
]


@pytest.mark.parametrize("argv, message", STORED_CASES, ids=[" ".join(a[:2]) for a, _ in STORED_CASES])
def test_stored_run_commands_refuse_bad_ids(attack, capsys, tmp_path, files, argv, message):
    data = tmp_path / "d"
    data.mkdir()
    _refused(attack, capsys, tmp_path, files, [*_expand(argv, files, data), "--data-dir", str(data)], 2, message)
