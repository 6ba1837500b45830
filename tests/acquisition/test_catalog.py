"""The Tiled catalog: ingest off the RunEngine's path, ls/show/export, corrupt logs, a down or slow server.

Real Tiled servers throughout: the embedded one the ingest service starts, and a
separate ``SimpleTiledServer`` standing in for a lab's server.
"""

import contextlib
import json
import re
import socket
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from femtospin.acquisition import Session, catalog_client, load_run, main, sim_profile
from femtospin.acquisition.remote._redis import free_port
from femtospin.acquisition.storage._catalog import (
    Target,
    connect,
    ensure_service,
    read_status,
    stop_service,
    wait_synced,
)
from femtospin.plans import delay_grid, delay_scan, thz_emission


def _measure(session, table, **kwargs):
    plan = thz_emission(table.lockin, table.stage, delay_grid(-900, 1200, 30), magnet=table.magnet,
                        power_meter=table.power_meter, **kwargs)
    (uid,) = session.run(plan)
    return uid


@pytest.fixture(scope="module")
def catalogued(tmp_path_factory):
    """Two measured runs (one fitted live) ingested into the embedded catalog, plus a corrupt and a cut-off log."""
    data = tmp_path_factory.mktemp("catalogued")
    table = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=3)
    session = Session(table, data, live=True, catalog="embedded")
    fitted = _measure(session, table, magnetization=(1, -1))
    assert session.live.wait(60)
    other_table = sim_profile("CoFeB(5)|W(3)", fast=True, seed=4)
    other = Session(other_table, data, catalog="embedded")
    (plain,) = other.run(delay_scan(other_table.lockin, other_table.stage, [0.0, 50.0, 100.0]))
    # a run whose log got a corrupt line in the middle, and one cut off by a crash (no stop document)
    corrupt, cut = (data / f"{name}.jsonl" for name in ("c0ffee00-corrupt", "dead0000-cut"))
    lines = session.writer.path(plain).read_text().splitlines(keepends=True)
    corrupt.write_text(("".join(lines[:2]) + "{not json\n" + "".join(lines[3:])).replace(plain, "c0ffee00-corrupt"))
    cut.write_text("".join(lines[:-1]).replace(plain, "dead0000-cut") + lines[-1][:10])
    target = Target(data.resolve())
    yield {"data": data, "fitted": fitted, "plain": plain, "target": target, "corrupt": corrupt}
    stop_service(target)


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_run_and_its_fit_reach_the_catalog(catalogued):
    status = wait_synced(catalogued["target"])
    client = catalog_client(catalogued["data"])
    fitted = client[catalogued["fitted"]]
    stored = load_run(catalogued["fitted"], catalogued["data"])
    assert fitted.metadata["start"]["sample"]["name"] == "CoFeB(5)|Pt(3)"
    assert fitted.metadata["stop"]["exit_status"] == "success"
    primary = fitted["primary"].read()
    np.testing.assert_array_equal(primary["lockin_x"].values, stored.table()["lockin_x"])
    np.testing.assert_array_equal(primary["magnetization"].values, stored.table()["magnetization"])
    # the live fit is its own run, linked to the measured one
    analyses = [r for r in client.values() if r.metadata["start"].get("analysis_of") == catalogued["fitted"]]
    assert len(analyses) == 1
    assert "dead0000-cut" in client  # a run cut off by a crash is ingested as far as it was written
    assert client["dead0000-cut"].metadata.get("stop") is None  # and says so: no stop document
    cut = load_run("dead0000", catalogued["data"]).table()
    np.testing.assert_array_equal(client["dead0000-cut"]["primary"].read()["lockin_x"].values, cut["lockin_x"])
    assert status["failed"] == {}
    # a corrupt line loses that line, not the run: the rest is in the catalog and the loss is named
    assert status["damaged"] == [f"{catalogued['corrupt']}: line 3 is corrupt and left out"]
    damaged, plain = client["c0ffee00-corrupt"], load_run(catalogued["plain"], catalogued["data"])
    np.testing.assert_array_equal(damaged["primary"].read()["lockin_x"].values, plain.table()["lockin_x"])
    # line 3 was the opening baseline reading
    assert damaged["baseline"].read()["stage_delay"].size == plain.table("baseline")["stage_delay"].size - 1


