"""``femtospin serve``: bluesky-queueserver's RE manager over the project's plans and one table.

The worker imports :mod:`femtospin.acquisition.remote._qserver_startup`, whose RunEngine is
a :class:`Session`'s (durable storage, baseline, live analysis, laser watch, table
attached), so a queued run is stored exactly like a ``femtospin run`` run. Its
namespace holds only that RunEngine, the table's devices by role and the project's
plans, and the user-group permissions allow those plans and no function.

A queue item names a plan and its measurement arguments; the table fills in the
devices by role, as ``femtospin run`` does (``thz_emission(delays=[...],
magnetization=[1, -1])``): a table has one device per role, so a client naming
them could only get them wrong.
"""

from __future__ import annotations

import errno
import inspect
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from femtospin.devices import ROLES, plan_devices
from femtospin.plans import PLANS

from ..cli._cmd_catalog import catalog_option, data_dir_option
from ..storage._catalog import parse_catalog
from ..storage._recover import close_unfinished
from ..storage._storage import data_directory
from ._redis import RedisServer, RedisUnavailable, die_with_parent, ping

STARTUP_MODULE = "femtospin.acquisition.remote._qserver_startup"
ENV_PROFILE = "FEMTOSPIN_SERVE_PROFILE"  # how `serve` tells the worker's startup module what to build
ENV_CATALOG = "FEMTOSPIN_SERVE_CATALOG"
ENV_CLOSED = "FEMTOSPIN_SERVE_CLOSED"  # runs `serve` closed on start: the worker makes the table safe first
HIDDEN = ("plan_name",)  # thz_emission's label for the plans built on it, not a measurement argument
DEVICE_ARGUMENTS = ("readables", "setup")  # devices, or the table's own description: never a client's
CLIENT_METADATA = ("sample", "operator", "note", "purpose")  # everything else in a start document is the server's
SAMPLE_KEYS = ("name", "stack", "substrate", "cap")
MAX_TEXT = 2000  # characters of one metadata value: a note, not a file
USER_GROUPS = ("root", "primary")  # root bounds every group; primary is the clients' default group
READY_TIMEOUT_S = 60.0
START_MANAGER = ("import sys; from bluesky_queueserver.manager.start_manager import start_manager; "
                 "sys.argv[0] = 'start-re-manager'; sys.exit(start_manager())")


class ServeError(RuntimeError):
    """The queue server could not be started."""


class QueueItemError(ValueError):
    """A queue item asks for what only the server may set; its message is the item's one-line error."""


def _text(key: str, value) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise QueueItemError(f"md[{key!r}]: give text of at most {MAX_TEXT} characters")
    return value


def client_metadata(md, sample: dict | None = None) -> dict:
    """The metadata a queue client may add to a run's start document, checked.

    Parameters
    ----------
    md : dict
        The client's metadata: only :data:`CLIENT_METADATA` keys, text values;
        ``sample`` a mapping of :data:`SAMPLE_KEYS` to text.
    sample : dict, optional
        The table's sample, which the client's ``sample`` entries amend.

    Returns
    -------
    dict
        The metadata to store.

    Raises
    ------
    QueueItemError
        A reserved key (``analysis_of``, ``plan_name``, ``num_points``, ``uid``, …) or a value of
        the wrong form, named in one line.
    """
    if md is None:
        return {}
    if not isinstance(md, dict):
        raise QueueItemError("md: give a mapping of " + ", ".join(CLIENT_METADATA))
    reserved = sorted(str(k) for k in md if k not in CLIENT_METADATA)
    if reserved:
        raise QueueItemError(f"md: {', '.join(map(repr, reserved))[:200]} set by the server; "
                             f"a client may set only {', '.join(CLIENT_METADATA)}")
    out = {k: _text(k, v) for k, v in md.items() if k != "sample"}
    if "sample" in md:
        given = md["sample"]
        if not isinstance(given, dict) or not set(given) <= set(SAMPLE_KEYS):
            raise QueueItemError(f"md['sample']: give a mapping of {', '.join(SAMPLE_KEYS)} to text")
        out["sample"] = {**(sample or {}), **{k: _text(f"sample.{k}", v) for k, v in given.items()}}
    return out


