"""The Tiled catalog: every stored run ingested from the durable local log, off the RunEngine's path.

The RunEngine's process never talks to Tiled. It writes each run to its local file
(:class:`~femtospin.acquisition.storage._storage.RunWriter`) and makes sure an *ingest
service* is running for its data directory: a separate process that ingests every
finished run file (measured runs and their analysis runs) into Tiled, remembers
what it has ingested in a ledger, and retries with back-off while Tiled is down or
slow. A run measured while the catalog is unreachable is ingested when it comes
back, or by the next service started for that directory.

Targets: ``embedded`` runs a ``SimpleTiledServer`` over ``<data_dir>/catalog/tiled``
inside the service (127.0.0.1, a random port); a URI names a lab's Tiled server.
One service per data directory and target, held by a lock file, shared by every
femtospin process (a measurement, ``femtospin ls`` in another terminal, the queue
server). It stops by itself after :func:`linger_s` with nothing to do.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ._storage import ANALYSIS_INFIX, locked, read_documents

POLL_S = 0.5
ENV_URI = "FEMTOSPIN_INGEST_CATALOG"  # how the ingest service gets a lab catalog's URI (and its api key)
STARTUP_TIMEOUT_S = 60.0


def _setting(name: str, default: float) -> float:
    """$FEMTOSPIN_CATALOG_<name>, read when used (tests and slow machines change these)."""
    return float(os.environ.get(f"FEMTOSPIN_CATALOG_{name}", default))


def linger_s() -> float:
    return _setting("LINGER_S", 300.0)  # seconds the service stays up with nothing to do


def max_backoff_s() -> float:
    return _setting("BACKOFF_S", 30.0)  # longest wait between tries while the catalog is down


def client_timeout_s() -> float:
    return _setting("TIMEOUT_S", 10.0)  # per request: a hung server delays only the ingest


class CatalogError(RuntimeError):
    """The catalog cannot be reached or cannot answer."""


@dataclass(frozen=True)
class Target:
    """Where the runs of one data directory are catalogued: embedded (``uri=None``) or a Tiled server."""

    data_dir: Path
    uri: str | None = None

    @property
    def key(self) -> str:
        if self.uri is None:
            return "embedded"
        public = urlunsplit(urlsplit(self.uri)._replace(query="", fragment=""))  # the api key is not identity
        return hashlib.sha1(public.encode()).hexdigest()[:12]

    @property
    def folder(self) -> Path:
        return self.data_dir / "catalog"

    def file(self, kind: str, suffix: str) -> Path:
        return self.folder / f"{kind}-{self.key}.{suffix}"

    @property
    def status_path(self) -> Path:
        return self.file("service", "json")

    @property
    def ledger_path(self) -> Path:
        return self.file("ingested", "txt")


def parse_catalog(spec: str | None, data_dir: Path) -> Target | None:
    """``--catalog``: ``embedded`` (the default), ``off``, or the http(s) URI of a Tiled server.

    Raises
    ------
    ValueError
        Anything else, naming the value.
    """
    spec = spec if spec is not None else os.environ.get("FEMTOSPIN_CATALOG", "embedded")
    if spec == "off":
        return None
    if spec == "embedded":
        return Target(Path(data_dir).resolve())
    if urlsplit(spec).scheme in ("http", "https") and urlsplit(spec).netloc:
        return Target(Path(data_dir).resolve(), spec)
    raise ValueError(f"--catalog {spec!r}: give 'embedded', 'off' or the http(s) URI of a Tiled server")


# --- the client side: any femtospin process -------------------------------------------------------------------


def _running(target: Target) -> bool:
    return locked(target.file("service", "lock"))


def ensure_service(target: Target) -> bool:
    """Start the ingest service for ``target`` unless one is running, and tell it there is work; True if
    it started one.

    Cheap and non-blocking (a lock probe, a touch, at most a process spawn), so it
    may be called from a RunEngine callback.
    """
    target.folder.mkdir(parents=True, exist_ok=True)
    target.file("service", "poke").touch()
    if _running(target):
        return False
    cmd = [sys.executable, "-c",
           "import sys; from femtospin.acquisition.storage._catalog import _main; sys.exit(_main())",
           str(target.data_dir),
           "--linger", str(linger_s())]
    # the URI may carry an api key: by environment (readable by this user only), never the command line (`ps`)
    env = {k: v for k, v in os.environ.items() if k != ENV_URI}
    if target.uri is not None:
        env[ENV_URI] = target.uri
    # its own session: Ctrl-C at the terminal stops the measurement, not the ingest of what was measured
    with open(target.file("service", "log"), "ab") as log:
        subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, env=env)
    return True


def read_status(target: Target) -> dict | None:
    try:
        return json.loads(target.status_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def wait_synced(target: Target, timeout_s: float = STARTUP_TIMEOUT_S) -> dict:
    """Start the service if needed and wait until it has tried every finished run; returns its status.

    Waits at most ``timeout_s`` for the service to start or to ingest its next run.

    Raises
    ------
    CatalogError
        The service did not start or did not finish a pass in time.
    """
    was_running = not ensure_service(target)
    asked = time.time()
    deadline, progress = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        status = read_status(target)
        if status and status.get("pass_started", 0) >= asked and status.get("pass_done"):
            return status
        if status and status.get("ingested") != progress:  # a long backlog: wait while it moves
            progress, deadline = status.get("ingested"), time.monotonic() + timeout_s
        if _running(target):
            was_running = True
        elif was_running and status is None:  # it left (idle) just as we asked: start another
            was_running = not ensure_service(target)
        time.sleep(0.1)
    log = target.file("service", "log")
    raise CatalogError(f"the catalog service for {target.data_dir} did not answer within {timeout_s:g} s "
                       f"(its log: {log})")


def stop_service(target: Target, timeout_s: float = 20.0) -> None:
    """Stop the target's service, if one runs, and wait for it to exit."""
    deadline = time.monotonic() + timeout_s
    while _running(target) and time.monotonic() < deadline:
        pid = target.file("service", "lock").read_text().strip()  # written right after the lock is taken
        if pid.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)
        time.sleep(0.05)


