"""``femtospin demo``: CoFeB(5)|Pt(3) at +M and −M on the simulated table, stored and plotted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from femtospin.plans import delay_grid, delay_scan

from ._profiles import sim_profile
from ._session import Session
from ._storage import StoredRun, load_run

DEMO_SAMPLE = "CoFeB(5)|Pt(3)"


@dataclass
class DemoResult:
    uid: str
    run_file: Path
    figure: Path


def magnetization_odd(run: StoredRun, signal: str = "lockin_x", delay: str = "stage_delay"):
    """Waveforms at +M and −M and their odd part [S(+M) − S(−M)]/2 on the +M delays."""
    t = run.table()
    m = t["magnetization"]
    plus, minus = m > 0, m < 0
    d_plus, s_plus = t[delay][plus], t[signal][plus]
    d_minus, s_minus = t[delay][minus], t[signal][minus]
    order = np.argsort(d_minus)
    odd = 0.5 * (s_plus - np.interp(d_plus, d_minus[order], s_minus[order]))
    return (d_plus, s_plus), (d_minus, s_minus), odd


def plot_demo(run: StoredRun, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (dp, sp), (dm, sm), odd = magnetization_odd(run)
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(7, 6), constrained_layout=True)
    ax1.plot(dp, sp * 1e3, label="+M")
    ax1.plot(dm, sm * 1e3, label="−M")
    ax1.set_ylabel("lock-in X (mV)")
    ax1.set_title(f"{run.start['sample']['name']} — run {run.uid[:8]}")
    ax1.legend()
    ax2.plot(dp, odd * 1e3, color="k")
    ax2.set_ylabel("odd in M (mV)")
    ax2.set_xlabel("delay (fs)")
    for ax in (ax1, ax2):
        ax.axhline(0, color="0.8", lw=0.8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run_demo(*, fast: bool = False, data_dir=None, out_dir=None, progress: bool = True,
             step_fs: float = 20.0) -> DemoResult:
    """Measure, store, read back and plot the demo run."""
    table = sim_profile(DEMO_SAMPLE, fast=fast, seed=None)
    table.lockin.time_constant.put(0.01)
    table.lockin.sensitivity.put(0.005)
    session = Session(table, data_dir, progress=progress)
    delays = delay_grid(-1000.0, 3000.0, step_fs)
    (uid,) = session.run(delay_scan(table.lockin, table.stage, delays, magnet=table.magnet,
                                    magnetization=(1, -1), md={"purpose": "demo"}))
    run = load_run(uid, session.data_dir)
    out = Path(out_dir) if out_dir is not None else session.data_dir
    out.mkdir(parents=True, exist_ok=True)
    figure = plot_demo(run, out / f"demo_{uid[:8]}.png")
    return DemoResult(uid, run.path, figure)
