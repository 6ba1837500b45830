"""Adaptive delay sampling: a coarse sweep, then batches of delays chosen by the fit of what was measured.

The user's delays are the candidates (their range and finest step). Each slow
condition value (temperature, spot, fluence) is designed on its own:

1. two coarse sweeps over about :data:`COARSE_POINTS` of the delays (spread as the
   user's grid is, so a grid fine near time zero stays fine there): the analysis
   gets its noise from their scatter, and the coarse grid is the coverage floor
   that keeps the deconvolved j_s defined everywhere it is shown;
2. the points so far are analysed as the live analysis would
   (:func:`femtospin.analysis.analyze` with the run's sample, detection and pump);
3. a batch of delays is chosen (:func:`femtospin.analysis.choose_batch`): the most
   information about the target parameter (c-optimal; D-optimal without a target)
   per second of table time, plus an exploration share; a poor fit
   (:func:`femtospin.analysis.fit_is_poor`) gets a space-filling batch instead;
4. the batch is measured over every fast condition, as one more sweep (``repeat``);
   then 2. again, until the target's stderr reaches the target or the table time
   budget is spent.

Every chosen delay is recorded in the run's ``design`` stream with its expected
information, its cost, its reason and the fit it came from, and a last ``design``
event says why the design stopped; the final fit is the ordinary analysis of all
points.
"""

from __future__ import annotations

import json
from itertools import product

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
from ophyd import Kind, Signal

from femtospin import analysis

from ._analysis import analysis_options, fitted_parameters, group_options
from ._measure import PER_POINT_OVERHEAD_S, estimate_s, run_steps, unique_devices
from ._steps import Measurement, lockin_settle_s, make_safe
from ._validate import PlanArgumentError, check_baseline, check_positive

SAMPLINGS = ("grid", "adaptive")
COARSE_POINTS = 32
COARSE_SWEEPS = 2  # the fewest that measure the noise from their scatter
MIN_BATCH = 4
MIN_NOISE_DOF = 100  # a stderr is a target reached only once the noise it rests on is measured this well
DEFAULT_PASSES = 8  # without a budget: at most the table time of this many passes over the given delays
SYMMETRY = ("magnetization", "angle_deg", "helicity")  # the conditions the fitted component is formed from
STREAM = "design"


