import threading

import numpy as np
import pytest

from femtospin import analysis
from femtospin.acquisition import LiveAnalysis, Session, load_run, sim_profile
from femtospin.acquisition.live._live import _plot_spin_current, complete_rows, report_lines
from femtospin.plans import delay_grid, field_loop, thz_emission

DELAYS = delay_grid(-1000.0, 2000.0, 20.0)


def _table(seed=1):
    t = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=seed)
    t.lockin.time_constant.put(0.01)
    return t


def test_complete_rows_keeps_a_full_product_of_complete_sweeps():
    keys = [(1, 0.0)] * 3 + [(-1, 0.0)] * 3 + [(1, 180.0)] * 2
    delay = np.array([0, 10, 20, 0, 10, 20, 0, 10], float)
    keep = complete_rows(delay, keys)
    # (+M, 180°) alone would make an incomplete product: left out until (−M, 180°) exists
    assert keep.tolist() == [True] * 6 + [False] * 2
    keep = complete_rows(np.array([0, 10, 20, 0, 10], float), [(1,)] * 3 + [(-1,)] * 2)
    assert keep.tolist() == [True, True, False, True, True]  # the sweep in progress lacks 20 fs


def test_a_slow_analysis_never_blocks_the_run_engine_and_coalesces(tmp_path):
    """The first analysis is held until the run has ended: had the RunEngine waited for an analysis, the run
    could not have ended. Meanwhile every request replaced the waiting data, so one more fit sees all of it."""
    t = _table()
    session = Session(t, tmp_path)
    release, calls = threading.Event(), []

    def held_analyze(*args, **kwargs):
        calls.append(len(args[0]))
        assert release.wait(120), "the run never ended while its first analysis was held"
        return analysis.analyze(*args, **kwargs)

    live = LiveAnalysis(tmp_path, analyze=held_analyze, report=False)
    session.RE.subscribe(live)
    plan = thz_emission(t.lockin, t.stage, DELAYS[::2], magnet=t.magnet, magnetization=(1, -1), repeats=2,
                        interleave="point")
    try:
        (uid,) = session.run(plan)
        assert load_run(uid, tmp_path).stop["exit_status"] == "success"  # ended with an analysis in progress
        assert len(calls) == 1 and calls[0] < plan.md["num_points"]
    finally:
        release.set()
    assert live.wait(60)
    assert live.requests > 100  # point interleave: a request at every condition change
    assert calls[1:] == [plan.md["num_points"]]  # coalesced: one more fit, on every point
    (fit,) = load_run(uid, tmp_path).fits()
    assert fit["n_points"] == plan.md["num_points"]


def test_the_fits_are_stored_with_the_run_and_the_report_written(tmp_path):
    t = _table(seed=2)
    session = Session(t, tmp_path / "d", live=True, report_dir=tmp_path)
    (uid,) = session.run(thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, magnetization=(1, -1)))
    assert session.live.wait(30)
    run = load_run(uid, tmp_path / "d")
    (stored,) = run.fits()
    (live,) = session.live.state.results
    assert stored["component"] == "odd_M" == live.result.component
    tau = stored["fit"]["params"]["tau_es_fs"]
    assert tau["value"] == pytest.approx(live.result.fit.value("tau_es_fs"))
    assert abs(tau["value"] - 104.0) < 4 * tau["stderr"] + 1.0
    assert session.live.state.report == tmp_path / f"report_{uid[:8]}.png"
    assert session.live.state.report.read_bytes()[:4] == b"\x89PNG"
    # the analysis run does not shadow the measured run when looked up by prefix
    assert load_run(uid[:8], tmp_path / "d").uid == uid
    # the report's j_s carries its noise band
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    _plot_spin_current(ax, [live], live.result)
    dec = live.result.deconvolution
    (band,) = ax.collections
    y, scale = band.get_paths()[0].vertices[:, 1], np.abs(dec.field).max()
    assert y.max() == pytest.approx((dec.field + dec.stderr).max() / scale)
    assert y.min() == pytest.approx((dec.field - dec.stderr).min() / scale)
    assert "1σ noise" in ax.get_title()


