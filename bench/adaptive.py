"""Adaptive delay sampling against a uniform grid and python-adaptive's Learner1D (simulated clock).

For each of N sampled samples — a CoFeB|Pt-like F|N stack with τ_es drawn in
[60, 200] fs, τ_ep in [200, 1000] fs and every signal amplitude scaled by
10^U(−2, 0) (the SNR; the noise stays the table's) — on a fresh fast simulated
table, ±M, lock-in τ = 100 ms at 24 dB/oct, delays −800 … 1500 fs every 10 fs, and
the fit freeing τ_ep (``free tau_ep_fs``):

* **uniform**: the grid measured in two passes (``repeats 2``), analysed as the live
  analysis does; its τ_es stderr σ₂ sets the target σ* = σ₂/2, which the uniform grid
  reaches in 4× its table time (stderr ∝ 1/√passes);
* **adaptive**: ``thz_emission(sampling="adaptive", target={"tau_es_fs": σ*})`` on a
  fresh table with another seed: its table time to the target, its τ_es and stderr;
* **Learner1D**: the same two coarse sweeps, then batches of 24 delays asked from
  python-adaptive's ``Learner1D`` (its default loss) fed with the odd-in-M signal,
  measured ±M like the adaptive batches, for the adaptive run's table time; its τ_es
  stderr at that time, converted to the time it would need for σ*.

Table time is the simulated clock from the first message to the stop document:
settling, stage travel, field reversals. ``time_ratio``: the median over the samples
of (uniform time to σ*) / (adaptive time to σ*). ``z_rms``: the rms of
(τ_es − truth)/stderr of the adaptive fits — 1 if their stated stderr is honest.
``learner_ratio``: the same median for Learner1D.
Last line: ``time_ratio=… z_rms=… learner_ratio=…``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
from bluesky import RunEngine
from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp

from femtospin import analysis
from femtospin.acquisition import sim_profile
from femtospin.devices import plan_devices
from femtospin.plans import analysis_options, delay_grid, lockin_settle_s, read_at, set_magnetization, thz_emission
from femtospin.sim_devices import get_sample

# this script is named like python-adaptive: its own folder must not shadow the package
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

STACK = "CoFeB(5)|Pt(3)"
DELAYS = delay_grid(-800.0, 1500.0, 10.0)
FREE = ("tau_ep_fs",)
AMPLITUDES = ("js_amplitude", "demag_amplitude", "asymmetry_amplitude", "helicity_amplitude", "nernst_per_mT",
              "background", "reflectance_V")


def sampled(rng: np.random.Generator):
    base = get_sample(STACK)
    scale = 10 ** rng.uniform(-2.0, 0.0)
    return dataclasses.replace(base, tau_es_fs=float(rng.uniform(60, 200)), tau_ep_fs=float(rng.uniform(200, 1000)),
                               **{k: getattr(base, k) * scale for k in AMPLITUDES}), scale


def table_for(sample, seed: int):
    t = sim_profile(sample, fast=True, seed=seed)
    RE = RunEngine({})
    t.attach(RE)
    docs: list = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    return t, RE, docs


def primary(docs) -> dict[str, np.ndarray]:
    names = {d["uid"] for n, d in docs if n == "descriptor" and d["name"] == "primary"}
    events = [d for n, d in docs if n == "event" and d["descriptor"] in names]
    return {k: np.array([e["data"][k] for e in events]) for k in events[0]["data"]}


def fit(rows: dict, start: dict) -> analysis.AnalysisResult:
    options = analysis_options(start)
    options["free"] = FREE
    repeat = rows["repeat"] if "repeat" in rows else None
    return analysis.analyze(rows["stage_delay"], rows["lockin_x"], {"magnetization": rows["magnetization"]},
                            repeat=repeat, reference=rows["power_meter_power"], **options)


def uniform(sample, seed: int) -> dict:
    t, RE, docs = table_for(sample, seed)
    begin = t.clock.now()
    RE(thz_emission(**plan_devices(t, thz_emission), delays=DELAYS, magnetization=(1, -1), repeats=2,
                    free=FREE))
    result = fit(primary(docs), {**docs[0][1], **t.metadata})
    return {"table_s": t.clock.now() - begin, "tau": result.fit.value("tau_es_fs"),
            "stderr": result.fit.stderr("tau_es_fs")}


def adaptive_run(sample, seed: int, target: float) -> dict:
    t, RE, docs = table_for(sample, seed)
    plan = thz_emission(**plan_devices(t, thz_emission), delays=DELAYS, magnetization=(1, -1),
                        sampling="adaptive", target={"tau_es_fs": target}, free=FREE)
    begin = t.clock.now()
    RE(plan)
    table_s = t.clock.now() - begin
    rows = primary(docs)
    result = fit(rows, {**docs[0][1], **t.metadata})
    return {"table_s": table_s, "tau": result.fit.value("tau_es_fs"), "stderr": result.fit.stderr("tau_es_fs"),
            "readings": rows["lockin_x"].size, "outcome": plan.outcome[-1], "redchi": result.fit.redchi}


def learner_run(sample, seed: int, budget_s: float, batch: int = 24) -> dict:
    """Learner1D on the odd-in-M signal: the adaptive plan's coarse sweeps, then its batches, ±M each."""
    import adaptive

    t, RE, docs = table_for(sample, seed)
    settle = lockin_settle_s(t.lockin)
    lo, hi = float(DELAYS[0]), float(DELAYS[-1])
    learner = adaptive.Learner1D(None, bounds=(lo, hi))
    rows: list = []
    detectors = [t.stage, t.lockin, t.power_meter]

    def sweep(delays, repeat):
        found = {}
        for sign in (1, -1):
            yield from set_magnetization(t.magnet, sign, 50.0)
            for d in delays:
                reading = yield from read_at(t.stage, d, settle, detectors, t.power_meter)
                rows.append((reading["stage_delay"]["value"], reading["lockin_x"]["value"], sign, repeat,
                             reading["power_meter_power"]["value"]))
                found.setdefault(d, []).append(sign * reading["lockin_x"]["value"] / 2)
        return {d: sum(v) for d, v in found.items()}

    @bpp.run_decorator(md={"plan_name": "learner1d"})
    @bpp.finalize_decorator(lambda: bps.mv(t.magnet, 0.0))
    def plan():
        begin = t.clock.now()
        coarse = DELAYS[np.unique(np.round(np.linspace(0, DELAYS.size - 1, 32)).astype(int))]
        for r in range(2):
            values = yield from sweep(coarse, r)
        learner.tell_many(list(values), list(values.values()))
        r = 2
        while t.clock.now() - begin < budget_s:
            points, _ = learner.ask(batch)
            values = yield from sweep(sorted(points), r)
            learner.tell_many(list(values), list(values.values()))
            r += 1

    begin = t.clock.now()
    RE(plan())
    d, x, m, rep, power = (np.array(c) for c in zip(*rows))
    start = {**t.metadata}
    options = analysis_options(start)
    options["free"] = FREE
    result = analysis.analyze(d, x, {"magnetization": m}, repeat=rep, reference=power, **options)
    return {"table_s": t.clock.now() - begin, "tau": result.fit.value("tau_es_fs"),
            "stderr": result.fit.stderr("tau_es_fs")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="sampled samples (default 20; at least 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sample draws")
    parser.add_argument("--no-learner", action="store_true", help="skip the python-adaptive comparison")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{STACK}-like samples, ±M, delays −800 … 1500 fs every 10 fs, τ = 100 ms, 24 dB/oct, τ_ep fitted")
    print(f"{'#':>3} {'τ_es':>6} {'τ_ep':>6} {'scale':>6} {'σ* fs':>7} {'T_unif s':>9} {'T_adapt s':>9} {'ratio':>6} "
          f"{'τ_es fit':>9} {'z':>6} {'T_L1D s':>8} {'L ratio':>7} {'wall s':>6}")
    ratios, zs, learner_ratios = [], [], []
    for i in range(args.samples):
        wall = time.perf_counter()
        sample, scale = sampled(rng)
        u = uniform(sample, seed=1000 + i)
        target = u["stderr"] / 2
        t_uniform = 4 * u["table_s"]
        a = adaptive_run(sample, seed=2000 + i, target=target)
        ratio = t_uniform / a["table_s"]
        z = (a["tau"] - sample.tau_es_fs) / a["stderr"]
        ratios.append(ratio)
        zs.append(z)
        learner_txt = ""
        if not args.no_learner:
            lr = learner_run(sample, seed=3000 + i, budget_s=a["table_s"])
            t_learner = lr["table_s"] * (lr["stderr"] / target) ** 2
            learner_ratios.append(t_uniform / t_learner)
            learner_txt = f"{t_learner:8.0f} {t_uniform / t_learner:7.2f}"
        print(f"{i:>3} {sample.tau_es_fs:6.1f} {sample.tau_ep_fs:6.0f} {scale:6.3f} {target:7.3f} {t_uniform:9.0f} "
              f"{a['table_s']:9.0f} {ratio:6.2f} {a['tau']:9.2f} {z:6.2f} {learner_txt} "
              f"{time.perf_counter() - wall:6.1f}")
        if "target reached" not in a["outcome"]:
            print(f"    adaptive: {a['outcome']}")
    time_ratio = float(np.median(ratios))
    z_rms = float(np.sqrt(np.mean(np.square(zs))))
    print()
    print(f"uniform over adaptive, table time to the same τ_es stderr: median {time_ratio:.2f} "
          f"(quartiles {np.percentile(ratios, 25):.2f} … {np.percentile(ratios, 75):.2f})")
    print(f"adaptive fits: rms of (τ_es − truth)/stderr = {z_rms:.2f} over {len(zs)} samples "
          f"(1 if honest; a χ²-spread of ±{np.sqrt(1 / (2 * len(zs))):.2f} from the sample count alone)")
    learner_ratio = float(np.median(learner_ratios)) if learner_ratios else float("nan")
    if learner_ratios:
        print(f"python-adaptive Learner1D (default loss, same coarse start and batches, the adaptive run's table "
              f"time): uniform over Learner1D {learner_ratio:.2f} (median)")
    print(f"time_ratio={time_ratio:.2f} z_rms={z_rms:.2f} learner_ratio={learner_ratio:.2f}")


if __name__ == "__main__":
    main()
