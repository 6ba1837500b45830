"""Stop signals at random moments of ``femtospin run``: one line, the right exit code, the table safe, data readable.

The moments are drawn (seeded) from the run's own progress rather than the wall
clock, so a loaded machine moves them in time but not in meaning: while the
libraries load (numpy mapped), at a random point of the scan, and just after the run's stop
document while the live fit finishes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from femtospin.acquisition import load_run

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "FEMTOSPIN_CATALOG": "off"}
ARGV = ["run", "delay_scan", "--profile", "sim:fast", "--delays", "-1000:1000:20", "--magnetization", "1,-1",
        "--no-progress"]
POINTS = 202
RANDOM = random.Random(2026)
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
MOMENTS = {s: [("loading", None), ("scan", RANDOM.randrange(3, POINTS - 10)), ("fitting", None)] for s in SIGNALS}


def _events(data_dir) -> tuple[int, bool]:
    """Events on disk and whether the stop document is there."""
    files = [p for p in data_dir.glob("*.jsonl") if ".analysis." not in p.name]
    if not files:
        return 0, False
    text = files[0].read_text()
    return text.count('["event",'), '["stop",' in text


def _loading_libraries(pid: int) -> bool:
    """femtospin's command line is loading the run's libraries (numpy is mapped): its own code runs.

    Before that the interpreter itself is starting, and a signal ends it as it
    would any program, before anything of femtospin could start or speak.
    """
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return "numpy" in maps.read()
    except OSError:
        return False


def _signal_at(moment, data_dir, signum) -> subprocess.Popen:
    # a terminal's Ctrl-C: the child gets SIGINT's default disposition even if this process ignores it
    proc = subprocess.Popen([sys.executable, "-m", "femtospin", *ARGV, "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    kind, at = moment
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if kind == "loading" and _loading_libraries(proc.pid):
            break
        events, stopped = _events(data_dir)
        if (kind == "scan" and events >= at + 2) or (kind == "fitting" and stopped):  # + the baseline's two
            break
        time.sleep(0.01)
    if proc.poll() is None:
        proc.send_signal(signum)
    return proc


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_a_stop_signal_at_any_moment_ends_in_one_line_with_the_table_safe(attack, tmp_path, signum):
    label = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    moments = MOMENTS[signum]
    dirs = [tmp_path / f"{kind}-{at}" for kind, at in moments]
    procs: list[subprocess.Popen | None] = [None] * len(moments)

    def start(i):
        procs[i] = _signal_at(moments[i], dirs[i], signum)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(len(moments))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:  # never leave a child behind
                p.kill()
                p.communicate()
    for (kind, at), proc, (_, err), data in zip(moments, procs, results, dirs):
        if proc.returncode == 0:  # the signal came after the end: a whole run, fitted
            assert kind == "fitting", err
            assert attack.assert_readable_and_safe(data) == 1
            continue
        assert proc.returncode == 128 + signum, err
        if kind == "loading":
            attack.refused(err)
            assert f"interrupted by {label} before anything started" in err
            assert not data.exists()
            continue
        attack.safe_exit(err, max_lines=1)
        (path,) = [p for p in data.glob("*.jsonl") if ".analysis." not in p.name]
        run = load_run(path.stem, data)
        if kind == "scan":
            assert f"run {run.uid} aborted by {label}; table left safe" in err
            assert run.stop["exit_status"] == "abort"
            assert at <= len(run.table()["lockin_x"]) < POINTS
        else:
            assert f"interrupted by {label} after the run: run {run.uid} is stored whole" in err
            assert run.stop["exit_status"] == "success"
        assert attack.assert_readable_and_safe(data) == 1
