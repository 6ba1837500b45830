"""Ctrl-C, SIGTERM and SIGHUP end a run the same way: abort, make_safe, closing baseline, stop document."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from femtospin.acquisition import load_run
from femtospin.plans import thz_emission

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "FEMTOSPIN_CATALOG": "off"}


def _run_file(data_dir):
    files = [p for p in data_dir.glob("*.jsonl") if ".analysis." not in p.name]
    return files[0] if files else None


def _wait_for_events(proc, data_dir, n=5, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        path = _run_file(data_dir)
        if path is not None and sum(1 for line in path.open() if line.startswith('["event"')) > n:
            return
        time.sleep(0.05)
    raise AssertionError("the run recorded no events")


class _Lines:
    """A child's stdout read by a thread: select() on a buffered pipe misses a line that came with another."""

    def __init__(self, proc):
        self.lines, self._new = [], threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            with self._new:
                self.lines.append(line)
                self._new.notify_all()

    def wait_for(self, text, timeout_s=60.0):
        # bluesky prints "Suspending....To get prompt hit Ctrl-C twice to pause." without a newline, so
        # the child's own line may be glued to its end
        def seen():
            return any(line.rstrip().endswith(text) for line in self.lines)

        with self._new:
            if not self._new.wait_for(lambda: seen() or not self._thread.is_alive(), timeout_s) or not seen():
                raise AssertionError(f"no {text!r} line")

    def text(self):
        self._thread.join(timeout=30)
        return "".join(self.lines)


def _signalled(argv, data_dir, signum):
    """Start ``femtospin ARGV``, send ``signum`` once events are on disk; (returncode, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "femtospin", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        _wait_for_events(proc, data_dir)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _assert_aborted_safe(data_dir, err, label):
    run = load_run(_run_file(data_dir).stem, data_dir)
    assert f"run {run.start['uid']} aborted by {label}; table left safe" in err
    assert "Traceback" not in err
    assert run.stop["exit_status"] == "abort"
    end = run.table("baseline")
    assert len(end["magnet_field"]) == 2  # opening and closing baseline
    assert abs(end["magnet_field"][-1]) < 0.1
    assert end["heater_setpoint"][-1] == 300.0
    assert end["stage_delay"][-1] == pytest.approx(-1000.0, abs=10.0)


@pytest.mark.parametrize("signum, code, label", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")])
def test_stop_signal_to_run_aborts_and_leaves_the_table_safe(tmp_path, signum, code, label):
    argv = ["run", "thz_emission", "--profile", "sim:fast", "--delays", "-1000:3000:1", "--magnetization", "1,-1",
            "--field-mT", "10", "--data-dir", str(tmp_path), "--catalog", "off", "--no-progress"]
    returncode, err = _signalled(argv, tmp_path, signum)
    assert returncode == code, err
    _assert_aborted_safe(tmp_path, err, label)


def test_sigterm_to_demo_aborts_and_leaves_the_table_safe(tmp_path):
    argv = ["demo", "--fast", "--data-dir", str(tmp_path), "--catalog", "off", "--no-progress"]
    returncode, err = _signalled(argv, tmp_path, signal.SIGTERM)
    assert returncode == 143, err
    _assert_aborted_safe(tmp_path, err, "SIGTERM")


def test_previous_handlers_are_restored(fast_table, session_factory):
    def mine(signum, frame):
        pass

    before = {s: signal.signal(s, mine) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        session = session_factory(fast_table)
        session.run(thz_emission(fast_table.lockin, fast_table.stage, [0.0, 100.0]))
        assert all(signal.getsignal(s) is mine for s in before)
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


# A run suspended on a weak laser (not zero: its noisy readings change at every poll). Run in a
# child process: before the fix the suspender deadlocked the RunEngine and no signal could end it.
WEAK_LASER = textwrap.dedent("""
    import sys, threading, time
    from bluesky.utils import RunEngineInterrupted
    from femtospin.acquisition import Session, sim_profile
    from femtospin.plans import delay_grid, thz_emission

    t = sim_profile(fast=True, seed=3)
    t.lockin.time_constant.put(0.01)
    session = Session(t, sys.argv[1])
    count = []

    def weaken(name, doc):
        count.append(1)
        if len(count) == 10:
            t.sim.laser_on = 0.4  # below the 0.25 W threshold, not zero

    def report():
        while not session.laser.suspender.tripped:
            time.sleep(0.02)
        print("suspended", flush=True)

    session.RE.subscribe(weaken, "event")
    threading.Thread(target=report, daemon=True).start()
    try:
        session.run(thz_emission(t.lockin, t.stage, delay_grid(-1000.0, 3000.0, 10.0), magnet=t.magnet,
                                 power_meter=t.power_meter, magnetization=(1, -1)))
    except RunEngineInterrupted:
        print("interrupted by", session.interrupted_by, flush=True)
        sys.exit(5)
""")


@pytest.mark.parametrize("signum, label", [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")])
def test_first_signal_stops_a_run_suspended_on_a_weak_laser(tmp_path, signum, label):
    proc = subprocess.Popen([sys.executable, "-c", WEAK_LASER, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    lines = _Lines(proc)
    try:
        lines.wait_for("suspended")
        proc.send_signal(signum)  # once
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # never leave a hung child behind
            proc.kill()
            proc.wait()
    err, out = proc.stderr.read(), lines.text()
    assert proc.returncode == 5, err
    assert f"interrupted by {label}" in out
    run = load_run(_run_file(tmp_path).stem, tmp_path)
    assert run.stop["exit_status"] == "abort"
    data = run.table()
    assert 9 <= len(data["lockin_x"]) < 50
    assert np.all(data["power_meter_power"] > 0.25)  # nothing recorded with the laser weak
    end = run.table("baseline")
    assert abs(end["magnet_field"][-1]) < 0.1
    assert end["stage_delay"][-1] == pytest.approx(-1000.0, abs=10.0)