def _ls_rows(out: str) -> list[dict]:
    """``femtospin ls`` output as one dict per run, keyed by the header (columns are 2+ spaces apart)."""
    lines = out.splitlines()
    if not lines:
        return []
    header = re.split(r"\s{2,}", lines[0].strip())
    return [dict(zip(header, re.split(r"\s{2,}", line.strip()))) for line in lines[1:]]


def test_ls_filters_by_sample_plan_and_date(catalogued, capsys):
    d = ["--data-dir", str(catalogued["data"]), "--catalog", "embedded"]
    code, out, err = _cli(capsys, "ls", *d)
    assert code == 0
    assert out.splitlines()[0].split() == ["run", "started", "plan", "sample", "points", "status", "fit", "conditions"]
    rows = {r["run"]: r for r in _ls_rows(out)}
    assert set(rows) == {catalogued["fitted"][:8], catalogued["plain"][:8], "dead0000", "c0ffee00"}  # no analyses
    tau = load_run(catalogued["fitted"], catalogued["data"]).fits()[0]["fit"]["params"]["tau_es_fs"]
    fitted = rows[catalogued["fitted"][:8]]
    assert fitted["fit"] == f"τ_es {tau['value']:.4g}±{tau['stderr']:.2g} fs" and fitted["status"] == "success"
    assert rows[catalogued["plain"][:8]]["fit"] == "—"  # not fitted live
    assert rows["dead0000"]["status"] == "no stop"  # cut off by a crash
    # the corrupt line is named; the rest of its run and the other runs stay readable
    assert f"warning: {catalogued['corrupt']}: line 3 is corrupt and left out" in err
    code, out, _ = _cli(capsys, "ls", *d, "--sample", "|Pt(")
    assert [r["run"] for r in _ls_rows(out)] == [catalogued["fitted"][:8]]
    code, out, _ = _cli(capsys, "ls", *d, "--plan", "delay_scan", "--sample", "|W(")
    rows = {r["run"]: r for r in _ls_rows(out)}
    assert set(rows) == {catalogued["plain"][:8], "c0ffee00", "dead0000"}  # and its copies
    assert rows["dead0000"]["status"] == "no stop"  # cut off by a crash
    code, out, _ = _cli(capsys, "ls", *d, "--since", "2999-01-01")
    assert out == ""
    code, out, _ = _cli(capsys, "ls", *d, "--until", time.strftime("%Y-%m-%d"))
    assert len(_ls_rows(out)) == 4
    code, _, err = _cli(capsys, "ls", *d, "--since", "yesterday")
    assert code == 2 and "'yesterday' is not a date" in err


def test_show_gives_metadata_conditions_fit_and_report(catalogued, capsys):
    code, out, _ = _cli(capsys, "show", catalogued["fitted"][:8], "--data-dir", str(catalogued["data"]),
                        "--catalog", "embedded")
    assert code == 0
    fit = load_run(catalogued["fitted"], catalogued["data"]).fits()[0]
    tau = fit["fit"]["params"]["tau_es_fs"]
    assert f"run         {catalogued['fitted']}" in out
    assert "sample      CoFeB(5)|Pt(3)" in out
    assert "conditions  magnetization = 1, -1" in out
    assert "\\u" not in out  # text as written, not JSON escapes
    assert f"tau_es_fs={tau['value']:.4g}±{tau['stderr']:.2g}" in out
    report = Path(out.split("report      ")[1].split()[0])
    assert report.exists() and report.name == f"report_{catalogued['fitted'][:8]}.png"
    code, _, err = _cli(capsys, "show", "ffff", "--data-dir", str(catalogued["data"]), "--catalog", "embedded")
    assert code == 2 and "no run 'ffff'" in err


