"""Fly scan against step scan on the simulated table (simulated clock).

The same measurement in both modes — CoFeB(5)|Pt(3), ±M, two repeats, delays
−800 … 1500 fs every 10 fs, lock-in τ = 100 ms at 24 dB/oct, the simulator's
noise and 1 % laser drift — analysed the way the live analysis does (sample
stack, pump-power reference, and for fly runs the lock-in filter along the sweep
in the forward model). Table time is the simulated clock from the first message
to the stop document: stage moves, settling, condition changes, sweeps.

``duty_cycle``: the fly run's time spent sweeping over the requested delays
(the lock-in integrating signal that lands in a bin) over its table time.
``speedup``: (T_step · σ_step²) / (T_fly · σ_fly²), the ratio of table times
needed to reach the same τ_es stderr, from the mean stderrs over the seeds. The fly
stderr includes the noise correlation the filter puts between neighbouring bins
(docs/analysis.md §8); without it the fly errors would be ≈ 1.4× too small and the
speedup ≈ 2× too large. The report prints the white-noise bound on it.
``tau_es_shift_sigma``: (τ̄_fly − τ̄_step) / √(σ̄_fly² + σ̄_step²), inverse-variance
means over the seeds: a z-score, so |·| ≤ 1 about two times in three for
unbiased estimates. Every seed's numbers are printed too.
Last line: ``duty_cycle=… speedup=… tau_es_shift_sigma=…``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bluesky import RunEngine

from femtospin import analysis
from femtospin.acquisition import sim_profile
from femtospin.plans import analysis_options, delay_grid, thz_emission

SAMPLE = "CoFeB(5)|Pt(3)"


def measure(mode: str, seed: int) -> dict:
    """One run on a fresh fast table; its table time, τ_es and stderr, and (fly) the sweeping time."""
    t = sim_profile(SAMPLE, fast=True, seed=seed)
    RE = RunEngine({})
    t.attach(RE)
    docs: list = []
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    delays = delay_grid(-800.0, 1500.0, 10.0)
    plan = thz_emission(t.lockin, t.stage, delays, magnet=t.magnet, power_meter=t.power_meter,
                        magnetization=(1, -1), repeats=2, mode=mode, setup=t.setup)
    begin, wall = t.clock.now(), time.perf_counter()
    RE(plan)
    table_s, wall_s = t.clock.now() - begin, time.perf_counter() - wall
    start = docs[0][1]
    primary = {d["uid"] for n, d in docs if n == "descriptor" and d["name"] == "primary"}
    events = [d for n, d in docs if n == "event" and d["descriptor"] in primary]

    def col(key):
        return np.array([e["data"][key] for e in events])

    options = analysis_options({**start, **t.metadata, "sample": {"name": SAMPLE}})
    result = analysis.analyze(col("stage_delay"), col("lockin_x"), {"magnetization": col("magnetization")},
                              repeat=col("repeat"), reference=col("power_meter_power"), **options)
    tau = result.fit.params["tau_es_fs"]
    out = {"table_s": table_s, "wall_s": wall_s, "tau": tau["value"], "stderr": tau["stderr"],
           "redchi": result.fit.redchi, "points": len(events)}
    if mode == "fly":
        fly = start["fly"]
        grid = analysis.fly_grid(delays)
        span = grid[-1] - grid[0] + fly["step_fs"]
        steps = len(events) // len(grid)  # round trips, each two sweeps over the span
        out["integrating_s"] = steps * 2 * span / fly["rate_fs_s"]
        out["fly"] = fly
    return out


def pooled(results: list[dict]) -> tuple[float, float]:
    w = np.array([1 / r["stderr"] ** 2 for r in results])
    v = np.array([r["tau"] for r in results])
    return float(np.sum(w * v) / np.sum(w)), float(1 / np.sqrt(np.sum(w)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="noise seeds, 1 … N (default 4)")
    args = parser.parse_args()
    step, fly = [], []
    print(f"{SAMPLE}, ±M × 2 repeats, −800 … 1500 fs every 10 fs, τ = 100 ms, 24 dB/oct; truth τ_es = 104 fs")
    print(f"{'seed':>4} {'mode':>4} {'table s':>8} {'wall s':>6} {'τ_es fs':>8} {'±':>6} {'redchi':>6}")
    for seed in range(1, args.seeds + 1):
        for mode, store in (("step", step), ("fly", fly)):
            r = measure(mode, seed)
            store.append(r)
            print(f"{seed:>4} {mode:>4} {r['table_s']:8.0f} {r['wall_s']:6.1f} {r['tau']:8.2f} {r['stderr']:6.3f} "
                  f"{r['redchi']:6.2f}")
    t_step, t_fly = np.mean([r["table_s"] for r in step]), np.mean([r["table_s"] for r in fly])
    s_step = np.sqrt(np.mean([r["stderr"] ** 2 for r in step]))
    s_fly = np.sqrt(np.mean([r["stderr"] ** 2 for r in fly]))
    duty = float(np.mean([r["integrating_s"] / r["table_s"] for r in fly]))
    speedup = float(t_step * s_step**2 / (t_fly * s_fly**2))
    (m_step, e_step), (m_fly, e_fly) = pooled(step), pooled(fly)
    shift = (m_fly - m_step) / np.hypot(e_step, e_fly)
    f = fly[0]["fly"]
    print()
    print(f"fly: {f['rate_fs_s']:.1f} fs/s ({f['velocity_mm_s'] * 1e3:.2f} µm/s), "
          f"buffer at {f['sample_rate_hz']:g} Hz, run-up {f['run_up_fs']:.0f} fs, "
          f"filter along the sweep ℓ = {f['filter']['lag_fs']:.2f} fs × {f['filter']['order']} stages, "
          f"{f['step_fs']:g} fs bins, up + down averaged")
    print(f"table time per run: step {t_step:.0f} s, fly {t_fly:.0f} s; fly spends {duty:.1%} of it sweeping "
          f"over the delays")
    print(f"τ_es stderr per run: step {s_step:.3f} fs, fly {s_fly:.3f} fs → table time for equal stderr: "
          f"{speedup:.2f}× less in fly mode")
    print(f"pooled τ_es: step {m_step:.2f} ± {e_step:.2f} fs, fly {m_fly:.2f} ± {e_fly:.2f} fs → shift "
          f"{shift:+.2f} σ")
    per_reading = t_step / step[0]["points"]
    averaged = 1 / (2 * analysis.noise_bandwidth(0.1, 24))
    print(f"bound with white noise: a 24 dB/oct reading averages the input over 1/(2·ENBW) = {averaged:.2f} s "
          f"of the {per_reading:.2f} s the step run spends on it, so fly mode can gain at most "
          f"{per_reading / averaged:.2f} × {duty:.2f} = {per_reading / averaged * duty:.2f}× from its duty cycle; "
          f"the rest comes from the pump power read 20×/s during the sweeps (its noise averages down)")
    print(f"duty_cycle={duty:.3f} speedup={speedup:.2f} tau_es_shift_sigma={shift:.2f}")


if __name__ == "__main__":
    main()
