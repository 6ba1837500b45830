"""``femtospin serve`` end to end: a real Redis, a real RE manager, driven by the real client.

Redis comes from the project's helper (installed from Debian's package if missing);
if it cannot be provided the tests fail, they never skip.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from bluesky_queueserver_api import BFunc, BPlan
from bluesky_queueserver_api.comm_base import RequestFailedError
from bluesky_queueserver_api.zmq import REManagerAPI

from femtospin.acquisition import catalog_client, load_run, main, sim_profile
from femtospin.acquisition.remote import _redis
from femtospin.acquisition.remote._redis import RedisServer, RedisUnavailable, free_port, ping
from femtospin.acquisition.remote._serve import QueueItemError, client_metadata, permissions, queue_plans
from femtospin.acquisition.storage._catalog import Target, stop_service
from femtospin.devices import ROLES
from femtospin.plans import PLANS

READY = "femtospin serve: RE manager at "
SERVED = {}  # the module server's control address, for the tests that start a second one beside it
POLL = {"status_polling_period": 0.1, "status_expiration_period": 0.05}  # the client's waits see changes sooner
DELAYS = np.arange(-1100.0, 1001.0, 50.0).tolist()  # 43 delays, with the baseline the live fit needs


@pytest.fixture(scope="session")
def redis_server():
    try:
        server = RedisServer().start()
    except RedisUnavailable as exc:
        pytest.fail(f"the queue-server tests need Redis and it could not be provided: {exc}", pytrace=False)
    yield server
    server.stop()


def _processes_with(text: str) -> list[int]:
    """Pids whose command line contains ``text``."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def _events(data: Path) -> int:
    """Events recorded so far in the runs of ``data``."""
    return sum(p.read_text().count('["event"') for p in data.glob("*.jsonl") if ".analysis." not in p.name)


def _start_serve(tmp: Path, *args: str):
    """``femtospin serve --profile sim:fast`` on free ports; returns the process, its control address, its log
    and its ready line."""
    port, info = free_port(), free_port()
    while info == port:  # each is free on its own; the system may hand out the same one twice
        info = free_port()
    log = tmp / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "femtospin", "serve", "--profile", "sim:fast", "--data-dir", str(tmp / "data"),
         "--zmq-port", str(port), "--zmq-info-port", str(info), *args],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while not (ready := [line for line in log.read_text().splitlines() if line.startswith(READY)]):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"femtospin serve did not start:\n{log.read_text()[-3000:]}", pytrace=False)
        time.sleep(0.05)
    return proc, f"tcp://127.0.0.1:{port}", log, ready[0]


def _stop(proc, log: Path, signum=signal.SIGTERM) -> int:
    proc.send_signal(signum)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"femtospin serve did not stop:\n{log.read_text()[-3000:]}", pytrace=False)


@pytest.fixture(scope="module")
def served(redis_server, tmp_path_factory):
    """One server for the module, its worker environment open: (client, data dir)."""
    tmp = tmp_path_factory.mktemp("serve")
    proc, address, log, _ = _start_serve(tmp, "--redis-addr", redis_server.address, "--catalog", "embedded")
    api = REManagerAPI(zmq_control_addr=address, **POLL)
    SERVED["address"] = address
    try:
        api.environment_open()
        api.wait_for_idle(timeout=60)
        assert api.status()["worker_environment_exists"], log.read_text()[-3000:]
        yield api, tmp / "data"
    finally:
        api.close()
        assert _stop(proc, log) == 0, log.read_text()[-3000:]
        stop_service(Target((tmp / "data").resolve()))
    assert not _processes_with(address), "the RE manager outlived femtospin serve"


def _run_queue(api) -> dict:
    """Start the queue, wait for it, return the last history item."""
    api.queue_start()
    api.wait_for_idle(timeout=60)
    return api.history_get()["items"][-1]


def test_without_redis_or_a_way_to_install_it_the_error_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(_redis, "_find", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get either
    with pytest.raises(RedisUnavailable, match="apt-get install redis-server.*--redis-addr"):
        RedisServer().start()


def test_queue_plans_take_the_roles_from_the_table():
    table = sim_profile(fast=True)
    plans = queue_plans(table)
    assert set(plans) == set(PLANS)
    for name, plan in plans.items():
        params = plan.__signature__.parameters
        assert not set(params) & {*ROLES, "plan_name"}, name
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params.values())
    measurement = plans["delay_scan"](delays=[0.0, 100.0])
    assert measurement.md["plan_name"] == "delay_scan" and measurement.md["num_points"] == 2


def test_permissions_allow_the_project_plans_and_no_function():
    groups = permissions(PLANS)["user_groups"]
    assert set(groups) == {"root", "primary"}
    for rules in groups.values():
        assert rules["allowed_plans"] == list(PLANS) and rules["allowed_functions"] == []
        assert rules["allowed_devices"] == []  # no string of an item is ever turned into a device