def probe_timeout_s() -> float:
    return _setting("PROBE_S", 5.0)  # how long a command waits for a lab's server to answer at all


def probe(target: Target, timeout_s: float | None = None) -> None:
    """Check that a lab's Tiled server answers at all, before a command waits on it.

    One request with a short timeout, from the command's own process: an unreachable or
    hung server is one line within seconds (a Tiled client retries for up to 45 s), and no
    ingest service is started for it. Any HTTP answer (even 401) counts: the server is there.

    Raises
    ------
    CatalogError
        No answer within ``timeout_s``.
    """
    import httpx

    if target.uri is None:
        return
    timeout_s = probe_timeout_s() if timeout_s is None else timeout_s
    try:
        httpx.get(target.uri, timeout=timeout_s, follow_redirects=True)
    except httpx.HTTPError as exc:
        why = f"no answer within {timeout_s:g} s" if isinstance(exc, httpx.TimeoutException) else str(exc)
        raise CatalogError(f"the catalog at {_public(target.uri)} does not answer ({why}); runs stay in "
                           f"{target.data_dir} and go in when it is back") from None


class _FamiliesOnly(Mapping):
    """Tiled's client classes by structure family, without the ones chosen by a node's spec.

    A run's spec makes Tiled build bluesky-tiled-plugins' run client, whose import alone costs
    more than a second; a command that only reads metadata does not need it.
    """

    def __init__(self, base):
        from tiled.structures.core import StructureFamily

        self._base, self._families = base, {f.value for f in StructureFamily}

    def __getitem__(self, key):
        if key not in self._families:
            raise KeyError(key)
        return self._base[key]

    def __iter__(self):
        return iter(self._families)

    def __len__(self):
        return len(self._families)


def connect(target: Target, status: dict | None = None, *, metadata_only: bool = False):
    """A Tiled client of the target's catalog (for the embedded server, the service's address).

    ``metadata_only`` skips the bluesky run clients: nodes are plain containers, enough to read metadata.
    """
    from tiled.client import from_uri
    from tiled.client.container import DEFAULT_STRUCTURE_CLIENT_DISPATCH

    uri = target.uri or (status or read_status(target) or {}).get("uri")
    if uri is None:
        raise CatalogError(f"no catalog service is running for {target.data_dir}")
    clients = _FamiliesOnly(DEFAULT_STRUCTURE_CLIENT_DISPATCH["numpy"]) if metadata_only else "numpy"
    try:
        return from_uri(uri, timeout=_timeout(), structure_clients=clients)
    except Exception as exc:  # noqa: BLE001 — httpx, tiled and socket errors alike: the server cannot be used
        raise CatalogError(f"cannot reach the catalog at {_public(uri)}: {exc}") from exc