def test_export_csv_is_the_analyze_format_and_round_trips(catalogued, capsys, tmp_path):
    out = tmp_path / "run.csv"
    code, _, _ = _cli(capsys, "export", catalogued["fitted"][:8], "--format", "csv", "--out", str(out),
                      "--data-dir", str(catalogued["data"]), "--catalog", "embedded")
    assert code == 0
    rows = np.genfromtxt(out, delimiter=",", names=True)
    table = load_run(catalogued["fitted"], catalogued["data"]).table()
    assert rows.dtype.names[:2] == ("delay_fs", "signal")
    np.testing.assert_array_equal(rows["delay_fs"], table["stage_delay"])
    np.testing.assert_array_equal(rows["signal"], table["lockin_x"])
    np.testing.assert_array_equal(rows["magnetization"], table["magnetization"])
    np.testing.assert_array_equal(rows["pump_power"], table["power_meter_power"])
    np.testing.assert_array_equal(rows["overload"], table["lockin_overload"].astype(int))
    # the exported file is analyzable as it stands and, told the run's sample and the laser's nominal power
    # (the level the live fit normalized to), gives the stored live fit
    run = load_run(catalogued["fitted"], catalogued["data"])
    result = tmp_path / "fit.json"
    assert main(["analyze", str(out), "--json", str(result), "--sample", run.start["sample"]["name"],
                 "--reference-level", str(run.start["laser"]["nominal_W"])]) == 0
    offline, stored = json.loads(result.read_text())["fit"], run.fits()[0]["fit"]
    assert stored["params"]["tau_ep_fs"]["source"].startswith("materials table")  # the live fit knew the sample
    for name, p in stored["params"].items():
        assert offline["params"][name]["value"] == pytest.approx(p["value"], rel=1e-6), name
        assert offline["params"][name]["stderr"] == pytest.approx(p["stderr"], rel=1e-6), name
    assert offline["chi2"] == pytest.approx(stored["chi2"], rel=1e-6)


def test_export_netcdf_and_hdf5_carry_data_and_metadata(catalogued, capsys, tmp_path):
    uid = catalogued["fitted"]
    table = load_run(uid, catalogued["data"]).table()
    d = ["--data-dir", str(catalogued["data"]), "--catalog", "embedded"]
    assert _cli(capsys, "export", uid[:8], "--format", "nc", "--out", str(tmp_path / "r.nc"), *d)[0] == 0
    start = load_run(uid, catalogued["data"]).start
    planned = np.asarray(start["plan_args"]["delays"])
    with xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf") as ds:
        # gridded: magnetization × planned delay, each point in its cell, with units
        assert ds["lockin_x"].dims == ("magnetization", "delay_fs") and ds.attrs["layout"] == "conditions × delay"
        np.testing.assert_array_equal(ds["delay_fs"].values, planned)
        assert ds["delay_fs"].attrs["units"] == "fs" and ds["lockin_x"].attrs["units"] == "V"
        assert ds["stage_delay"].attrs["units"] == "fs"
        for x, m, readback in zip(table["lockin_x"], table["magnetization"], table["stage_delay"]):
            cell = ds.sel(magnetization=m, delay_fs=planned[np.abs(planned - readback).argmin()])
            assert cell["lockin_x"].item() == x and cell["stage_delay"].item() == readback
        assert int(np.isfinite(ds["lockin_x"].values).sum()) == len(table["lockin_x"])
        assert ds.attrs["uid"] == uid and json.loads(ds.attrs["start_json"])["plan_name"] == "thz_emission"
        assert json.loads(ds.attrs["fits_json"])[0]["fit"]["model"] == "spin-voltage"
    with xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf", group="baseline") as base:
        assert base.sizes["time"] == 2
    assert _cli(capsys, "export", uid[:8], "--format", "h5", "--out", str(tmp_path / "r.h5"), *d)[0] == 0
    with h5py.File(tmp_path / "r.h5") as f:
        x = f["primary/lockin_x"]
        assert x.attrs["dims"] == "magnetization,delay_fs" and x.attrs["units"] == "V"
        np.testing.assert_array_equal(f["primary/delay_fs"][()], planned)
        np.testing.assert_array_equal(np.sort(x[()][np.isfinite(x[()])]), np.sort(table["lockin_x"]))
        np.testing.assert_array_equal(f["primary/magnetization"][()], [-1, 1])
        assert json.loads(f.attrs["start_json"])["uid"] == uid
        assert "baseline" in f