def _refuse_devices(kwargs: dict, roles) -> None:
    """Devices come from the table by role, never from a queue item (by name or otherwise)."""
    named = sorted(k for k in kwargs if k in roles or k in DEVICE_ARGUMENTS or k in HIDDEN or k in ROLES)
    if named:
        raise QueueItemError(f"{', '.join(named)}: the table fills in devices and its setup; "
                             "a queue item gives only the measurement's arguments")


def queue_plans(table, laser=None) -> dict:
    """The project's plans as queue items call them: the table's devices by role filled in.

    Each wrapper's signature is the plan's without its device roles, every
    argument by keyword, so the queue server validates items against it; calling
    it validates the arguments as the plan does (a bad item fails before anything
    moves). With ``laser`` (a :class:`LaserWatch`), the power meter is polled while
    the plan runs, as :meth:`Session.run` does.

    Parameters
    ----------
    table : Table
        The table whose devices fill the roles.
    laser : LaserWatch, optional
        The session's laser-drop watch.

    Returns
    -------
    dict
        Plan name → plan for the RE worker's namespace.
    """
    return {name: _queue_plan(plan, table, laser) for name, plan in PLANS.items()}


def _queue_plan(plan, table, laser):
    roles = plan_devices(table, plan)
    signature = inspect.signature(plan, eval_str=True)  # real types, which the queue server checks items against
    hidden = {*roles, *HIDDEN, *DEVICE_ARGUMENTS}
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
              else p for p in signature.parameters.values() if p.name not in hidden]
    sample = table.metadata.get("sample")

    def queued(**kwargs):
        _refuse_devices(kwargs, roles)  # plans taking **kwargs would pass them on
        if "md" in kwargs:
            kwargs["md"] = client_metadata(kwargs["md"], sample)
        measurement = plan(**roles, **kwargs)
        return measurement if laser is None else _watched(measurement, laser)

    queued.__name__ = queued.__qualname__ = plan.__name__
    queued.__doc__, queued.__module__ = plan.__doc__, plan.__module__
    queued.__signature__ = signature.replace(parameters=params)
    queued._is_plan_ = True  # plans return a Measurement, not a generator: mark them for the queue server
    return queued


def _watched(measurement, laser):
    with laser:
        return (yield from measurement)


def permissions(plan_names) -> dict:
    """User-group permissions: ``plan_names`` only, no device (the table fills them in, so an item naming
    one is refused and no string of an item becomes a device), no function."""
    rules = {"allowed_plans": list(plan_names), "forbidden_plans": [None],
             "allowed_devices": [], "forbidden_devices": [None],
             "allowed_functions": [], "forbidden_functions": [None]}
    return {"user_groups": {group: dict(rules) for group in USER_GROUPS}}


def _check_profile(profile: str) -> None:
    """Everything the file says, checked now; connecting waits for the worker (a real table's
    instruments would otherwise be opened twice)."""
    from .._profiles import SIM_PROFILES

    if profile in SIM_PROFILES:
        return
    from .._profile_file import ProfileError, read_profile_file

    try:
        read_profile_file(profile)
    except ProfileError as exc:
        raise ServeError(f"--profile: {exc}") from None


def _check_port(host: str, port: int, option: str) -> None:
    """Refuse a port another process listens on, before anything starts: the manager would not bind it, and
    ``serve`` would then talk to (and on Ctrl-C stop) the other server."""
    if not 0 < port < 65536:
        raise ServeError(f"{option} {port}: give a port between 1 and 65535")
    address = "0.0.0.0" if host in ("0.0.0.0", "*") else host
    try:
        family = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError):
        raise ServeError(f"--host {host}: not an address of this machine") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ZMQ binds: TIME_WAIT is no user
        try:
            probe.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(f"{option} {port}: {host}:{port} is in use (another femtospin serve?); "
                                 f"choose another port") from None
            raise ServeError(f"--host {host}: cannot listen on {host}:{port} ({exc.strerror})") from None


