"""TR-MOKE from the command line: femtospin run moke_scan on the simulated MOKE table prints τ_M and the spin
accumulation of both layers, stores them with the run, and femtospin analyze --mode moke reproduces them offline."""

import contextlib
import io
from dataclasses import replace

import numpy as np
import pytest

from femtospin import analysis
from femtospin.acquisition import load_run, main, sim_profile
from femtospin.acquisition._session import Session
from femtospin.acquisition.cli._cmd_catalog import waveform_table
from femtospin.plans import moke_scan
from femtospin.sim_devices import Detection, get_sample

RUN = ["run", "moke_scan", "--profile", "sim-moke:fast", "--sample", "Co/Pt spin valve", "--states", "P,AP",
       "--reverse-mT", "20", "--kerr", "rotation,ellipticity", "--delays", "-400:2000:40", "--fine", "-200:400:10",
       "--repeats", "2", "--no-progress", "--catalog", "off"]


def _main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    data = tmp_path_factory.mktemp("moke")
    code, out, err = _main([*RUN, "--seed", "5", "--data-dir", str(data)])
    assert code == 0, err
    uid = next(line.split()[-1] for line in out.splitlines() if line.startswith("run uid:"))
    return data, uid, out


def test_the_run_prints_tau_m_and_the_spin_accumulation_of_both_layers(stored):
    data, uid, out = stored
    assert "tau_m_fs=" in out and "fit: ellipticity/P" in out and "−ΔM/M = −ellipticity/P: redchi" in out
    assert "static Kerr rotation" in out and "measured" in out
    assert "spin accumulation free: Δμ_s peak" in out and "spin accumulation ref: Δμ_s peak" in out
    (fit,) = load_run(uid, data).fits()
    tau = fit["fit"]["params"]["tau_m_fs"]
    assert abs(tau["value"] - 100.0) < 3 * tau["stderr"]
    assert fit["static_kerr"]["rotation"]["source"] == "measured"
    assert len(fit["static_kerr"]["rotation"]["phases"]) == 2  # start and end of the run
    sample = get_sample("Co/Pt spin valve")
    for layer, acc in (("free", sample.layers[0].accumulation), ("ref", sample.layers[1].accumulation)):
        c = {k: np.asarray(v, float) for k, v in fit["spin_accumulation"][layer].items()}
        truth = acc * analysis.spin_voltage(c["delay_fs"], sample.tau_es_fs, sample.tau_ep_fs, sample.R, fwhm=40.0)
        z = (c["value"] - truth) / c["stderr"]
        assert np.sqrt(np.mean(z**2)) < 1.5, layer
    report = next(line.split()[-1] for line in out.splitlines() if line.startswith("report:"))
    assert report.endswith(".png") and (data / report.split("/")[-1]).stat().st_size > 10_000


def test_analyze_mode_moke_reproduces_the_stored_fit_from_the_export(stored, tmp_path):
    data, uid, _ = stored
    run = load_run(uid, data)
    table = waveform_table(run.start, run.table())  # what `femtospin export UID --format csv` writes
    csv = tmp_path / "moke.csv"
    with open(csv, "w") as f:
        f.write(",".join(table) + "\n")
        for row in zip(*(v.tolist() for v in table.values())):
            f.write(",".join(repr(v) if isinstance(v, float) else str(v) for v in row) + "\n")
    assert {"kerr", "state", "repeat", "pump_power"} <= set(table)
    code, out, err = _main(["analyze", str(csv), "--mode", "moke", "--run", uid, "--data-dir", str(data),
                            "--json", str(tmp_path / "out.json")])
    assert code == 0, err
    import json

    offline = json.loads((tmp_path / "out.json").read_text())
    (stored_fit,) = run.fits()
    for name, p in stored_fit["fit"]["params"].items():
        assert offline["fit"]["params"][name]["value"] == pytest.approx(p["value"], rel=1e-9, abs=1e-12), name
        assert offline["fit"]["params"][name]["stderr"] == pytest.approx(p["stderr"], rel=1e-9, abs=1e-12), name
    for layer in ("free", "ref"):
        assert np.allclose(offline["spin_accumulation"][layer]["value"],
                           stored_fit["spin_accumulation"][layer]["value"])
        assert np.allclose(offline["spin_accumulation"][layer]["stderr"],
                           stored_fit["spin_accumulation"][layer]["stderr"])


