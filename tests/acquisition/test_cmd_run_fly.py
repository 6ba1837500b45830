"""`femtospin run … --mode fly` on the fast simulated table: measured, stored and fitted live like a step scan."""

import json

import numpy as np
import pytest

from femtospin.acquisition import load_run, main


def test_fly_run_fits_live(tmp_path, capsys):
    data = tmp_path / "data"
    code = main(["run", "thz_emission", "--profile", "sim:fast", "--mode", "fly", "--lockin-tau", "0.01",
                 "--delays", "-900:600:10", "--magnetization", "1,-1", "--repeats", "2", "--seed", "5",
                 "--data-dir", str(data), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tau_es_fs=" in out  # the live fit's line, as after a step scan
    (path,) = [p for p in data.glob("*.jsonl") if ".analysis." not in p.name]
    run = load_run(path.stem, data)
    assert run.start["mode"] == "fly" and "fly" in run.streams
    (fit,) = run.fits()
    tau = fit["fit"]["params"]["tau_es_fs"]
    assert fit["sweep"]["order"] == 4 and tau["correlation_factor"] > 1
    assert abs(tau["value"] - 104.0) < 5 * tau["stderr"]  # the simulated sample's τ_es
    assert np.unique(run.table()["repeat"]).size == 2
    # offline, the exported rows give the live fit again once the filter along the sweep is given
    table = run.table()
    csv = tmp_path / "fly.csv"
    columns = {"delay_fs": "stage_delay", "signal": "lockin_x", "magnetization": "magnetization", "repeat": "repeat",
               "pump_power": "power_meter_power"}
    rows = zip(*(table[c] for c in columns.values()))
    csv.write_text(",".join(columns) + "\n" + "".join(",".join(map(repr, map(float, r))) + "\n" for r in rows))
    spec = ",".join(f"{k}={v:g}" for k, v in run.start["fly"]["filter"].items())
    again = tmp_path / "fly.json"
    assert main(["analyze", str(csv), "--sample", "CoFeB(5)|Pt(3)", "--sweep-filter", spec, "--json", str(again)]) == 0
    offline = json.loads(again.read_text())
    assert {k: offline["sweep"][k] for k in run.start["fly"]["filter"]} == run.start["fly"]["filter"]
    assert offline["fit"]["params"]["tau_es_fs"]["value"] == pytest.approx(tau["value"], rel=1e-4)
    assert offline["fit"]["params"]["tau_es_fs"]["stderr"] == pytest.approx(tau["stderr"], rel=1e-3)
    capsys.readouterr()
    assert main(["analyze", str(csv), "--sweep-filter", "lag_fs=2,order=9"]) == 2
    assert "--sweep-filter: order must be 1–4 RC stages, got 9" in capsys.readouterr().err


def test_mode_is_an_argument_of_every_delay_plan(capsys):
    assert main(["run", "delay_scan", "--profile", "sim:fast", "--mode", "glide", "--delays", "-900:600:10"]) == 2
    assert "mode: 'glide' is not one of ['step', 'fly']" in capsys.readouterr().err
