"""The suite's own guard: a test run fails if a process it started outlives it, and leaves none behind."""

import time
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")


def test_a_process_that_outlives_the_test_run_fails_it_and_is_killed(pytester):
    pytester.makeconftest(CONFTEST.read_text().replace("LEFTOVER_GRACE_S = 30.0", "LEFTOVER_GRACE_S = 0.5"))
    pid_file = pytester.path / "pid"
    pytester.makepyfile(test_leak=f"""
        import subprocess, sys

        def test_starts_a_service_and_forgets_it():
            # its own session, as the ingest service: not a child of the test run any more once detached
            proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
            open({str(pid_file)!r}, "w").write(str(proc.pid))
        """)
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*processes started by the tests outlived them*", "*time.sleep(120)*"])
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)  # killed by the guard


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; its parent (the inner run) is gone or reaps it