def catalog_client(data_dir: str | Path, uri: str | None = None):
    """A Tiled client of the runs stored in ``data_dir``, once its ingest service has caught up.

    ``uri`` names a lab's Tiled server; by default the embedded one. ``client[uid]``
    is a run: ``.metadata["start"]``, ``["primary"].read()`` (an xarray Dataset).
    """
    target = Target(Path(data_dir).expanduser().resolve(), uri)
    return connect(target, wait_synced(target))


def _timeout():
    import httpx

    return httpx.Timeout(client_timeout_s())


def _public(uri: str) -> str:
    return urlunsplit(urlsplit(uri)._replace(query=""))


# --- the service ------------------------------------------------------------------------------------------------


def _signature(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _order(path: Path) -> tuple:
    # measured runs before their analysis runs, oldest first
    return ANALYSIS_INFIX in path.name, (_signature(path) or (0,))[0]


def _transient(exc: Exception) -> bool:
    """A failure that says nothing about the run: the server is unreachable, timed out, overloaded or broken."""
    import httpx

    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and (exc.response.status_code >= 500
                                                       or exc.response.status_code == 429)


class Ingester:
    """Ingests the finished run files of ``target.data_dir`` that its ledger does not list yet."""

    def __init__(self, target: Target, uri: str):
        self.target, self.uri = target, uri
        self.client = None
        self.failed: dict[str, tuple[tuple, str]] = {}  # file -> (its stat, why it cannot be read)
        self.damaged: dict[str, str] = {}  # what of an ingested file was left out -> the file
        self.waiting: list[str] = []  # files still being written or not yet ingested
        self.error: str | None = None  # why the catalog could not be used in the last pass
        self.writing = False  # the last pass saw a run file still being written
        self.progressed = False  # the last pass ingested something
        self.ingested = set(target.ledger_path.read_text().split()) if target.ledger_path.exists() else set()

    def sync(self, report=lambda: None) -> bool:
        """One pass over the directory; False when the catalog could not be used (retry later).

        ``report()`` is called once what is pending is known, before the catalog is asked anything.
        """
        self.waiting = []
        self.writing, self.progressed = False, False
        todo = []
        for path in self.target.data_dir.glob("*.jsonl"):
            if path.name in self.ingested:
                continue
            sig = _signature(path)
            if sig is None or (path.name in self.failed and self.failed[path.name][0] == sig):
                continue  # gone, or unreadable and unchanged
            self.failed.pop(path.name, None)
            if locked(path):
                self.waiting.append(path.name)
                self.writing = True
            else:
                todo.append(path)
        todo.sort(key=_order)
        self.waiting += [p.name for p in todo]
        report()
        for path in todo:
            try:
                docs, problems = read_documents(path)
            except (ValueError, OSError) as exc:
                docs, why = None, str(exc)
            else:
                self.damaged.update(dict.fromkeys(problems, path.name))
            if (docs is None or docs[-1][0] != "stop") and locked(path):
                self.writing = True
                continue  # created but not yet locked when first looked at: it is being written
            self.waiting.remove(path.name)
            if docs is None:
                self.failed[path.name] = (_signature(path), why)
                continue
            try:
                self._ingest(docs)
            except Exception as exc:  # noqa: BLE001 — classified below
                self.client = None
                if _transient(exc):  # the server is down, slow or overloaded: keep this and the rest for later
                    self.waiting.append(path.name)
                    self.error = f"{type(exc).__name__}: {exc}"
                    return False
                self.failed[path.name] = (_signature(path), f"{path}: the catalog refused it: {exc}")
                continue
            self.ingested.add(path.name)
            self.progressed = True
            with open(self.target.ledger_path, "a") as ledger:
                ledger.write(path.name + "\n")
            report()  # progress, so a client waiting on a long backlog sees it move
        self.error = None
        return True

    def _ingest(self, docs: list[tuple[str, dict]]) -> None:
        from bluesky_tiled_plugins import TiledWriter
        from tiled.client import from_uri

        if self.client is None:
            self.client = from_uri(self.uri, timeout=_timeout())
        uid = docs[0][1]["uid"]
        finished = docs[-1][0] == "stop"
        if uid in self.client:
            if self.client[uid].metadata.get("stop") or not finished:
                return  # already there, e.g. the ledger was lost
            if self.target.uri is not None:  # a lab's server may have other writers: never delete there
                raise ValueError(f"run {uid} is in the catalog without its stop document; delete it there to "
                                 "ingest it again")
            self.client.delete_contents(uid, recursive=True, external_only=False)  # our ingest, cut short
        # a finished run in one batch (each request costs a round trip); TiledWriter writes a batch only when
        # it is full or at the stop document, so a run cut off by a crash goes event by event
        writer = TiledWriter(self.client, batch_size=len(docs) + 1 if finished else 1)
        for name, doc in docs:
            writer(name, doc)

    def status(self, **extra) -> dict:
        return {"pending": self.waiting, "failed": {name: why for name, (_, why) in self.failed.items()},
                "damaged": sorted(self.damaged),
                "error": self.error, "ingested": len(self.ingested), **extra}


def run_service(target: Target, *, linger: float) -> int:
    """The ingest service's main loop (see :func:`ensure_service` for how it is started)."""
    target.folder.mkdir(parents=True, exist_ok=True)
    lock = open(target.file("service", "lock"), "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another service got there first
    lock.truncate(0)
    lock.write(str(os.getpid()))  # for stop_service, before anything slow
    lock.flush()
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    server = None
    if target.uri is None:
        from tiled.server import SimpleTiledServer

        server = SimpleTiledServer(target.folder / "tiled")  # binds 127.0.0.1
    uri = target.uri or server.uri
    ingester = Ingester(target, uri)
    started = time.time()
    poke = target.file("service", "poke")
    poked = _mtime(poke)
    last_activity, backoff = time.monotonic(), POLL_S
    try:
        while not stopping:
            pass_started = time.time()

            def report(done: bool, pass_started=pass_started):
                _write_json(target.status_path, ingester.status(
                    pid=os.getpid(), uri=server.uri if server else None, started=started,
                    pass_started=pass_started, pass_done=done, updated=time.time()))

            ok = ingester.sync(lambda: report(False))
            report(True)
            # a client asking (ensure_service touches the poke file), a run being written or a run ingested keeps
            # it up. Runs waiting for a catalog that does not answer do not: they stay in the data directory, out
            # of the ledger, and the next service (any femtospin command starts one) ingests them
            if _mtime(poke) != poked or ingester.writing or ingester.progressed:
                poked, last_activity = _mtime(poke), time.monotonic()
            if time.monotonic() - last_activity > linger:
                break
            backoff = POLL_S if ok else min(max_backoff_s(), backoff * 2)
            if _sleep(backoff, stopping, poke, poked):
                backoff = POLL_S  # a client is waiting: try now
    finally:
        with contextlib.suppress(FileNotFoundError):
            target.status_path.unlink()
        if server is not None:
            server.close()
    return 0


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _sleep(seconds: float, stopping: list, poke: Path, poked) -> bool:
    """Sleep up to ``seconds``; True if a client poked meanwhile."""
    end = time.monotonic() + seconds
    while not stopping and time.monotonic() < end:
        if _mtime(poke) != poked:
            return True
        time.sleep(min(0.1, max(0.0, end - time.monotonic())))
    return False


def _write_json(path: Path, data: dict) -> None:
    """Replace ``path`` with ``data`` at once; the file is 0600 (the status holds the embedded server's api key)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600, exclusive
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m femtospin.acquisition.storage._catalog",
                                     description="Ingest a data directory's runs into Tiled.")
    parser.add_argument("data_dir")
    parser.add_argument("--catalog", default=os.environ.pop(ENV_URI, None),
                        help=f"the URI of a Tiled server (default: ${ENV_URI}, else embedded)")
    parser.add_argument("--linger", type=float, default=linger_s(), help="seconds to stay up with nothing to do")
    args = parser.parse_args(argv)
    # the service retries with its own back-off and reports why; the client's own retries (45 s) would hide that
    os.environ.setdefault("TILED_RETRY_ATTEMPTS", "2")
    return run_service(Target(Path(args.data_dir).resolve(), args.catalog), linger=args.linger)