def test_a_typed_in_static_signal_is_used_and_said(tmp_path):
    code, out, err = _main([*RUN[:14], "--delays", "-400:1500:50", "--repeats", "2", "--no-progress",
                            "--catalog", "off", "--data-dir", str(tmp_path),
                            "--static-kerr-V", "rotation=0.05±0.001,ellipticity=0.03±0.0006"])
    assert code == 0, err
    assert "static Kerr rotation 0.05 ± 0.001 V, typed in" in out
    assert "warning: static Kerr rotation typed in" in out


@pytest.mark.parametrize("argv, message", [
    (["run", "moke_scan", "--profile", "sim:fast", "--states", "P,AP", "--reverse-mT", "20", "--kerr",
      "rotation,ellipticity", "--delays", "-200:1000:50"], "moke_scan: this table detects THz emission"),
    (["run", "thz_emission", "--profile", "sim-moke:fast", "--delays", "-1000:1000:50", "--magnetization", "1,-1"],
     "thz_emission: this table detects TR-MOKE"),
    (["run", "moke_scan", "--profile", "sim-moke:fast", "--delays", "-200:1000:50", "--static-kerr-V", "rotation"],
     "give QUANTITY=V or QUANTITY=V±E"),
    (["run", "thz_emission", "--profile", "sim:fast", "--sample", "Co/Pt spin valve", "--delays", "-1000:1000:50"],
     "'Co/Pt spin valve' is a TR-MOKE sample (it emits no THz); use the profile sim-moke"),
    (["analyze", "x.csv", "--static", "rotation=0.05"], "--static: only with --mode moke"),
])
def test_the_wrong_table_or_input_is_one_line_before_anything_moves(argv, message, tmp_path):
    code, out, err = _main([*argv, "--data-dir", str(tmp_path)] if argv[0] == "run" else argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_a_table_without_a_kerr_signal_is_an_error_not_a_fit(tmp_path):
    """The probe misses the magnetic film: the static Kerr signal is not there, and the live analysis says so."""
    blank = replace(get_sample("Co/Pt spin valve"), kerr_rotation_V=1e-9, kerr_ellipticity_V=1e-9)
    t = sim_profile(blank, fast=True, seed=2, detection=Detection(mode="moke"))
    session = Session(t, tmp_path, live=True)
    session.run(moke_scan(t.lockin, t.stage, np.arange(-300.0, 1000.0, 40.0), probe_qwp=t.probe_qwp, magnet=t.magnet,
                          kerr=("rotation", "ellipticity"), states=("P",), repeats=2, shutter=t.shutter,
                          analyser=t.analyser, power_meter=t.power_meter, setup=t.setup, static_reads=3))
    assert session.live.wait(60)
    (r,) = session.live.state.results
    assert r.result is None and "static Kerr signal" in r.error and "not distinguishable from zero" in r.error


def test_the_live_figure_draws_the_fitted_demagnetization(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from femtospin.acquisition.live._live import LiveFigure

    t = sim_profile(fast=True, seed=6, detection=Detection(mode="moke"))
    session = Session(t, tmp_path, live=True)
    figure = Figure()
    FigureCanvasAgg(figure)
    live_figure = LiveFigure(session.live, figure)
    session.RE.subscribe(live_figure)
    delays = np.arange(-300.0, 1500.0, 30.0)
    session.run(moke_scan(t.lockin, t.stage, delays, probe_qwp=t.probe_qwp, magnet=t.magnet,
                          kerr=("rotation", "ellipticity"), states=("P",), repeats=2, shutter=t.shutter,
                          analyser=t.analyser, power_meter=t.power_meter, setup=t.setup, static_reads=3))
    assert session.live.wait(60)
    live_figure.refresh()
    assert len(live_figure.raw.lines) == 2  # rotation and ellipticity in P
    fitted = live_figure.fit.lines[0].get_ydata()
    assert fitted.size == delays.size and fitted.max() > 0.05  # −ΔM/M, positive, normalized
