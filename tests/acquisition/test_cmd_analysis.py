"""``femtospin analyze`` and ``fit-series``: the design.md file contracts and clean failures."""

import csv
import json

import numpy as np
import pytest

from femtospin.acquisition.cli._cli import main
from femtospin.analysis import impulse_response, stack_physics
from femtospin.plans import delay_grid

from ..analysis.simdata import make_table, scan

COND = ("magnetization", "angle_deg")
SAMPLE = "CoFeB(5)|Pt(3)"
TAU_ES = stack_physics(SAMPLE).truth["tau_es_fs"]  # what the simulator generates


@pytest.fixture(scope="module")
def rows():
    r = scan(make_table(seed=4), np.arange(-800.0, 1600.0, 10.0), {"magnetization": [1, -1], "angle_deg": [0, 180]})
    return r


@pytest.fixture(scope="module")
def sweeps():
    """Two sweeps of ±M × 0°/180° on one drifting table, with the pump power read at each point."""
    table = make_table(seed=5)
    one, two = (scan(table, np.arange(-800.0, 1600.0, 10.0), {"magnetization": [1, -1], "angle_deg": [0, 180]})
                for _ in range(2))
    both = {k: np.concatenate([one[k], two[k]]) for k in one}
    both["repeat"] = np.repeat([0, 1], one["signal"].size)
    both["pump_power"] = both.pop("power")
    return both


def write(path, columns, data):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        w.writerows(zip(*[data[c] for c in columns]))
    return str(path)


def test_analyze_writes_the_contract(tmp_path, sweeps, capsys):
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND, "repeat", "pump_power"], sweeps)
    out = tmp_path / "out.json"
    assert main(["analyze", src, "--json", str(out), "--sample", SAMPLE, "--fix", "R=0.1"]) == 0
    d = json.loads(out.read_text())
    assert {"resolution_fs", "t0_fs", "fit", "noise", "drift", "spin_current", "resolution_kernel", "components",
            "warnings", "sample", "excluded", "reference"} <= set(d)
    fit = d["fit"]
    assert fit["model"] == "spin-voltage" and d["component"] == "minus_angle"  # the sample's physics
    params = fit["params"]
    assert set(params) == {"tau_es_fs", "tau_ep_fs", "R", "amplitude", "t0_fs", "resolution_fwhm_fs"}
    # every parameter says where its value came from
    assert params["tau_ep_fs"] == {"value": stack_physics(SAMPLE).fixed["tau_ep_fs"], "stderr": 0.0, "vary": False,
                                   "source": f"materials table, sample {SAMPLE}"}
    assert params["R"]["source"] == "--fix" and not params["R"]["vary"]
    assert params["tau_es_fs"]["source"] == "fitted" and params["tau_es_fs"]["vary"]
    assert abs(params["tau_es_fs"]["value"] - TAU_ES) < 3 * params["tau_es_fs"]["stderr"]
    # goodness of fit against a noise measured from the two sweeps' scatter
    n_delays = len(d["components"]["minus_angle"]["delay_fs"])
    assert fit["dof"] == n_delays - sum(p["vary"] for p in params.values())
    assert fit["redchi"] == pytest.approx(fit["chi2"] / fit["dof"])
    assert 1e-3 < fit["p_value"] < 1
    assert d["noise"]["method"] == "repeats" and d["noise"]["sweeps"] == 2 and d["noise"]["sigma_alpha"] > 0
    assert [r["repeat"] for r in d["drift"]["per_repeat"]] == [0, 1]
    assert d["reference"]["level"] == pytest.approx(np.median(sweeps["pump_power"]))
    # j_s with its noise band, and the kernel of the estimator that made it
    js = d["spin_current"]
    assert len(js["value"]) == len(js["delay_fs"]) == len(js["stderr"])
    causal = np.asarray(js["delay_fs"]) >= d["regularization"]["support_fs"]  # E ≡ 0 before the support
    assert np.all(np.asarray(js["stderr"])[causal] > 0) and not np.any(np.asarray(js["value"])[~causal])
    kernel = d["resolution_kernel"]
    assert len(kernel["value"]) == len(kernel["delay_fs"]) and np.isfinite(kernel["probe_fs"])
    assert {"odd_M", "plus_angle", "minus_angle"} <= set(d["components"])
    for comp in d["components"].values():
        assert set(comp) == {"delay_fs", "value", "stderr"} and len(comp["value"]) == 240
    assert isinstance(d["warnings"], list)
    printed = capsys.readouterr().out
    assert "tau_es_fs" in printed and f"p = {fit['p_value']:.3g}" in printed
    assert f"fixed: materials table, sample {SAMPLE}" in printed


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