@pytest.mark.parametrize("md, message", [
    ({"analysis_of": "../ESCAPED"}, "'analysis_of' set by the server"),
    ({"plan_name": "forged", "num_points": -1}, "'num_points', 'plan_name' set by the server"),
    ({"uid": "x"}, "'uid' set by the server"),
    ({"plan_args": {}, "conditions": []}, "'conditions', 'plan_args' set by the server"),
    ({"note": 3}, "md['note']: give text"),
    ({"note": "x" * 5000}, "md['note']: give text of at most 2000"),
    ({"sample": "Fe|Pt"}, "md['sample']: give a mapping of name, stack"),
    ({"sample": {"name": "Fe", "uid": "x"}}, "md['sample']: give a mapping"),
    ([1], "md: give a mapping"),
], ids=["analysis_of", "plan_name", "uid", "plan_args", "not-text", "long", "sample-text", "sample-key", "list"])
def test_a_client_sets_only_the_allowed_metadata(md, message):
    with pytest.raises(QueueItemError, match=message.replace("[", r"\[").replace("]", r"\]")):
        client_metadata(md)


def test_allowed_metadata_amends_the_table_sample():
    table_sample = {"name": "CoFeB(5)|Pt(3)", "stack": "CoFeB|Pt"}
    md = client_metadata({"operator": "ana", "note": "n", "purpose": "p", "sample": {"name": "Fe(2)|Pt(2)"}},
                         table_sample)
    assert md == {"operator": "ana", "note": "n", "purpose": "p",
                  "sample": {"name": "Fe(2)|Pt(2)", "stack": "CoFeB|Pt"}}


@pytest.mark.parametrize("kwargs, message", [
    ({"delays": [0.0, 10.0], "md": {"analysis_of": "../ESCAPED"}}, "'analysis_of' set by the server"),
    ({"delays": [0.0, 10.0], "readables": ["heater", "spot"]}, "readables: the table fills in devices"),
    ({"delays": [0.0, 10.0], "heater": "heater"}, "heater: the table fills in devices"),
    ({"delays": [0.0, 10.0], "setup": {}}, "setup: the table fills in devices"),
], ids=["md", "readables", "role", "setup"])
def test_queue_plans_refuse_reserved_metadata_and_devices_before_anything_moves(kwargs, message):
    table = sim_profile(fast=True)
    plans = queue_plans(table)
    for name in ("moke_scan", "delay_scan"):  # moke_scan passes **kwargs on to thz_emission
        with pytest.raises(QueueItemError, match=message):
            plans[name](**kwargs)


@pytest.mark.parametrize("argv, code, message", [
    (["--profile", "nope.yaml"], 2, "--profile: nope.yaml: cannot read the profile (No such file or directory)"),
    (["--redis-addr", "127.0.0.1:1"], 1, "--redis-addr: no Redis answers at 127.0.0.1:1"),
])
def test_serve_refuses_what_it_cannot_serve(argv, code, message, capsys):
    handler = signal.getsignal(signal.SIGINT)
    assert main(["serve", "--zmq-port", str(free_port()), *argv]) == code
    assert message in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is handler


