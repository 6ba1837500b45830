"""Adaptive delay sampling on the simulated table: it stops where it says, records why it chose each delay,
does not trust a wrong model, refuses what it cannot do before anything moves, and leaves the table safe."""

import json

import numpy as np
import pytest
from bluesky.utils import RunEngineInterrupted

from femtospin import analysis
from femtospin.acquisition import load_run, sim_profile
from femtospin.devices import plan_devices, sample_block
from femtospin.plans import PlanArgumentError, analysis_options, thz_emission

from .test_exits import _assert_safe, _pause_after

DELAYS = np.arange(-800.0, 1500.0 + 1e-9, 10.0)
TRUTH_TAU_ES = 104.0  # CoFeB(5)|Pt(3) in the simulator


def _table(sample="CoFeB(5)|Pt(3)", seed=3):
    return sim_profile(sample, fast=True, seed=seed)


def _plan(t, **kwargs):
    kwargs = {"magnetization": (1, -1), "sampling": "adaptive", **kwargs}
    return thz_emission(**plan_devices(t, thz_emission), delays=DELAYS, **kwargs)


def _run(t, session_factory, **kwargs):
    session = session_factory(t)
    plan = _plan(t, **kwargs)
    begin = t.clock.now()
    (uid,) = session.run(plan)
    return plan, load_run(uid, session.data_dir), t.clock.now() - begin


def _final_fit(run, t):
    data = run.table()
    return analysis.analyze(data["stage_delay"], data["lockin_x"], {"magnetization": data["magnetization"]},
                            repeat=data["repeat"], reference=data["power_meter_power"],
                            **analysis_options({**run.start, **t.metadata}))


def test_it_stops_at_the_target_and_records_every_choice(session_factory):
    t = _table()
    plan, run, table_s = _run(t, session_factory, target={"tau_es_fs": 0.15})
    design = run.table("design")
    stop = design["design_reason"] == "stop"
    assert stop.sum() == 1 and stop[-1]
    assert design["design_stop"][-1].startswith("target reached")
    assert plan.outcome == [f"adaptive: {design['design_stop'][-1]}; {run.table()['lockin_x'].size} readings in "
                            f"{design['design_batch'][-1]} sweeps"]
    # every measured delay was chosen, in the batch that measured it, with its reason and the fit behind it
    data = run.table()
    chosen = {(b, d) for b, d in zip(design["design_batch"][~stop], design["design_delay_fs"][~stop])}
    by_batch = {}
    for b, d in chosen:
        by_batch.setdefault(int(b), set()).add(d)
    assert {int(r) for r in np.unique(data["repeat"])} == set(by_batch)
    for b, delays in by_batch.items():
        measured = np.sort(data["stage_delay"][(data["repeat"] == b) & (data["magnetization"] == 1)])
        assert measured.size == len(delays) == np.sum(data["repeat"] == b) / 2  # once per delay and sign of M
        offset = measured - np.sort(list(delays))  # the readback is the delay plus the stage's calibration error
        assert np.ptp(offset) < 1.0
    reasons = set(design["design_reason"][~stop])
    assert {"coarse", "c-optimal", "explore"} <= reasons
    informed = design["design_reason"] == "c-optimal"
    assert np.all(design["design_information"][informed] > 0) and np.all(design["design_cost_s"][~stop] > 0)
    fit = json.loads(design["design_fit"][informed][-1])
    assert fit["target"] == "tau_es_fs"  # the fit it was chosen from, and why it did not stop there
    assert fit["params"]["tau_es_fs"][1] > 0.15 or "degrees of freedom" in design["design_why"][informed][-1]
    # the ordinary analysis of every point states what the plan stopped at, and it is true
    final = _final_fit(run, t)
    assert final.fit.stderr("tau_es_fs") <= 0.15 and final.noise.dof >= 100  # a stderr resting on measured noise
    assert abs(final.fit.value("tau_es_fs") - TRUTH_TAU_ES) < 4 * final.fit.stderr("tau_es_fs")
    assert run.start["sampling"]["mode"] == "adaptive" and run.start["plan_args"]["target"] == {"tau_es_fs": 0.15}
    assert table_s < run.start["estimated_duration_s"]
    _assert_safe(t)


def test_the_design_spends_its_time_where_tau_es_is_learnt(session_factory):
    t = _table()
    _, run, _ = _run(t, session_factory, target={"tau_es_fs": 0.1})
    design = run.table("design")
    informed = design["design_delay_fs"][design["design_reason"] == "c-optimal"]
    # the rise and the first few hundred fs after it, not the baseline or the far tail
    assert np.mean((informed > -100) & (informed < 600)) > 0.9


def test_a_budget_stops_it_and_says_so(session_factory):
    t = _table()
    plan, run, table_s = _run(t, session_factory, target={"tau_es_fs": 0.001}, budget_s=400.0)
    stop = run.table("design")["design_stop"][-1]
    assert stop.startswith("time budget spent") and "target 0.001" in stop
    assert table_s <= 400.0 * 1.05  # a batch is cut to what the budget has left
    assert plan.estimated_s == 400.0


def test_a_wrong_model_gets_space_filling_batches_not_a_design(session_factory):
    t = _table("YIG(3um)|Pt(5.5)")
    t.metadata["sample"] = sample_block("CoFeB(5)|Pt(3)")  # the wrong stack: a spin-voltage fit to an SSE signal
    _, run, _ = _run(t, session_factory, target={"tau_es_fs": 0.5}, budget_s=600.0)
    design = run.table("design")
    batches = design["design_reason"] != "coarse"
    assert set(design["design_reason"][batches]) == {"space-filling", "stop"}
    assert all("does not describe" in w for w in design["design_why"][design["design_reason"] == "space-filling"])
    measured = np.unique(np.round(design["design_delay_fs"][design["design_reason"] == "space-filling"]))
    assert np.ptp(measured) > 0.8 * np.ptp(DELAYS)  # spread over the whole range