class QueueServer:
    """Redis (unless ``redis_addr`` names a running one) and a RE manager over one table.

    Parameters
    ----------
    profile : str
        ``sim``, ``sim:fast`` or a profile file.
    data_dir : str or Path, optional
        Where runs are stored (default as ``femtospin run``).
    host : str
        Address the manager's ZMQ sockets bind to.
    zmq_port, info_port : int
        Control port (requests) and info port (console output).
    redis_addr : str, optional
        ``HOST:PORT`` of a running Redis; by default a private one is started.
    catalog : str, optional
        ``embedded`` (default), ``off`` or a Tiled URI, as ``--catalog`` of the other commands;
        the worker's :class:`Session` keeps the catalog fed.
    """

    def __init__(self, profile: str, data_dir=None, *, host: str = "127.0.0.1", zmq_port: int = 60615,
                 info_port: int = 60625, redis_addr: str | None = None, catalog: str | None = None):
        _check_profile(profile)
        _check_port(host, zmq_port, "--zmq-port")
        _check_port(host, info_port, "--zmq-info-port")
        self.data_dir = data_directory(data_dir).expanduser().resolve()
        try:
            target = parse_catalog(catalog, self.data_dir)
        except ValueError as exc:
            raise ServeError(str(exc)) from None
        self.profile, self.redis_addr = profile, redis_addr
        self.catalog = "off" if target is None else (target.uri or "embedded")
        self.bind = f"tcp://{host}:{zmq_port}"
        self.info_bind = f"tcp://{host}:{info_port}"
        public = socket.gethostname() if host in ("0.0.0.0", "*") else host
        self.control_addr = f"tcp://{public}:{zmq_port}"  # what clients connect to
        self.info_addr = f"tcp://{public}:{info_port}"
        self._local_addr = f"tcp://{'127.0.0.1' if host in ('0.0.0.0', '*') else host}:{zmq_port}"  # for `serve`
        self.redis: RedisServer | None = None
        self.manager: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None
        self.closed: list[str] = []  # runs a killed process left open, closed by :meth:`start`

    def start(self) -> QueueServer:
        """Close the runs a killed worker left open (:attr:`closed`), start Redis and the manager; return once
        the manager answers requests. The worker makes the table safe when it opens, if runs were closed.

        Raises
        ------
        ServeError
            Redis unavailable, or the manager exited or did not answer in time.
        """
        try:
            if self.redis_addr is None:
                self.redis = RedisServer()
                self.redis.start()
                self.redis_addr = self.redis.address
            elif not ping(self.redis_addr):
                raise ServeError(f"--redis-addr: no Redis answers at {self.redis_addr}")
        except RedisUnavailable as exc:
            raise ServeError(str(exc)) from None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.closed = close_unfinished(self.data_dir)
        self._dir = tempfile.TemporaryDirectory(prefix="femtospin-serve-")
        config = Path(self._dir.name)
        (config / "user_group_permissions.yaml").write_text(yaml.safe_dump(permissions(PLANS)))
        env = {**os.environ, ENV_PROFILE: self.profile, "FEMTOSPIN_DATA": str(self.data_dir),
               "MPLBACKEND": "Agg"}  # nobody watches the server's screen: the report PNG is the figure
        env[ENV_CATALOG] = self.catalog
        env[ENV_CLOSED] = ",".join(self.closed)
        command = [sys.executable, "-c", START_MANAGER, "--startup-module", STARTUP_MODULE,
                   "--existing-plans-devices", str(config / "existing_plans_and_devices.yaml"),
                   "--user-group-permissions", str(config / "user_group_permissions.yaml"),
                   "--zmq-control-addr", self.bind, "--zmq-info-addr", self.info_bind, "--zmq-publish-console", "ON",
                   "--redis-addr", self.redis_addr, "--redis-name-prefix", "femtospin"]
        # its own session: a Ctrl-C in the terminal reaches only `serve`, which stops the manager in order
        self.manager = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=die_with_parent())
        self._wait_ready()
        return self

    def _api(self, timeout_s: float = 2.0):
        from bluesky_queueserver_api.zmq import REManagerAPI

        # poll often: stopping waits on the manager's state several times
        return REManagerAPI(zmq_control_addr=self._local_addr, timeout_recv=timeout_s, status_polling_period=0.1,
                            status_expiration_period=0.05)

    def _wait_ready(self) -> None:
        api, deadline = self._api(0.5), time.monotonic() + READY_TIMEOUT_S
        try:
            while True:
                if self.manager.poll() is not None:
                    raise ServeError(f"the RE manager exited with code {self.manager.returncode} (its output above)")
                try:
                    api.status()
                    return
                except Exception:  # noqa: BLE001 — not listening yet
                    if time.monotonic() > deadline:
                        raise ServeError(f"the RE manager did not answer at {self.control_addr} "
                                         f"within {READY_TIMEOUT_S:g} s") from None
                    time.sleep(0.05)
        finally:
            api.close()

    def stop(self) -> None:
        """Abort a running plan (its cleanup leaves the table safe and the run is stored), close the worker
        environment, stop the manager, then Redis. Falls back to SIGTERM, then SIGKILL, if the manager does
        not answer."""
        if self.manager is not None and self.manager.poll() is None:
            try:
                self._stop_in_order()
                self.manager.wait(10)
            except Exception as exc:  # noqa: BLE001 — then terminate it (its worker is killed, not cleaned up)
                print(f"serve: the RE manager did not stop in order ({exc}); terminating it", file=sys.stderr)
                self.manager.terminate()
                try:
                    self.manager.wait(10)
                except subprocess.TimeoutExpired:
                    self.manager.kill()
                    self.manager.wait()
        if self.redis is not None:
            self.redis.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _stop_in_order(self) -> None:
        api = self._api()
        try:
            status = api.status()
            if status["manager_state"] == "executing_queue":
                api.re_pause("immediate")
                api.wait_for_idle_or_paused(timeout=30)
                status = api.status()
            if status["manager_state"] == "paused":
                api.re_abort()
                api.wait_for_idle(timeout=60)
            if status["worker_environment_exists"]:
                api.environment_close()
                api.wait_for_condition(lambda s: not s["worker_environment_exists"], timeout=30)
            api.send_request(method="manager_stop", params={"option": "safe_on"})
        finally:
            api.close()


