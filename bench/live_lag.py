"""Live-analysis lag: from the stop document of a 2000-point fast scan to its final fit being available.

The scan is CoFeB(5)|Pt(3) at ±M (1000 delays each) on the fast simulated table
with storage and live analysis on. The lag is measured from the moment the stop
document reaches the callbacks to the moment the final fit (and its stored
analysis run) is done; the report PNG is written after that and not counted.
Last line: ``live_lag_s=…``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from femtospin.acquisition import Session, sim_profile
from femtospin.plans import delay_grid, delay_scan


def one_lag(data: str, n: int, seed: int) -> float:
    table = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=seed)
    table.lockin.time_constant.put(0.01)
    session = Session(table, data, live=True)
    session.live.report = False
    stopped = []
    session.RE.subscribe(lambda name, doc: stopped.append(time.monotonic()), "stop")
    delays = delay_grid(-1000.0, -1000.0 + 4.0 * (n // 2 - 1), 4.0)
    session.run(delay_scan(table.lockin, table.stage, delays, magnet=table.magnet, magnetization=(1, -1)))
    if not session.live.wait(120):
        raise RuntimeError("the final fit did not arrive within 120 s")
    return session.live.state.finished_at - stopped[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        lags = [one_lag(data, args.points, seed) for seed in range(args.repeats)]
    print(f"points per scan: {args.points} (±M), repeats: {args.repeats}")
    print("lags (s): " + ", ".join(f"{x:.3f}" for x in lags))
    print(f"live_lag_s={statistics.median(lags):.3f}")


if __name__ == "__main__":
    main()