def test_slow_conditions_are_designed_one_by_one(session_factory):
    t = _table()
    plan, run, _ = _run(t, session_factory, temperatures=(300.0, 320.0), budget_s=1200.0, batch=12)
    assert len(plan.outcome) == 2 and plan.outcome[0].startswith("adaptive (temperature_K 300)")
    data = run.table()
    for temp in (300.0, 320.0):  # each its share of the budget, its heater ramp included
        assert np.sum(data["temperature_K"] == temp) > 2 * 2 * 32  # the coarse sweeps and some batches each
    _assert_safe(t)


def test_ctrl_c_mid_design_leaves_the_table_safe_and_the_data_readable(session_factory):
    t = _table()
    session = session_factory(t)
    with pytest.raises(RunEngineInterrupted):
        session.run(_pause_after(_plan(t, target={"tau_es_fs": 0.1}), 150))
    _assert_safe(t)
    (path,) = session.data_dir.glob("*.jsonl")
    run = load_run(path.stem, session.data_dir)
    assert run.stop["exit_status"] == "abort" and run.table()["lockin_x"].size >= 50


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give a target stderr"),
    ({"target": {"R": 0.01}}, "'R' is not fitted by the spin-voltage model"),
    ({"target": {"tau_es_fs": -1}}, "must be finite and > 0"),
    ({"target": {"tau_es_fs": 0.5, "t0_fs": 1}}, "give one parameter"),
    ({"target": {"tau_es_fs": 0.5}, "batch": 2}, "batch: 2 delays per batch"),
    ({"target": {"tau_es_fs": 0.5}, "budget_s": 0}, "budget_s"),
    ({"target": {"tau_es_fs": 0.5}, "repeats": 3}, "leave repeats at 1"),
    ({"target": {"tau_es_fs": 0.5}, "mode": "fly"}, "step mode only"),
    ({"target": {"tau_es_fs": 0.5}, "free": ("tau_x",)}, "not parameters of the spin-voltage model"),
    ({"target": {"tau_es_fs": 0.5}, "helicities": (1, -1), "fast": ("helicity", "magnetization"),
      "temperatures": (300,), "spots": ()}, None),
    ({"target": {"tau_es_fs": 0.5}, "sampling": "smart"}, "sampling"),
])
def test_what_it_cannot_do_is_refused_before_anything_moves(kwargs, message):
    t = _table()
    before = t.stage.delay.get()
    if message is None:  # a valid combination: the plan is built, nothing run
        _plan(t, **kwargs)
        return
    with pytest.raises(PlanArgumentError, match=message):
        _plan(t, **kwargs)
    assert t.stage.delay.get() == before and t.sim.field_mT == 0.0


def test_a_target_the_sample_frees_is_accepted():
    t = _table()
    with pytest.raises(PlanArgumentError, match="'tau_ep_fs' is not fitted"):
        _plan(t, target={"tau_ep_fs": 5.0})
    _plan(t, target={"tau_ep_fs": 5.0}, free=("tau_ep_fs",))


def test_freed_parameters_reach_the_live_fit_of_a_grid_run_too():
    t = _table()
    m = thz_emission(**plan_devices(t, thz_emission), delays=DELAYS, magnetization=(1, -1), free=("tau_ep_fs",))
    assert m.md["plan_args"]["free"] == ["tau_ep_fs"]
    assert analysis_options({**m.md, **t.metadata})["free"] == ("tau_ep_fs",)
    plain = thz_emission(**plan_devices(t, thz_emission), delays=DELAYS, magnetization=(1, -1))
    assert "free" not in plain.md["plan_args"] and "free" not in analysis_options({**plain.md, **t.metadata})
    with pytest.raises(PlanArgumentError, match="free: \\['tau_x'\\]"):
        thz_emission(**plan_devices(t, thz_emission), delays=DELAYS, free=("tau_x",))


def test_the_live_report_says_why_the_design_stopped(session_factory):
    from femtospin.acquisition.live._live import report_lines

    t = _table()
    session = session_factory(t, live=True)
    session.run(_plan(t, target={"tau_es_fs": 0.2}))
    assert session.live.wait(60)
    (stop,) = session.live.state.design
    assert stop.startswith("target reached: tau_es_fs")
    assert any(line.startswith("adaptive design: target reached") for line in report_lines(session.live.state))


def test_the_stderr_it_stops_at_rests_on_noise_it_has_measured(session_factory):
    # at high SNR the target is met after one batch, when the noise at the designed delays (the peak) is barely
    # measured: stopping there gave redchi ≈ 1.6 on average and τ_es 5 stated errors off; it stops later now
    z, redchi = [], []
    for seed in range(1, 9):
        t = _table(seed=seed)
        _, run, _ = _run(t, session_factory, target={"tau_es_fs": 0.15})
        fit = _final_fit(run, t).fit
        z.append((fit.value("tau_es_fs") - TRUTH_TAU_ES) / fit.stderr("tau_es_fs"))
        redchi.append(fit.redchi)
    assert 0.7 < np.mean(redchi) < 1.3, redchi
    assert np.max(np.abs(z)) < 3.5, z