def test_export_never_overwrites_and_refuses_bad_input(catalogued, capsys, tmp_path):
    existing = tmp_path / "keep.csv"
    existing.write_text("precious\n")
    d = ["--data-dir", str(catalogued["data"]), "--catalog", "embedded"]
    code, _, err = _cli(capsys, "export", catalogued["fitted"][:8], "--out", str(existing), *d)
    assert code == 2 and "exists" in err and existing.read_text() == "precious\n"
    with pytest.raises(SystemExit) as exit_:
        main(["export", catalogued["fitted"][:8], "--format", "xls", *d])
    assert exit_.value.code == 2 and "invalid choice: 'xls'" in capsys.readouterr().err
    code, _, err = _cli(capsys, "ls", "--data-dir", str(tmp_path / "nowhere"), "--catalog", "embedded")
    assert code == 2 and "no data directory" in err
    code, _, err = _cli(capsys, "ls", *d[:2], "--catalog", "ftp://lab")
    assert code == 2 and "'embedded', 'off' or the http(s) URI" in err


@pytest.mark.parametrize("fmt", ["csv", "h5"])
def test_export_never_writes_through_a_planted_part_link(catalogued, capsys, tmp_path, fmt):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / f"out.{fmt}"
    (tmp_path / f"out.{fmt}.part").symlink_to(victim)
    code, _, err = _cli(capsys, "export", catalogued["fitted"][:8], "--format", fmt, "--out", str(out),
                        "--data-dir", str(catalogued["data"]), "--catalog", "embedded")
    assert code == 0, err
    assert victim.read_text() == "precious\n" and out.is_file() and not out.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([victim.name, out.name, f"out.{fmt}.part"])


def test_a_restarted_service_with_its_ledger_lost_ingests_nothing_twice(catalogued, capsys):
    target = catalogued["target"]
    before = sorted(connect(target, wait_synced(target)))
    stop_service(target)
    target.ledger_path.unlink()
    # the cut-off run's file now ends with its stop document, as if an earlier ingest had been cut short
    cut = catalogued["data"] / "dead0000-cut.jsonl"
    plain = (catalogued["data"] / f"{catalogued['plain']}.jsonl").read_text().splitlines(keepends=True)
    cut.write_text("".join(plain).replace(catalogued["plain"], "dead0000-cut"))
    status = wait_synced(target)
    assert status["error"] is None and status["pending"] == []
    client = connect(target, status)
    assert sorted(client) == before
    assert len(target.ledger_path.read_text().split()) == len(before)  # every file is in the ledger again
    assert client["dead0000-cut"].metadata["stop"]["exit_status"] == "success"  # replaced by the whole run
    whole = load_run("dead0000", catalogued["data"]).table()
    assert client["dead0000-cut"]["primary"].read()["lockin_x"].size == whole["seq_num"].size