def test_serve_refuses_a_port_in_use_in_one_line(capsys):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        assert main(["serve", "--zmq-port", str(port), "--zmq-info-port", str(free_port())]) == 2
        assert main(["serve", "--zmq-port", str(free_port()), "--zmq-info-port", str(port)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: --zmq-port {port}: 127.0.0.1:{port} is in use (another femtospin serve?); "
                   "choose another port",
                   f"error: --zmq-info-port {port}: 127.0.0.1:{port} is in use (another femtospin serve?); "
                   "choose another port"]


def test_a_second_serve_on_the_same_port_leaves_the_first_alone(served, tmp_path):
    api, _ = served
    port = SERVED["address"].rsplit(":", 1)[1]
    second = subprocess.run([sys.executable, "-m", "femtospin", "serve", "--profile", "sim:fast", "--data-dir",
                             str(tmp_path), "--zmq-port", port, "--zmq-info-port", str(free_port())],
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and second.stderr.count("\n") == 1 and "is in use" in second.stderr
    assert READY not in second.stdout
    assert api.status()["worker_environment_exists"]  # the first server still answers, environment open


def test_only_the_project_plans_and_the_table_roles_are_offered(served):
    api, _ = served
    assert set(api.plans_existing()["plans_existing"]) == set(api.plans_allowed()["plans_allowed"]) == set(PLANS)
    assert set(api.devices_existing()["devices_existing"]) == set(sim_profile(fast=True).devices())
    assert api.devices_allowed()["devices_allowed"] == {}  # the table fills them in by role
    with pytest.raises(RequestFailedError, match="'count' is not in the list of allowed plans"):
        api.item_add(BPlan("count", ["lockin"]))
    with pytest.raises(RequestFailedError, match="not allowed|not in the list"):
        api.function_execute(BFunc("print", "hello"))
    with pytest.raises(RequestFailedError, match="repeats"):  # checked against the plan's types on submission
        api.item_add(BPlan("thz_emission", delays=DELAYS, repeats="twice"))
    assert api.queue_get()["items"] == []


def test_a_queued_plan_is_stored_like_femtospin_run(served):
    api, data = served
    api.item_add(BPlan("thz_emission", delays=DELAYS, magnetization=[1, -1]))
    item = _run_queue(api)
    assert item["result"]["exit_status"] == "completed", item["result"]
    (uid,) = item["result"]["run_uids"]
    run = load_run(uid, data)
    assert run.start["plan_name"] == "thz_emission" and run.start["profile"] == "sim:fast"
    assert run.stop["exit_status"] == "success"
    assert len(run.table()["lockin_x"]) == run.start["num_points"] == 2 * len(DELAYS)
    assert "baseline" in run.streams  # the Session's RunEngine: baseline, storage and live analysis
    deadline = time.monotonic() + 20
    while not (fits := run.fits()) and time.monotonic() < deadline:  # the final fit runs beside the RunEngine
        time.sleep(0.1)
    assert fits and "fit" in fits[0], fits
    # and the client finds it in the catalog, with its data and its fit
    client = catalog_client(data)
    assert client[uid].metadata["start"]["plan_name"] == "thz_emission"
    assert client[uid]["primary"].read()["lockin_x"].size == 2 * len(DELAYS)
    while not (fitted := [r.metadata["start"]["analysis_of"] for r in catalog_client(data).values()
                          if "analysis_of" in r.metadata["start"]]) and time.monotonic() < deadline + 20:
        time.sleep(0.2)  # the analysis file closes a moment after its final fit row
    assert fitted == [uid]


def test_an_adaptive_design_runs_from_the_queue_like_any_plan(served):
    api, data = served
    api.item_add(BPlan("thz_emission", delays=np.arange(-800.0, 1001.0, 20.0).tolist(), magnetization=[1, -1],
                       sampling="adaptive", target={"tau_es_fs": 0.5}, budget_s=600.0, batch=12))
    item = _run_queue(api)
    assert item["result"]["exit_status"] == "completed", item["result"]
    (uid,) = item["result"]["run_uids"]
    run = load_run(uid, data)
    assert run.start["sampling"]["mode"] == "adaptive" and "clock" not in run.start["plan_args"]
    design = run.table("design")
    assert design["design_reason"][-1] == "stop"
    assert design["design_stop"][-1].startswith(("target reached", "time budget spent"))


def _item(name: str, meta: dict | None = None, **kwargs) -> dict:
    return {"item_type": "plan", "name": name, "kwargs": {"delays": [0.0, 10.0], **kwargs}, "meta": meta or {}}


@pytest.mark.parametrize("item, message", [
    (_item("delay_scan", md={"analysis_of": "../ESCAPED"}), "'analysis_of' set by the server"),
    (_item("delay_scan", md={"analysis_of": "ABSOLUTE"}), "'analysis_of' set by the server"),
    (_item("delay_scan", md={"plan_name": "forged", "num_points": -1}), "'num_points', 'plan_name' set by the"),
    (_item("moke_scan", readables=["heater", "spot"]), "readables: the table fills in devices"),
    (_item("delay_scan", meta={"analysis_of": "../ESCAPED"}), "'analysis_of' set by the server"),
], ids=["analysis_of", "absolute", "plan_name", "readables", "item-meta"])
def test_a_hostile_item_fails_in_one_line_and_writes_nothing(served, item, message):
    api, data = served
    if item["kwargs"].get("md") == {"analysis_of": "ABSOLUTE"}:
        item = _item("delay_scan", md={"analysis_of": str(data.parent.parent / "ESCAPED")})
    before = sorted(data.parent.rglob("*"))
    api.item_add(item)
    result = _run_queue(api)["result"]
    api.queue_clear()
    assert result["exit_status"] == "failed" and message in result["msg"], result
    assert not [p for p in sorted(data.parent.rglob("*")) if p not in before and p.suffix == ".jsonl"]
    assert not list(data.parent.parent.glob("ESCAPED*"))


def test_an_item_naming_a_device_is_refused_on_submission(served):
    api, _ = served
    with pytest.raises(RequestFailedError, match="readables"):
        api.item_add(BPlan("delay_scan", delays=[0.0, 10.0], readables=["heater", "spot"]))
    assert api.queue_get()["items"] == []


def test_bad_arguments_fail_the_item_and_leave_the_table_safe(served):
    api, data = served
    if not any(".analysis." not in p.name for p in data.glob("*.jsonl")):  # run alone: a run to compare with
        api.item_add(BPlan("delay_scan", delays=[0.0, 100.0]))
        assert _run_queue(api)["result"]["exit_status"] == "completed"
    before = set(data.glob("*.jsonl"))
    api.item_add(BPlan("thz_emission", delays=DELAYS, temperatures=[900]))
    item = _run_queue(api)
    assert item["result"]["exit_status"] == "failed"
    assert "temperatures: 900 K is outside the allowed range" in item["result"]["msg"]
    assert set(data.glob("*.jsonl")) == before  # refused before the run opened
    api.queue_clear()  # the queue server keeps a failed item at the front of the queue
    # nothing moved: the next run opens on the table as the last run's cleanup left it
    api.item_add(BPlan("delay_scan", delays=[0.0, 100.0]))
    item = _run_queue(api)
    assert item["result"]["exit_status"] == "completed", item["result"]
    runs = sorted((load_run(p.stem, data) for p in data.glob("*.jsonl") if ".analysis." not in p.name),
                  key=lambda r: r.start["time"])
    closing, opening = runs[-2].table("baseline"), runs[-1].table("baseline")
    assert abs(opening["magnet_field"][0]) < 0.1
    for key in ("magnet_field", "stage_delay", "heater_setpoint", "sample_rotation_angle"):
        hall = {"abs": 0.1} if key == "magnet_field" else {}  # the Hall probe reads with noise
        assert opening[key][0] == pytest.approx(closing[key][-1], **hall), key


def _start_a_long_run(address, data):
    """Open the environment, queue a long THz-emission run and wait until it has recorded events."""
    api = REManagerAPI(zmq_control_addr=address, **POLL)
    try:
        api.environment_open()
        api.wait_for_idle(timeout=60)
        api.item_add(BPlan("thz_emission", delays=np.arange(-1000.0, 3000.0, 2.0).tolist(), magnetization=[1, -1]))
        api.queue_start()
        deadline = time.monotonic() + 30
        while _events(data) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        api.close()


def test_ctrl_c_aborts_the_running_plan_safely_and_stops_the_manager_and_its_own_redis(tmp_path):
    proc, address, log, ready = _start_serve(tmp_path)
    redis_addr = ready.rsplit("Redis at ", 1)[1].strip()
    assert redis_addr.startswith("127.0.0.1:") and ping(redis_addr)
    _start_a_long_run(address, tmp_path / "data")
    assert _stop(proc, log, signal.SIGINT) == 0, log.read_text()[-3000:]
    assert "femtospin serve: stopped" in log.read_text()
    assert not ping(redis_addr)
    assert not _processes_with(address)
    (path,) = (p for p in (tmp_path / "data").glob("*.jsonl") if ".analysis." not in p.name)
    run = load_run(path.stem, tmp_path / "data")
    assert run.stop["exit_status"] == "abort"
    assert len(run.table()["lockin_x"]) < run.start["num_points"]
    closing = run.table("baseline")
    assert abs(closing["magnet_field"][-1]) < 0.1 and closing["stage_delay"][-1] == closing["stage_delay"][0]


def test_after_a_sigkill_serve_closes_the_cut_off_run_and_makes_the_table_safe_before_work(tmp_path):
    proc, address, log, _ = _start_serve(tmp_path)
    try:
        _start_a_long_run(address, tmp_path / "data")
    finally:
        proc.kill()  # no cleanup: the manager, its worker and Redis die with it
        proc.wait()
    deadline = time.monotonic() + 20
    while _processes_with(address) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_with(address)
    (path,) = (p for p in (tmp_path / "data").glob("*.jsonl") if ".analysis." not in p.name)
    assert load_run(path.stem, tmp_path / "data").stop is None
    proc, address, log, _ = _start_serve(tmp_path)
    api = REManagerAPI(zmq_control_addr=address, **POLL)
    try:
        lines = log.read_text().splitlines()
        assert f"femtospin serve: run {path.stem} had no stop document (its process was killed); closed it as " \
               "aborted" in lines
        run = load_run(path.stem, tmp_path / "data")
        assert run.stop["exit_status"] == "abort" and run.stop["num_events"]["primary"] == len(run.table()["seq_num"])
        api.environment_open()
        api.wait_for_idle(timeout=60)
        assert api.status()["worker_environment_exists"]
        assert any(line.startswith("femtospin serve: table made safe after") for line in log.read_text().splitlines())
    finally:
        api.close()
        assert _stop(proc, log) == 0, log.read_text()[-3000:]
    assert not _processes_with(address)
