"""Start-up cost of the command line: ``femtospin --help``, ``femtospin run PLAN --help``, ``femtospin ls``
with the ingest service up, and ``import femtospin.acquisition``.

Each is timed as a fresh process (what a user waits for), median of ``--repeats``. ``ls`` runs
against a data directory holding one short run, after the embedded catalog's ingest service
has started and taken it in (the service is stopped at the end). Last line:
``help_s=… run_help_s=… ls_s=… import_s=…``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).with_name("femtospin")


def timed(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from femtospin.acquisition.storage._catalog import parse_catalog, stop_service

    help_s = timed([str(BIN), "--help"], args.repeats)
    run_help_s = timed([str(BIN), "run", "thz_emission", "--help"], args.repeats)
    import_s = timed([sys.executable, "-c", "import femtospin.acquisition"], args.repeats)
    with tempfile.TemporaryDirectory() as data:
        subprocess.run([str(BIN), "run", "delay_scan", "--profile", "sim:fast", "--delays", "-1000:500:20",
                        "--lockin-tau", "0.01", "--data-dir", data, "--no-progress", "--catalog", "embedded"],
                       check=True, capture_output=True)
        target = parse_catalog("embedded", Path(data))
        try:
            subprocess.run([str(BIN), "ls", "--data-dir", data, "--catalog", "embedded"], check=True,
                           capture_output=True)  # waits until the service has the run
            ls_s = timed([str(BIN), "ls", "--data-dir", data, "--catalog", "embedded"], args.repeats)
        finally:
            stop_service(target)
    print(f"femtospin --help: {help_s:.2f} s   femtospin run thz_emission --help: {run_help_s:.2f} s   "
          f"femtospin ls (service up): {ls_s:.2f} s   "
          f"import femtospin.acquisition: {import_s:.2f} s   (medians of {args.repeats} fresh processes)")
    print(f"help_s={help_s:.3f} run_help_s={run_help_s:.3f} ls_s={ls_s:.3f} import_s={import_s:.3f}")


if __name__ == "__main__":
    main()
