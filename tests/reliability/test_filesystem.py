"""Filesystem faults: a file in the way, a read-only or full disk, a disk that fills during the run.

Checked before anything moves where it can be known (the data directory's
writability and free space), and said in one line naming the file where it
cannot (the disk fills mid-run): the table is left safe and what was written
before stays readable.

A read-only or small disk is a real tmpfs mount where this process may mount one
(root in a container); otherwise a read-only folder for a user without root, or,
for root without mount rights, the free space and access the operating system
reports are replaced, which reaches the same check.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys

import pytest

from femtospin.acquisition import load_run, main

RUN = ["run", "thz_emission", "--profile", "sim:fast", "--no-progress", "--delays", "-1000:3000:10",
       "--magnetization", "1,-1"]


def _mount(path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@contextlib.contextmanager
def _mounted(path, options: str):
    mounted = _mount(path, options)
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], capture_output=True, check=True)


@contextlib.contextmanager
def read_only(path, monkeypatch):
    """``path`` on a read-only file system (or as close as this process can get)."""
    with _mounted(path, "ro,size=1m") as mounted:
        if not mounted:
            path.mkdir(parents=True, exist_ok=True)
            if os.geteuid() != 0:
                path.chmod(0o555)
            else:  # root without mount rights: os.access is what the check asks
                real = os.access
                monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if str(p).startswith(str(path))
                                    else real(p, mode, *a, **k))
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.chmod(0o755)


def _refused(attack, capsys, argv, message):
    code = main(argv)
    err = capsys.readouterr().err
    attack.refused(err)
    assert code == 2, err
    assert message in err, err


def test_a_file_in_the_way_of_the_data_directory(attack, capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    _refused(attack, capsys, [*RUN, "--data-dir", str(tmp_path / "notes.txt" / "data")],
             f"data directory {tmp_path}/notes.txt/data: {tmp_path}/notes.txt is a file, not a folder")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_read_only_data_directory(attack, capsys, tmp_path, monkeypatch):
    data = tmp_path / "ro"
    with read_only(data, monkeypatch):
        _refused(attack, capsys, [*RUN, "--data-dir", str(data)],
                 f"data directory {data}: cannot write in {data} (read-only or no permission)")


def test_too_little_free_space_for_the_run(attack, capsys, tmp_path, monkeypatch):
    data = tmp_path / "small"
    with _mounted(data, "size=300k") as mounted:
        if not mounted:  # the free space the operating system reports, as a full disk would
            import shutil

            monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(300e3, 300e3, 0.3e6))
        _refused(attack, capsys, [*RUN, "--data-dir", str(data / "d")],
                 f"data directory {data}/d: 0.3 MB free, the run needs about 4.3 MB")
        assert not (data / "d").exists()


def test_analyze_into_a_read_only_folder_is_one_line(attack, capsys, tmp_path, monkeypatch):
    from ..analysis.simdata import make_table, scan

    rows = scan(make_table(seed=3), list(range(-800, 1600, 10)), {"magnetization": [1, -1]})
    waves = tmp_path / "waves.csv"
    waves.write_text("delay_fs,magnetization,signal\n" + "".join(
        f"{d},{m},{s}\n" for d, m, s in zip(rows["delay_fs"], rows["magnetization"], rows["signal"])))
    out = tmp_path / "ro"
    with read_only(out, monkeypatch):
        code = main(["analyze", str(waves), "--json", str(out / "fit.json")])
    err = capsys.readouterr().err
    attack.refused(err)
    assert code == 2
    assert f"--json {out}/fit.json: cannot write in {out} (read-only or no permission)" in err


def _limited(size: int):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def test_the_disk_fills_during_the_run(attack, tmp_path):
    data = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-m", "femtospin", *RUN, "--data-dir", str(data), "--catalog", "off"],
                          capture_output=True, text=True, timeout=300, preexec_fn=_limited(150_000),
                          env={**os.environ, "FEMTOSPIN_CATALOG": "off"})
    err = proc.stderr
    attack.safe_exit(err)
    assert proc.returncode == 1, err
    (path,) = [p for p in data.glob("*.jsonl") if ".analysis." not in p.name]
    assert f"run {path.stem} failed: {path}: file too large; table left safe" in err
    assert f"data recorded before the failure: {path}" in err
    run = load_run(path.stem, data)  # everything that fitted on the disk reads back
    assert 100 < len(run.table()["lockin_x"]) < 802
    assert run.problems == [] or len(run.problems) == 1


@pytest.fixture(autouse=True)
def _no_mount_left(tmp_path):
    yield
    with open("/proc/mounts") as mounts:
        assert str(tmp_path) not in mounts.read()
