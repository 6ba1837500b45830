"""Per-point overhead of ``delay_scan`` on the fast simulated table, storage and live analysis on, over a bare scan.

Both run in this process on the same number of points; the baseline is
``bluesky.plans.scan`` of ``ophyd.sim`` devices with nothing subscribed.
``catalog_ratio`` is the same ``delay_scan`` with the embedded Tiled catalog on over
off; its ingest service is warmed up first, ingests each catalogued run while the
next one is measured, and has caught up before the catalog-off runs are timed.
Last line: ``overhead_ratio=… per_point_ms=… baseline_ms=… catalog_ratio=…``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bluesky import RunEngine
from bluesky.plans import scan
from ophyd.sim import det, motor

from femtospin.acquisition import Session, sim_profile
from femtospin.acquisition.storage._catalog import Target, connect, stop_service, wait_synced
from femtospin.plans import delay_grid, delay_scan


def per_point_ms(run, n: int) -> float:
    t0 = time.perf_counter()
    run()
    return (time.perf_counter() - t0) / n * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)  # the machine's noise is ±10 % per run
    args = parser.parse_args()
    n = max(args.points, 1000)

    bare = RunEngine({})
    delays = delay_grid(-1000.0, -1000.0 + 5.0 * (n - 1), 5.0)
    ours, base, catalogued = [], [], []
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as cat_data:
        target = Target(Path(cat_data).resolve())
        wait_synced(target)  # the service and its Tiled server start once, before anything is timed

        def measure(directory, catalog):
            table = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=0)
            session = Session(table, directory, live=True, catalog=catalog)
            ms = per_point_ms(lambda: session.run(delay_scan(table.lockin, table.stage, delays)), n)
            session.live.wait(60)  # the final fit runs off the RunEngine's thread; let it finish between repeats
            return ms

        try:
            for _ in range(args.repeats):
                wait_synced(target)  # the previous run's ingest must not load the catalog-off measurements
                base.append(per_point_ms(lambda: bare(scan([det], motor, -1, 1, n)), n))
                ours.append(measure(data, None))
                catalogued.append(measure(cat_data, target))
            status = wait_synced(target)
            in_catalog = len(connect(target, status))
        finally:
            stop_service(target)
    ours_ms, base_ms, cat_ms = statistics.median(ours), statistics.median(base), statistics.median(catalogued)
    print(f"points per run: {n}, repeats: {args.repeats} (median)")
    print(f"bare bluesky scan (ophyd.sim det, motor):  {base_ms:.3f} ms/point")
    print(f"delay_scan, fast sim table, storage + live analysis: {ours_ms:.3f} ms/point")
    print(f"  the same with the embedded Tiled catalog on: {cat_ms:.3f} ms/point "
          f"({in_catalog} runs and fits ingested)")
    print(f"overhead_ratio={ours_ms / base_ms:.3f} per_point_ms={ours_ms:.3f} baseline_ms={base_ms:.3f} "
          f"catalog_ratio={cat_ms / ours_ms:.3f}")


if __name__ == "__main__":
    main()