def test_non_uniform_steps(tmp_path, capsys):
    """The README's grid (5 fs near t0, 20 fs elsewhere) with one delay missing fits, and the output says so."""
    grid = delay_grid(-1000.0, 3000.0, 20.0, fine=(-200.0, 400.0, 5.0))
    data = scan(make_table(seed=6), np.delete(grid, 100), {"magnetization": [1, -1], "angle_deg": [0, 180]})
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], data)
    out = tmp_path / "out.json"
    assert main(["analyze", src, "--sample", SAMPLE, "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    tau = d["fit"]["params"]["tau_es_fs"]
    assert abs(tau["value"] - TAU_ES) < 3 * tau["stderr"]
    assert d["regularization"]["grid_step_fs"] == pytest.approx(5.0, abs=0.1)  # the finest step
    np.testing.assert_allclose(d["components"]["minus_angle"]["delay_fs"], np.unique(data["delay_fs"]))
    printed = capsys.readouterr().out
    lo, hi = data["delay_fs"].min(), data["delay_fs"].max()  # encoder readbacks
    assert f"delays: {grid.size - 1} from {lo:.0f} to {hi:.0f} fs, steps 5–20 fs (non-uniform); analysed on a 5 fs " \
           f"grid" in printed
    assert "fit spin-voltage: redchi" in printed


def test_transfer_on_another_step(tmp_path, rows):
    """A measured h on a 5 fs step, data on 10 fs: h is resampled and the fit agrees with h on the data's step."""
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], rows)
    fits = {}
    for step in (10.0, 5.0):
        t_h, h = impulse_response("gap250", step, 1024)
        tr = write(tmp_path / f"h{step:g}.csv", ["time_fs", "h"], {"time_fs": t_h, "h": h})
        out = tmp_path / f"o{step:g}.json"
        assert main(["analyze", src, "--sample", SAMPLE, "--transfer", tr, "--json", str(out)]) == 0
        fits[step] = json.loads(out.read_text())["fit"]["params"]
    for name in ("tau_es_fs", "t0_fs", "amplitude"):
        same, other = fits[10.0][name], fits[5.0][name]
        assert abs(same["value"] - other["value"]) < same["stderr"], name


def test_difference_of_a_single_condition(tmp_path, rows, capsys):
    plus = rows["magnetization"] == 1
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], {k: v[plus] for k, v in rows.items()})
    fails(tmp_path, capsys, ["analyze", src, "--component", "odd_M"], "needs magnetization = 1 and -1")
    # without asking for it, what is there is analyzed
    assert main(["analyze", src]) == 0


def test_bad_sample_and_a_level_without_power(tmp_path, rows, capsys):
    src = write(tmp_path / "w.csv", ["delay_fs", "signal", *COND], rows)
    fails(tmp_path, capsys, ["analyze", src, "--sample", "CoFeB(5)|Xx(3)"], "--sample: sample 'CoFeB(5)|Xx(3)': "
                                                                             "unknown material 'Xx'")
    fails(tmp_path, capsys, ["analyze", src, "--reference-level", "0.5"], "--reference-level: ")


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
