"""Series plans end in their physical result: extracted, fitted, stored with the run, printed, drawn."""

import numpy as np
import pytest
from scipy.stats import t as student_t

from femtospin.acquisition import Session, load_run, sim_profile
from femtospin.acquisition.live._live_series import series_lines
from femtospin.plans import field_loop, fluence_series, qwp_sweep, temperature_series
from femtospin.sim_devices import Noise, get_sample


def _run(tmp_path, table, plan):
    session = Session(table, tmp_path, live=True, report_dir=tmp_path)
    (uid,) = session.run(plan)
    assert session.live.wait(120)
    state = session.live.state
    assert state.series is not None and state.report is not None and state.report.exists()
    stored = load_run(uid, tmp_path).series()
    assert stored == state.series.to_dict()  # stored with the run as it was printed
    return state.series


def _within(fit, name, truth, k=2.0):
    p = fit.params[name]
    return abs(p["value"] - truth) < k * p["stderr"]


def test_a_temperature_series_gives_t_c_and_alpha_within_their_errors(tmp_path):
    t = sim_profile("YIG(3um)|Pt(5.5)", fast=True, seed=4)
    series = _run(tmp_path, t, temperature_series(
        t.lockin, t.stage, np.arange(-1100.0, 900.0, 40.0), [300.0, 400.0, 450.0, 500.0], heater=t.heater,
        magnet=t.magnet, sample_rotation=t.sample_rotation, angles=(0.0, 180.0), power_meter=t.power_meter,
        repeats=2))
    sample = get_sample("YIG(3um)|Pt(5.5)")
    assert series.kind == "temperature" and series.x.tolist() == [300.0, 400.0, 450.0, 500.0]
    assert _within(series.fit, "T_C_K", sample.curie_K), series.fit.params
    assert _within(series.fit, "alpha", sample.alpha), series.fit.params
    assert series.fit.p_value > 1e-3
    assert any(line.startswith("series temperature: T_C_K=") for line in series_lines(series))


def test_a_field_loop_gives_the_coercive_field_and_the_sign_change(tmp_path):
    t = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=5)
    series = _run(tmp_path, t, field_loop(t.lockin, t.stage, t.magnet, [100.0], max_field_mT=6.0, step_mT=0.5))
    sample = get_sample("CoFeB(5)|Pt(3)")
    assert set(series.branch.tolist()) == {"down", "up"}
    assert np.sign(series.y.max()) != np.sign(series.y.min())  # the loop reverses the signal
    assert _within(series.fit, "coercive_mT", sample.coercive_mT)
    assert series.stderr is None and "errors from the scatter about the fit" in series_lines(series)[1]


def test_a_qwp_sweep_separates_the_helicity_term(tmp_path):
    t = sim_profile("Bi(100)|Co(5)", fast=True, seed=6)
    series = _run(tmp_path, t, qwp_sweep(t.lockin, t.stage, t.pump_qwp, [15.0], list(np.arange(0.0, 180.0, 10.0))))
    sample = get_sample("Bi(100)|Co(5)")
    l1, l2 = sample.linear_qwp
    p = series.fit.params

    def ratio(a, b):  # sin 2φ, sin 4φ and cos 4φ are orthogonal over the sweep: their errors are independent
        r = p[a]["value"] / p[b]["value"]
        return r, abs(r) * np.hypot(p[a]["stderr"] / p[a]["value"], p[b]["stderr"] / p[b]["value"])

    for (a, b), truth in ((("C", "L1"), sample.helicity_amplitude / l1), (("L2", "L1"), l2 / l1)):
        r, err = ratio(a, b)
        # the errors come from the scatter about the fit: z follows Student's t with the fit's dof (rms z over 20
        # seeds 1.11 for C/L1, 1.22 for L2/L1, against 1.08 for t with 14 dof); 99.9 % two-sided
        assert abs(r - truth) < student_t.ppf(0.9995, series.fit.dof) * err, (a, b, r, err, truth)


@pytest.fixture(scope="module")
def fluence(tmp_path_factory):
    t = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=7)
    return _run(tmp_path_factory.mktemp("fluence"), t, fluence_series(
        t.lockin, t.stage, np.arange(-1100.0, 900.0, 40.0), [0.05, 0.1, 0.15, 0.2], attenuator=t.attenuator,
        magnet=t.magnet, power_meter=t.power_meter, repeats=2))


def test_a_fluence_series_is_proportional_to_the_fluence(fluence):
    fit = fluence.fit
    assert fit.value("slope") > 0 and "linearity" in fit.extra
    # the truth: the noise-free M-odd waveform's peak per mJ/cm² (the amplitude is the model's peak)
    table = sim_profile("CoFeB(5)|Pt(3)", fast=True, noise=Noise.off()).sim
    delays, parts = np.arange(-500.0, 1500.0, 0.5), []
    for sign in (1, -1):
        table.set_field(50.0 * sign)
        table.set_field(0.0)
        parts.append(table.waveform(delays))
    truth = np.max(np.abs(parts[0] - parts[1]) / 2) / table.fluence_mJcm2
    assert _within(fit, "slope", truth), (fit.params["slope"], truth)
    assert fluence.y / fluence.x == pytest.approx(np.full(4, fit.value("slope")), rel=0.03)
    assert any(line.startswith("series fluence: linearity p = ") for line in series_lines(fluence))


def test_a_fluence_series_points_scatter_as_their_errors_say(fluence):
    assert fluence.fit.redchi < 3.0 and fluence.fit.extra["linearity"]["linear"]


def test_export_series_and_fit_series_reproduce_the_stored_series_fit(tmp_path, capsys):
    import json

    from femtospin.acquisition import main
    from femtospin.acquisition.storage._catalog import Target, stop_service

    t = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=9)
    data = tmp_path / "data"
    session = Session(t, data, live=True, catalog="embedded")
    (uid,) = session.run(field_loop(t.lockin, t.stage, t.magnet, [100.0], max_field_mT=5.0, step_mT=0.5))
    assert session.live.wait(60)
    stored = session.live.state.series.fit
    try:
        d = ["--data-dir", str(data), "--catalog", "embedded"]
        assert main(["export", uid[:8], "--series", "--out", str(tmp_path / "loop.csv"), *d]) == 0
        assert main(["fit-series", "field", str(tmp_path / "loop.csv"), "--json", str(tmp_path / "fit.json")]) == 0
    finally:
        stop_service(Target(data.resolve()))
    capsys.readouterr()
    again = json.loads((tmp_path / "fit.json").read_text())["fit"]["params"]
    for name, p in stored.params.items():
        assert again[name]["value"] == pytest.approx(p["value"], rel=1e-6)
        assert again[name]["stderr"] == pytest.approx(p["stderr"], rel=1e-6)
