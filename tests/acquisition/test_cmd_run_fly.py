"""`femtospin run … --mode fly` on the fast simulated table: measured, stored and fitted live like a step scan."""

import numpy as np

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


def test_mode_is_an_argument_of_every_delay_plan(capsys):
    assert main(["run", "delay_scan", "--profile", "sim:fast", "--mode", "glide", "--delays", "-900:600:10"]) == 2
    assert "mode: 'glide' is not one of ['step', 'fly']" in capsys.readouterr().err
