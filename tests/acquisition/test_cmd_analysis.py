"""``femtospin analyze`` and ``fit-series``: the design.md file contracts and clean failures."""

import csv
import json

import numpy as np
import pytest

from femtospin.acquisition._cli import main
from femtospin.analysis import impulse_response

from ..analysis.simdata import make_table, scan

COND = ("magnetization", "angle_deg")


@pytest.fixture(scope="module")
def rows():
    r = scan(make_table(seed=4), np.arange(-800.0, 1600.0, 10.0), {"magnetization": [1, -1], "angle_deg": [0, 180]})
    return r


def write(path, columns, data):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        w.writerows(zip(*[data[c] for c in columns]))
    return str(path)


def test_analyze_writes_the_contract(tmp_path, rows, capsys):
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], rows)
    out = tmp_path / "out.json"
    assert main(["analyze", src, "--json", str(out), "--fix", "tau_ep_fs=350"]) == 0
    d = json.loads(out.read_text())
    assert {"resolution_fs", "t0_fs", "fit", "spin_current", "components"} <= set(d)
    assert d["fit"]["model"] == "spin-voltage"
    assert set(d["fit"]["params"]) == {"tau_es_fs", "tau_ep_fs", "R", "amplitude", "t0_fs", "resolution_fwhm_fs"}
    assert d["fit"]["params"]["tau_ep_fs"] == {"value": 350.0, "stderr": 0.0, "vary": False}
    assert abs(d["fit"]["params"]["tau_es_fs"]["value"] - 104.0) < 3 * d["fit"]["params"]["tau_es_fs"]["stderr"]
    assert {"odd_M", "plus_angle", "minus_angle"} <= set(d["components"])
    for comp in d["components"].values():
        assert set(comp) == {"delay_fs", "value", "stderr"} and len(comp["value"]) == 240
    assert len(d["spin_current"]["value"]) == len(d["spin_current"]["delay_fs"]) == 240
    assert "tau_es_fs" in capsys.readouterr().out


def test_analyze_with_a_measured_transfer_file(tmp_path, rows):
    t_h, h = impulse_response("gap250", 10.0, 1024)
    tr = write(tmp_path / "h.csv", ["time_fs", "h"], {"time_fs": t_h, "h": h})
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], rows)
    out = tmp_path / "o.json"
    assert main(["analyze", src, "--transfer", tr, "--model", "none", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["fit"]["model"] == "none" and d["resolution_fs"] > 0


def fails(tmp_path, capsys, argv, match):
    out = tmp_path / "out.json"
    code = main([*argv, "--json", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    assert match in err, err
    assert not out.exists() and not list(tmp_path.glob(".out.json*"))


def test_missing_column(tmp_path, rows, capsys):
    src = write(tmp_path / "w.csv", ["delay_fs", *COND], rows)
    fails(tmp_path, capsys, ["analyze", src], "missing column(s) signal")


def test_nan_names_the_line(tmp_path, rows, capsys):
    data = dict(rows, signal=rows["signal"].copy())
    data["signal"][7] = np.nan
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], data)
    fails(tmp_path, capsys, ["analyze", src], "line 9, column 'signal'")


def test_non_uniform_steps(tmp_path, rows, capsys):
    keep = rows["delay_fs"] != rows["delay_fs"][400]
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], {k: v[keep] for k, v in rows.items()})
    fails(tmp_path, capsys, ["analyze", src], "not uniform")


def test_transfer_on_another_step(tmp_path, rows, capsys):
    t_h, h = impulse_response("gap250", 5.0, 1024)
    tr = write(tmp_path / "h.csv", ["time_fs", "h"], {"time_fs": t_h, "h": h})
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], rows)
    fails(tmp_path, capsys, ["analyze", src, "--transfer", tr], "step 5 fs differs from the data step 10 fs")


def test_difference_of_a_single_condition(tmp_path, rows, capsys):
    plus = rows["magnetization"] == 1
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], {k: v[plus] for k, v in rows.items()})
    fails(tmp_path, capsys, ["analyze", src, "--component", "odd_M"], "needs magnetization = 1 and -1")
    # without asking for it, what is there is analyzed
    assert main(["analyze", src]) == 0


def test_bad_fix(tmp_path, rows, capsys):
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], rows)
    fails(tmp_path, capsys, ["analyze", src, "--fix", "tau_xx=3"], "no parameter(s) ['tau_xx']")
    fails(tmp_path, capsys, ["analyze", src, "--fix", "tau_ep_fs"], "NAME=VALUE")


@pytest.mark.parametrize("kind", ["temperature", "qwp", "field", "fluence"])
def test_fit_series_kinds(tmp_path, kind):
    rng = np.random.default_rng(0)
    if kind == "temperature":
        x = np.linspace(300, 500, 8)
        data = {"temperature_K": x, "amplitude": (550 - x) ** 2 * 1e-3}
    elif kind == "qwp":
        x = np.radians(np.arange(0, 180, 10.0))
        data = {"qwp_deg": np.degrees(x), "signal": 3 * np.sin(2 * x) + 0.2 * np.cos(4 * x) + 1}
    elif kind == "field":
        h = np.concatenate([np.linspace(-20, 20, 41), np.linspace(20, -20, 41)])
        br = np.array(["up"] * 41 + ["down"] * 41)
        data = {"field_mT": h, "branch": br, "signal": np.tanh((h - np.where(br == "up", 3, -3)) / 0.5)}
    else:
        x = np.linspace(0.1, 1, 8)
        data = {"fluence_mJcm2": x, "amplitude": 2 * x}
    ycol = next(c for c in data if c in ("amplitude", "signal"))
    data[ycol] = data[ycol] + 0.01 * rng.standard_normal(len(data[ycol]))
    data["stderr"] = np.full(len(data[ycol]), 0.01)
    src = write(tmp_path / "s.csv", list(data), data)
    out = tmp_path / "f.json"
    assert main(["fit-series", kind, src, "--json", str(out)]) == 0
    fit = json.loads(out.read_text())["fit"]
    expected = {"temperature": {"T_C_K", "alpha", "scale"}, "qwp": {"C", "L1", "L2", "D"},
                "field": {"coercive_mT", "saturation", "offset"}, "fluence": {"slope", "intercept"}}[kind]
    assert expected <= set(fit["params"]) and "redchi" in fit and fit["model"] == kind
    if kind == "fluence":
        assert fit["linearity"]["linear"] is True


def test_fit_series_missing_column(tmp_path, capsys):
    src = write(tmp_path / "s.csv", ["qwp_deg"], {"qwp_deg": [0, 10, 20, 30, 40]})
    fails(tmp_path, capsys, ["fit-series", "qwp", src], "missing column(s) signal")