def test_single_delay_plans_have_no_waveform_fit_only_their_series(tmp_path):
    t = _table()
    session = Session(t, tmp_path, live=True)
    session.run(field_loop(t.lockin, t.stage, t.magnet, 100.0, max_field_mT=4.0, step_mT=1.0))
    assert session.live.wait(30)
    assert session.live.state.results == [] and session.live.state.fits_done == 1  # the final snapshot only
    assert session.live.state.series.kind == "field"


def test_live_figure_draws_the_newest_fit(tmp_path, monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from femtospin.acquisition.live._live import LiveFigure, display_available

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not display_available()  # no screen: no live figure, only the report
    t = _table(seed=4)
    session = Session(t, tmp_path, live=True)
    figure = Figure()
    FigureCanvasAgg(figure)
    live_figure = LiveFigure(session.live, figure)
    session.RE.subscribe(live_figure)
    session.run(thz_emission(t.lockin, t.stage, DELAYS, magnet=t.magnet, magnetization=(1, -1)))
    assert session.live.wait(30)
    live_figure.refresh()
    assert len(live_figure.raw.lines) == 2  # +M and −M
    assert "tau_es_fs" in live_figure.fit.get_title()
    assert live_figure.fit.lines[1].get_ydata().size == DELAYS.size


def test_overloaded_points_are_left_out_and_sweeps_and_power_reach_the_analysis(tmp_path):
    """A lock-in range below the ±M peaks: the clipped readings are named and kept out of the live fit."""
    t = _table(seed=3)
    t.lockin.sensitivity.put(1.6e-3)  # the peaks reach ≈ 2 mV
    calls = []

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return analysis.analyze(*args, **kwargs)

    session = Session(t, tmp_path, live=True)
    session.live._analyze = spy
    (uid,) = session.run(thz_emission(t.lockin, t.stage, delay_grid(-1000.0, 1000.0, 20.0), magnet=t.magnet,
                                      power_meter=t.power_meter, magnetization=(1, -1), repeats=2))
    assert session.live.wait(30)
    data = load_run(uid, tmp_path).table()
    overloaded = int(data["lockin_overload"].sum())
    assert overloaded > 0
    # the final fit got every row with its sweep, overload flag and pump power
    args, kwargs = calls[-1]
    np.testing.assert_array_equal(args[0], data["stage_delay"])
    np.testing.assert_array_equal(kwargs["repeat"], data["repeat"])
    np.testing.assert_array_equal(kwargs["overload"], data["lockin_overload"])
    np.testing.assert_array_equal(kwargs["reference"], data["power_meter_power"])
    (live,) = session.live.state.results
    res = live.result
    assert res.excluded == {"overloaded": overloaded}
    assert any(w.startswith(f"{overloaded} overloaded lock-in reading(s) left out") for w in res.warnings)
    assert res.noise.method == "repeats" and res.noise.n_sweeps == 2
    tau = res.fit.params["tau_es_fs"]
    assert abs(tau["value"] - 104.0) < 3 * tau["stderr"] and res.fit.redchi < 1.5
    # fitted as data, the clipped readings would have made a confident wrong fit
    clipped = analysis.analyze(*args, **{**kwargs, "overload": None})
    assert clipped.fit.redchi > 3 and not clipped.excluded
    (stored,) = load_run(uid, tmp_path).fits()
    assert stored["excluded"] == {"overloaded": overloaded} and stored["warnings"] == res.warnings
    # the report says what was fixed and why, how good the fit is, and every warning
    text = "\n".join(report_lines(session.live.state))
    assert "fixed by materials table, sample CoFeB(5)|Pt(3):\n  tau_ep_fs = 350, R = 0.1" in text
    assert "fixed by the run's pump duration (start document):\n  resolution_fwhm_fs = 40" in text
    fit = res.fit
    assert f"redchi {fit.redchi:.3g} (chi2 {fit.chi2:.1f} / {fit.dof} dof, p = {fit.p_value:.2g})" in text
    assert "noise from repeats (2 sweeps)" in text
    flat = " ".join(text.split())
    assert all(" ".join(w.split()) in flat for w in res.warnings)

