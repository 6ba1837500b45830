import numpy as np

from femtospin.acquisition import load_run, main


def test_demo_measures_fits_live_stores_and_reports(tmp_path, capsys):
    assert main(["demo", "--fast", "--no-progress", "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    uid = out.split("run uid:")[1].split()[0]
    report = next(tmp_path.glob("report_*.png"))
    assert str(report) in out and report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = load_run(uid, tmp_path / "d")
    assert str(run.path) in out
    assert run.start["sample"]["name"] == "CoFeB(5)|Pt(3)" and run.stop["exit_status"] == "success"
    assert run.start["conditions"] == ["repeat", "angle_deg", "magnetization"]  # two sweeps: the noise from them
    data = run.table()
    assert {(a, m) for a, m in zip(data["angle_deg"], data["magnetization"])} == {
        (0.0, 1), (0.0, -1), (180.0, 1), (180.0, -1)}
    # the stored live fit: S− of the 0°/180° pair, τ_es of CoFeB within its uncertainty (a few σ)
    (fit,) = run.fits()
    assert fit["component"] == "minus_angle" and fit["noise"]["method"] == "repeats"
    tau = fit["fit"]["params"]["tau_es_fs"]
    assert abs(tau["value"] - 104.0) < 4 * tau["stderr"] + 1.0
    assert f"{tau['value']:.1f}" in out
    assert np.isfinite(fit["resolution_fs"]) and fit["resolution_fs"] < 60
    # the goodness of fit and every warning of the stored fit, one line each, after the fit
    lines = out.splitlines()
    fitted = next(i for i, line in enumerate(lines) if line.startswith("redchi:"))
    assert f"p = {fit['fit']['p_value']:.2g}" in lines[fitted]
    assert lines[fitted + 1:fitted + 1 + len(fit["warnings"])] == [f"warning: {w}" for w in fit["warnings"]]
    assert sum(line.startswith("warning:") for line in lines) == len(fit["warnings"])
