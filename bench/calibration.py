"""Calibration of the stated uncertainties over repeated simulated measurements with the laser drift on.

Runs N seeded CoFeB(5)|Pt(3) measurements on the simulated table (±M, 3 sweeps over
a fine-near-t0 grid, the simulator's noise and 1 % 1/f laser drift), analyses each
as the live analysis does (pump-power reference, sample from the materials table),
and prints std(estimate)/mean(stated stderr) for τ_es (τ_ep fixed and fitted) and
the amplitude — 1 is honest — with and without the pump-power reference, and the
mean redchi. Writes a figure of the pulls. Last line:
``tau_ratio=… tau_free_ratio=… amplitude_ratio=… amplitude_ratio_no_reference=… redchi=…``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from analysis.test_accuracy import fine_grid, measure, run  # noqa: E402  (the tests' simulated measurement)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--figure", default="calibration.png")
    args = parser.parse_args()
    delays = fine_grid(-800.0, 1600.0, 20.0, (-200.0, 400.0, 10.0))
    conds = {"magnetization": [1, -1]}
    est = {k: [] for k in ("tau", "tau_free", "amplitude", "amplitude_no_reference")}
    redchi = []
    for seed in range(args.runs):
        rows = measure(seed=5000 + seed, conditions=conds, delays=delays)
        fixed = run(rows, conds, sample="CoFeB(5)|Pt(3)", reference_level=0.5)
        free = run(rows, conds, sample="CoFeB(5)|Pt(3)", reference_level=0.5, free=("tau_ep_fs",))
        bare = run(dict(rows, power=None), conds, sample="CoFeB(5)|Pt(3)")
        est["tau"].append((fixed.fit.value("tau_es_fs"), fixed.fit.stderr("tau_es_fs")))
        est["tau_free"].append((free.fit.value("tau_es_fs"), free.fit.stderr("tau_es_fs")))
        est["amplitude"].append((fixed.fit.value("amplitude"), fixed.fit.stderr("amplitude")))
        est["amplitude_no_reference"].append((bare.fit.value("amplitude"), bare.fit.stderr("amplitude")))
        redchi.append(fixed.fit.redchi)
    ratios = {}
    print(f"{args.runs} simulated runs of CoFeB(5)|Pt(3), ±M × 3 sweeps, 1 % laser drift")
    for name, values in est.items():
        v = np.array(values)
        ratios[name] = np.std(v[:, 0], ddof=1) / np.mean(v[:, 1])
        print(f"  {name:24s} mean {v[:, 0].mean():.5g}  std {np.std(v[:, 0], ddof=1):.3g}  "
              f"mean stderr {np.mean(v[:, 1]):.3g}  ratio {ratios[name]:.3f}")
    print(f"  redchi mean {np.mean(redchi):.3f} ± {np.std(redchi, ddof=1):.3f}")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.4), constrained_layout=True)
    for ax, name in zip(fig.subplots(1, 4), est):
        v = np.array(est[name])
        pulls = (v[:, 0] - v[:, 0].mean()) / v[:, 1]
        ax.hist(pulls, bins=20, range=(-5, 5), density=True, color="0.6")
        x = np.linspace(-5, 5, 200)
        ax.plot(x, np.exp(-x**2 / 2) / np.sqrt(2 * np.pi), "k-", lw=1)
        ax.set_title(f"{name.replace('_', ' ')}\nstd/stderr {ratios[name]:.2f}", fontsize=9)
        ax.set_xlabel("(estimate − mean) / stated stderr", fontsize=8)
    fig.savefig(args.figure, dpi=100)
    print(f"figure: {args.figure}")
    print(" ".join(f"{k}_ratio={v:.3f}" for k, v in ratios.items()) + f" redchi={np.mean(redchi):.3f}")


if __name__ == "__main__":
    main()