class _HungServer:
    """Accepts connections on a port and never answers: a Tiled server that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        with contextlib.suppress(OSError):  # wakes the accepting thread: a plain close leaves the port listening
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for c in self.conns:
            c.close()


def test_the_api_key_is_not_on_the_ingest_service_command_line_and_its_status_is_0600(tmp_path):
    target = Target(tmp_path.resolve(), f"http://127.0.0.1:{free_port()}/api/v1?api_key=labsecret")  # nobody there
    try:
        ensure_service(target)
        deadline = time.monotonic() + 30
        while not (target.status_path.exists() and read_status(target)) and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(target.file("service", "lock").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"_catalog" in cmdline and b"labsecret" not in cmdline
        assert target.status_path.stat().st_mode & 0o777 == 0o600
    finally:
        stop_service(target)


def test_a_hung_then_down_server_never_stalls_a_measurement_and_gets_the_run_when_back(tmp_path, monkeypatch):
    from tiled.client import from_uri
    from tiled.server import SimpleTiledServer

    # the service waits up to 30 s on the hung server: the second run below is measured while it does
    monkeypatch.setenv("FEMTOSPIN_CATALOG_TIMEOUT_S", "30")
    hung = _HungServer()
    uri = f"http://127.0.0.1:{hung.port}/api/v1?api_key=labsecret"
    target = Target(tmp_path.resolve(), uri)
    table = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=5)
    try:
        session = Session(table, tmp_path, catalog=target)
        uid = _measure(session, table)
        deadline = time.monotonic() + 30
        while not (hung.conns and f"{uid}.jsonl" in (read_status(target) or {}).get("pending", [])) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        stuck = read_status(target)
        assert hung.conns and f"{uid}.jsonl" in stuck["pending"] and not stuck["pass_done"]  # asked, no answer
        uid2 = _measure(session, table)
        # measured from start to stop while the service's request to the hung server was still unanswered
        assert load_run(uid2, tmp_path).stop["exit_status"] == "success"
        still = read_status(target)
        assert still["pass_started"] == stuck["pass_started"] and not still["pass_done"]
        hung.close()
        uid3 = _measure(session, table)  # the server is down now: still no stall
        server = SimpleTiledServer(tmp_path / "lab", api_key="labsecret", port=hung.port)
        try:
            # watch the service's ledger, not the server: the test adds no requests while the service writes
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not (
                    target.ledger_path.exists() and
                    {f"{u}.jsonl" for u in (uid, uid2, uid3)} <= set(target.ledger_path.read_text().split())):
                time.sleep(0.3)
            lab = from_uri(server.uri)
            assert {uid, uid2, uid3} <= set(lab)
            assert lab[uid]["primary"].read()["lockin_x"].size == load_run(uid, tmp_path).table()["seq_num"].size
            lab.context.close()
        finally:
            stop_service(target)
            server.close()
    finally:
        hung.close()


def test_the_service_stops_when_idle_even_if_its_catalog_never_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("FEMTOSPIN_CATALOG_LINGER_S", "1")
    table = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=6)
    (uid,) = Session(table, tmp_path).run(delay_scan(table.lockin, table.stage, [0.0, 50.0]))  # no catalog yet
    target = Target(tmp_path.resolve(), f"http://127.0.0.1:{free_port()}/api/v1")  # nobody there, ever
    try:
        ensure_service(target)
        deadline = time.monotonic() + 60
        while f"{uid}.jsonl" not in (read_status(target) or {}).get("pending", []) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert f"{uid}.jsonl" in read_status(target)["pending"]  # up, with the run to ingest
        while _service_running(target) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _service_running(target)  # gone by itself
        assert not target.ledger_path.exists() or uid not in target.ledger_path.read_text()  # left for the next one
    finally:
        stop_service(target)


def _service_running(target):
    from femtospin.acquisition.storage._catalog import _running

    return _running(target)


@pytest.mark.parametrize("server, command", [("down", ["ls"]), ("down", ["show", "abcd1234"]),
                                             ("down", ["export", "abcd1234"]), ("hung", ["ls"])])
def test_an_unreachable_catalog_is_one_line_and_starts_no_service(tmp_path, capsys, monkeypatch, command, server):
    monkeypatch.chdir(tmp_path)
    hung = _HungServer() if server == "hung" else None
    port = hung.port if hung else free_port()
    uri = f"http://127.0.0.1:{port}/api/v1?api_key=labsecret"
    (tmp_path / "data").mkdir()
    try:
        code, out, err = _cli(capsys, *command, "--data-dir", str(tmp_path / "data"), "--catalog", uri)
    finally:
        if hung:
            hung.close()
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "does not answer" in err and "labsecret" not in err
    assert not (tmp_path / "data" / "catalog").exists()  # no service was started for it


def test_a_client_whose_service_leaves_as_it_asks_starts_another(tmp_path, monkeypatch):
    """The service may stop for being idle just after a client found it running; the client must not wait
    for a service that is gone. (A lab catalog's service over an empty directory: it starts in a moment.)"""
    from femtospin.acquisition.storage import _catalog

    target = Target(tmp_path.resolve(), f"http://127.0.0.1:{free_port()}/api/v1")
    wait_synced(target)
    real, calls = _catalog.ensure_service, []

    def leaves_right_after(t):
        started = real(t)
        calls.append(started)
        if len(calls) == 1:
            assert not started  # it was running when asked
            stop_service(t)  # … and leaves before answering
        return started

    monkeypatch.setattr(_catalog, "ensure_service", leaves_right_after)
    try:
        status = wait_synced(target, timeout_s=30)
        assert status["pass_done"] and calls == [False, True]
    finally:
        stop_service(target)
