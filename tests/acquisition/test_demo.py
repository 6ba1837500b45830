import numpy as np
from femtospin.acquisition import load_run, magnetization_odd, main


def test_demo_cli_measures_stores_and_plots(tmp_path, capsys):
    assert main(["demo", "--fast", "--no-progress", "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    uid = out.split("run uid:")[1].split()[0]
    figure = next(tmp_path.glob("demo_*.png"))
    assert str(figure) in out and figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = load_run(uid, tmp_path / "d")
    assert str(run.path) in out
    assert run.start["sample"]["name"] == "CoFeB(5)|Pt(3)" and run.stop["exit_status"] == "success"
    (dp, sp), (dm, sm), odd = magnetization_odd(run)
    assert np.allclose(dp, dm, atol=1.0)  # both sweeps recorded on the same readback grid
    assert np.corrcoef(sp, sm)[0, 1] < -0.95
    # the odd part carries the spin current: its peak is near time zero, quiet before the pump
    assert abs(dp[np.argmax(np.abs(odd))]) < 300
    assert np.abs(odd[dp < -500]).max() < 0.1 * np.abs(odd).max()