def check_target(target, budget_s, batch, n_delays: int, setup: dict | None, free) -> tuple[str | None, float | None]:
    """The target parameter and stderr, checked against the model the run's analysis will fit."""
    if target is None and budget_s is None:
        raise PlanArgumentError("sampling adaptive: give a target stderr (e.g. target tau_es_fs=0.5) or a table "
                                "time budget (budget_s), or both")
    if budget_s is not None:
        check_positive("budget_s", budget_s, 48 * 3600.0, "s")
    if not (isinstance(batch, int) and MIN_BATCH <= batch <= n_delays):
        raise PlanArgumentError(f"batch: {batch!r} delays per batch; must be a whole number in "
                                f"[{MIN_BATCH}, {n_delays}] (the number of delays given)")
    model, fitted = fitted_parameters(setup, free)
    if target is None:
        return None, None
    if not isinstance(target, dict) or len(target) != 1:
        raise PlanArgumentError(f"target: {target!r}; give one parameter and its stderr, e.g. tau_es_fs=0.5")
    (name, value), = target.items()
    if name not in fitted:
        raise PlanArgumentError(f"target: {name!r} is not fitted by the {model} model of this sample; "
                                f"fitted: {', '.join(fitted)}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise PlanArgumentError(f"target: {name}={value!r}; the stderr must be finite and > 0")
    return name, value


def coarse_indices(n: int) -> np.ndarray:
    """About COARSE_POINTS of n delays, evenly by index (so denser where the given grid is), ends included."""
    return np.unique(np.round(np.linspace(0, n - 1, min(n, COARSE_POINTS))).astype(int))


def adaptive_measure(lockin, stage, delays: np.ndarray, dims, fast, interleave: str, order: str, *,
                     target: dict | None, budget_s: float | None, batch: int, clock, setup: dict | None,
                     plan_name: str, plan_args: dict, power_meter=None, magnet=None, heater=None, readables=(),
                     md: dict | None = None) -> Measurement:
    """One run of adaptive delay sampling over the dimensions ``dims`` (see the module docstring).

    Fast dimensions must be symmetry conditions (magnetization, angle, helicity): the
    fitted component is formed from them. The slow ones are outer loops, each with
    an equal share of the budget.
    """
    n = len(delays)
    if n < 2 * analysis.MIN_DELAYS:
        raise PlanArgumentError(f"delays: {n} given; adaptive sampling chooses among at least "
                                f"{2 * analysis.MIN_DELAYS}")
    quick = [d for d in dims if d.name in fast]
    slow = [d for d in dims if d.name not in fast]
    odd = [d.name for d in quick if d.name not in SYMMETRY]
    if odd:
        raise PlanArgumentError(f"sampling adaptive: {', '.join(odd)} cannot be a fast condition; the design fits "
                                f"the component formed from {', '.join(SYMMETRY)}")
    coarse = coarse_indices(n)
    check_baseline("delays", delays[coarse], setup, sweeps=COARSE_SWEEPS)
    target_name, target_value = check_target(target, budget_s, batch, n, setup, plan_args.get("free"))
    start = {**(setup or {}), "plan_args": plan_args}  # what the run's start document will say: fitted as live
    options = analysis_options(start) or {}
    combos = [dict(zip([d.name for d in quick], v)) for v in product(*[d.values for d in quick])]
    outers = [dict(zip([d.name for d in slow], v)) for v in product(*[d.values for d in slow])]
    by_name = {d.name: d for d in dims}
    settle = lockin_settle_s(lockin)
    one_pass = estimate_s([({**o, **c}, list(range(n))) for o in outers for c in combos], by_name, delays, settle,
                          stage)
    budget = float(budget_s) if budget_s is not None else DEFAULT_PASSES * one_pass
    per_reading = settle + PER_POINT_OVERHEAD_S
    fs_per_s = float(stage.fs_per_mm.get()) * (float(stage.velocity_mm_s.get())
                                               if hasattr(stage, "velocity_mm_s") else 10.0)
    conditions = [d.name for d in slow] + ["repeat"] + [d.name for d in quick]
    signals = {name: Signal(name=name, value=0, kind=Kind.hinted) for name in conditions}
    design = _design_signals()
    devices = unique_devices([stage, lockin, *([power_meter] if power_meter is not None else []),
                       *(dev for d in dims for dev in d.devices), *readables])
    detectors = [*devices, *signals.values()]
    max_points = int(budget / per_reading) + COARSE_SWEEPS * len(coarse) * len(combos) * len(outers)
    _md = {
        "plan_name": plan_name, "plan_args": plan_args, "num_points": max_points, "conditions": conditions,
        "condition_values": {"repeat": ["one per sweep: 0, 1 coarse, then one per batch"],
                             **{d.name: list(d.values) for d in dims}},
        "settle_s": settle, "estimated_duration_s": budget,
        "sampling": {"mode": "adaptive", "target": target, "budget_s": budget,
                     "budget_source": "given" if budget_s is not None else f"{DEFAULT_PASSES} passes over the delays",
                     "batch": batch, "coarse_delays": delays[coarse].tolist(), "coarse_sweeps": COARSE_SWEEPS,
                     "explore_fraction": analysis.EXPLORE_FRACTION, "stream": STREAM},
        "hints": {"dimensions": [([stage.delay.name], "primary")]},
        **(md or {}),
    }
    fields = {"delay": stage.delay.name, "signal": lockin.x.name,
              "overload": getattr(getattr(lockin, "overload", None), "name", None),
              "power": power_meter.power.name if power_meter is not None else None}
    outcome: list[str] = []

    def measure_batch(outer, b, indices, current, rows):
        """One sweep (``repeat`` = b) over ``indices`` for every fast combination; rows appended."""
        ordered = sorted(indices, reverse=bool(b % 2))  # alternate the direction: less travel
        flip = order == "abba" and b % 2
        visit = combos[::-1] if flip else combos
        steps = ([({**outer, "repeat": b, **c}, ordered) for c in visit] if interleave == "scan" else
                 [({**outer, "repeat": b, **c}, [i]) for i in ordered for c in visit])
        yield from run_steps(steps, current, conditions, by_name, signals, stage, delays, settle, detectors,
                             power_meter, lambda reading, conds: rows.append(_row(reading, fields, conds)))

    def record(picks, b, reason_fit, fit_info, elapsed, stop=""):
        for p in picks:
            yield from _emit(design, {"design_batch": b, "design_delay_fs": p.delay_fs,
                                      "design_information": p.information, "design_cost_s": p.cost_s,
                                      "design_reason": p.reason, "design_fit": fit_info,
                                      "design_why": reason_fit, "design_table_s": elapsed, "design_stop": stop})

    index = {float(d): i for i, d in enumerate(delays)}

    def design_outer(outer, current):
        begin = clock.now()
        fit_options = group_options(start, outer, options)  # on a substrate of several samples, the one here
        share = budget / len(outers)
        rows: list[dict] = []
        measured: list[float] = []
        label = ", ".join(f"{k} {v:g}" for k, v in outer.items()) if outer else ""
        cost = per_reading * len(combos)
        for b in range(COARSE_SWEEPS):
            picks = [analysis.Pick(float(delays[i]), 0.0, cost, "coarse") for i in coarse]
            yield from record(picks, b, "coarse sweep: coverage floor and noise from the scatter", "", 0.0)
            yield from measure_batch(outer, b, list(coarse), current, rows)
            measured.extend(float(delays[i]) for i in coarse)
        b = COARSE_SWEEPS
        while True:
            elapsed = clock.now() - begin
            result, error = _fit(rows, fit_options)
            fit_info = _fit_summary(result, error, target_name)
            poor = analysis.fit_is_poor(result, target_name) if error is None else error
            err = _stderr(result, target_name) if target_name is not None else float("nan")
            within = poor is None and np.isfinite(err) and err <= target_value
            if within and result.noise.dof >= MIN_NOISE_DOF:
                stop = (f"target reached: {target_name} = {result.fit.value(target_name):.4g} ± {err:.3g} "
                        f"≤ {target_value:g} after {elapsed:.0f} s of table time")
                break
            left = share - elapsed
            size = min(batch, int(left // (cost + 1e-9)))
            if size < MIN_BATCH:
                stop = f"time budget spent: {elapsed:.0f} s of {share:.0f} s" + (
                    f"; {target_name} ± {_stderr(result, target_name):.3g}, target {target_value:g}"
                    if target_name else "")
                break
            if poor is None:
                sens = analysis.sensitivity(result, delays, detector=fit_options.get("detector"),
                                            transfer=fit_options.get("transfer"),
                                            probe_fwhm_fs=fit_options.get("probe_fwhm_fs", 20.0))
                picks = analysis.choose_batch(delays, np.asarray(measured), sens, cost, size, target=target_name,
                                              travel_s_per_fs=len(combos) / fs_per_s,
                                              start_fs=measured[-1] if measured else None)
                why = f"fit of {len(rows)} readings" + (
                    f"; {target_name} ± {err:.3g} is within the target, but its noise is measured with "
                    f"{result.noise.dof:.0f} degrees of freedom of the {MIN_NOISE_DOF} a stop needs" if within else "")
            else:
                k = analysis.space_filling(delays, np.asarray(measured), size)
                picks = [analysis.Pick(float(delays[i]), 0.0, cost, "space-filling") for i in k]
                why = f"poor fit ({poor}): space-filling batch"
            yield from record(picks, b, why, fit_info, elapsed)
            yield from measure_batch(outer, b, [index[p.delay_fs] for p in picks], current, rows)
            measured.extend(p.delay_fs for p in picks)
            b += 1
        yield from record([analysis.Pick(float("nan"), 0.0, 0.0, "stop")], b, stop, fit_info, elapsed, stop)
        outcome.append(f"adaptive{' (' + label + ')' if label else ''}: {stop}; {len(rows)} readings in {b} "
                       f"sweeps")

    @bpp.run_decorator(md=_md)
    @bpp.finalize_decorator(lambda: make_safe(stage, magnet, heater))
    def run():
        current: dict = {}
        for outer in outers:
            yield from design_outer(outer, current)

    return Measurement(run(), _md, budget, outcome)


def _design_signals() -> dict[str, Signal]:
    names = {"design_batch": 0, "design_delay_fs": 0.0, "design_information": 0.0, "design_cost_s": 0.0,
             "design_reason": "", "design_fit": "", "design_why": "", "design_table_s": 0.0, "design_stop": ""}
    return {k: Signal(name=k, value=v, kind=Kind.hinted) for k, v in names.items()}


def _emit(signals: dict[str, Signal], values: dict):
    for k, v in values.items():
        signals[k].put(v)
    yield from bps.trigger_and_read(list(signals.values()), name=STREAM)


def _row(reading: dict, fields: dict, conds: dict) -> dict:
    row = {k: reading[f]["value"] for k, f in fields.items() if f is not None and f in reading}
    row.update({k: v for k, v in conds.items() if k in SYMMETRY or k == "repeat"})
    return row


def _fit(rows: list[dict], options: dict):
    """The ordinary analysis of the rows so far, or the reason it could not be made."""
    d = np.array([r["delay"] for r in rows], float)
    conds = {k: np.array([r[k] for r in rows], float) for k in SYMMETRY if k in rows[0]}
    try:
        result = analysis.analyze(d, np.array([r["signal"] for r in rows], float), conds or None,
                                  repeat=np.array([r["repeat"] for r in rows]),
                                  overload=np.array([bool(r["overload"]) for r in rows]) if "overload" in rows[0]
                                  else None,
                                  reference=np.array([r["power"] for r in rows], float) if "power" in rows[0]
                                  else None, **options)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return None, f"no fit: {exc}"
    return result, None


def _stderr(result, name: str) -> float:
    return float("nan") if result is None or result.fit is None else result.fit.stderr(name)


def _fit_summary(result, error: str | None, target: str | None) -> str:
    """The fit a batch was chosen from, as JSON: model, component, parameters with errors, goodness of fit."""
    if result is None or result.fit is None:
        return json.dumps({"error": error or "no fit"})
    fit = result.fit
    return json.dumps(analysis.json_safe({
        "model": fit.model, "component": result.component, "target": target, "redchi": fit.redchi,
        "p_value": fit.p_value, "noise": result.noise.method,
        "params": {k: [v["value"], v["stderr"]] for k, v in fit.params.items() if v["vary"]}}))


__all__ = ["SAMPLINGS", "STREAM", "adaptive_measure", "check_target", "coarse_indices"]