def register(sub) -> None:
    serve = sub.add_parser(
        "serve", help="queue server for remote clients (bluesky-queueserver)",
        description="Start bluesky-queueserver's RE manager with the project's plans and the table's devices by "
                    "role; queued runs are stored as `femtospin run` stores them. Starts a private Redis (Debian's "
                    "redis-server, installed with apt-get if missing) unless --redis-addr names one. Clients connect "
                    "with bluesky-queueserver-api to the printed control address. Ctrl-C stops everything.")
    serve.add_argument("--profile", default="sim", help="sim, sim:fast or a profile file (default sim)")
    data_dir_option(serve)
    catalog_option(serve)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address the manager binds to (default 127.0.0.1: this machine only; to accept other "
                            "machines give their interface, and consider ZMQ encryption: "
                            "QSERVER_ZMQ_PRIVATE_KEY_FOR_SERVER)")
    serve.add_argument("--zmq-port", type=int, default=60615, help="control port for requests (default 60615)")
    serve.add_argument("--zmq-info-port", type=int, help="port publishing console output (default control + 10)")
    serve.add_argument("--redis-addr", metavar="HOST:PORT", help="a running Redis to use instead of a private one")
    serve.set_defaults(func=_serve)


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops `serve` the way Ctrl-C does


def _serve(args) -> int:
    try:
        server = QueueServer(args.profile, args.data_dir, host=args.host, zmq_port=args.zmq_port,
                             info_port=args.zmq_info_port or args.zmq_port + 10, redis_addr=args.redis_addr,
                             catalog=args.catalog)
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        server.start()
        print(f"femtospin serve: RE manager at {server.control_addr} (console output at {server.info_addr}), "
              f"profile {args.profile}, runs in {server.data_dir}, Redis at {server.redis_addr}", flush=True)
        for uid in server.closed:
            print(f"femtospin serve: run {uid} had no stop document (its process was killed); closed it as "
                  "aborted", flush=True)
        if server.closed:
            print("femtospin serve: the table is made safe when the environment opens, before any plan", flush=True)
        print("open the environment from a client to load the table; Ctrl-C stops", flush=True)
        while server.manager.poll() is None:
            time.sleep(0.2)
        print(f"error: the RE manager exited with code {server.manager.returncode}", file=sys.stderr)
        code = 1
    except ServeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        pass
    finally:
        for signum in previous:  # an orderly stop is not cut short by a second Ctrl-C
            signal.signal(signum, signal.SIG_IGN)
        try:
            server.stop()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    print("femtospin serve: stopped", flush=True)
    return code
