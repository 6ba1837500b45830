"""Durable per-run storage: every document appended to ``<uid>.jsonl``, flushed per document.

One line per document, ``[name, doc]`` in JSON. Flushing hands each line to the
operating system before the RunEngine moves on, so a crash or SIGKILL loses at
most the line being written; :func:`load_run` accepts a truncated last line and
nothing else. This is the source of truth; other services (a catalog) read from it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from argparse import ArgumentTypeError
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def data_directory(path: str | Path | None = None) -> Path:
    """Where runs are stored: ``path``, else $FEMTOSPIN_DATA, else ~/femtospin-data."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("FEMTOSPIN_DATA", Path.home() / "femtospin-data"))

BYTES_PER_POINT = 4096  # an event with every readback, its analysis rows and the catalog's copy, generously


def check_data_directory(directory: str | Path, points: int = 0) -> Path:
    """The data directory, if runs can be written there, checked without writing anything.

    Parameters
    ----------
    directory : str or Path
        Where the runs go (``~`` expanded); it need not exist yet.
    points : int
        Points the run will measure: the free space must hold them.

    Raises
    ------
    ValueError
        One line: a file in the way, no permission or a read-only disk, too little free space.
    """
    directory = Path(directory).expanduser()
    existing = directory
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"data directory {directory}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):  # also says no for a read-only file system
        raise ValueError(f"data directory {directory}: cannot write in {existing} (read-only or no permission)")
    free, needed = shutil.disk_usage(existing).free, (points + 256) * BYTES_PER_POINT
    if free < needed:
        raise ValueError(f"data directory {directory}: {free / 1e6:.1f} MB free, the run needs about "
                         f"{needed / 1e6:.1f} MB")
    return directory


ANALYSIS_INFIX = ".analysis."
UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # bluesky's uids: str(uuid4())
UID_PREFIX = re.compile(r"[0-9a-f-]{1,36}")


def run_id(text: str) -> str:
    """A run id as typed (a uid or a unique prefix of one): hexadecimal digits and dashes, nothing a path, a glob
    or a catalog query would read as more. For argparse: ``ValueError`` becomes the argument's one-line error."""
    if not UID_PREFIX.fullmatch(text):
        raise ArgumentTypeError(f"{text!r}: a run id is hexadecimal digits and dashes")
    return text


def checked_uid(uid, what: str = "run uid") -> str:
    """``uid`` if it is a run uid (a UUID in bluesky's form), the only thing a run's file name is built from.

    Raises
    ------
    ValueError
        Anything else (a path, ``..``, an absolute name), naming it.
    """
    if not isinstance(uid, str) or not UID.fullmatch(uid):
        raise ValueError(f"{what} {str(uid)[:80]!r} is not a run uid")
    return uid


def inside(directory: Path, name: str) -> Path:
    """``directory / name``, refused unless it stays directly in ``directory``."""
    path = Path(directory) / name
    if path.parent != Path(directory) or path.name in ("", ".", ".."):
        raise ValueError(f"{name!r} is not a file name inside {directory}")
    return path


def _encode(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in a run document")


class RunWriter:
    """RunEngine callback appending each run's documents to its own file in ``directory``.

    A run that analyzes another (start key ``analysis_of``) is written beside it
    as ``<measured uid>.analysis.<uid8>.jsonl``, so a run's fits are found by name.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._files: dict[str, object] = {}  # run uid -> open file
        self._run_of: dict[str, str] = {}  # descriptor uid -> run uid

    def path(self, uid: str, start: dict | None = None) -> Path:
        """The file of run ``uid``, built only from validated uids, inside :attr:`directory`.

        Raises
        ------
        ValueError
            ``uid`` or the start's ``analysis_of`` is not a run uid (a start document
            must not choose where it is written).
        """
        uid = checked_uid(uid)
        if start and "analysis_of" in start:
            measured = checked_uid(start["analysis_of"], "analysis_of")
            return inside(self.directory, f"{measured}{ANALYSIS_INFIX}{uid[:8]}.jsonl")
        return inside(self.directory, f"{uid}.jsonl")

    def __call__(self, name: str, doc: dict) -> None:
        line = json.dumps([name, doc], default=_encode, separators=(",", ":")) + "\n"  # before any file is touched
        if name == "start":
            self.directory.mkdir(parents=True, exist_ok=True)
            f = self._files[doc["uid"]] = open(self.path(doc["uid"], doc), "x", encoding="utf-8")  # never overwrite
            # held while the run is written; the system drops it if the process dies, so readers (the
            # catalog's ingester) can tell a run in progress from one cut off by a crash
            fcntl.flock(f, fcntl.LOCK_EX)
            run = doc["uid"]
        elif name == "descriptor":
            run = self._run_of[doc["uid"]] = doc["run_start"]
        elif name in ("event", "event_page"):
            run = self._run_of[doc["descriptor"]]
        elif name == "stop":
            run = doc["run_start"]
        else:  # resource, datum, ...: with several runs open only run_start can place them
            run = doc.get("run_start") or (next(iter(self._files)) if len(self._files) == 1 else None)
            if run is None:
                raise ValueError(f"cannot tell which run a {name!r} document belongs to")
        f = self._files[run]
        try:
            f.write(line)
            f.flush()
        except OSError as exc:  # a full disk: the message names the file it could not write
            raise OSError(exc.errno, exc.strerror, f.name) from None
        if name == "stop":
            os.fsync(f.fileno())  # a finished run survives a power cut too
            f.close()
            del self._files[run]
            self._run_of = {d: r for d, r in self._run_of.items() if r != run}


@dataclass
class StoredRun:
    """A run read back from its file: metadata, descriptors and events by stream."""

    path: Path
    start: dict
    stop: dict | None
    descriptors: list[dict] = field(default_factory=list)
    events: dict[str, list[dict]] = field(default_factory=dict)  # descriptor uid -> events
    problems: list[str] = field(default_factory=list)  # lines of the file that could not be read, named

    @property
    def uid(self) -> str:
        return self.start["uid"]

    @property
    def streams(self) -> list[str]:
        return sorted({d.get("name", "primary") for d in self.descriptors})

    def _descriptors(self, stream: str) -> list[dict]:
        found = [d for d in self.descriptors if d.get("name", "primary") == stream]
        if not found:
            raise KeyError(f"run {self.uid} has no stream {stream!r}; streams: {self.streams}")
        return found

    def table(self, stream: str = "primary") -> dict[str, np.ndarray]:
        """Columns of a stream: every data key plus ``seq_num`` and ``time``, in event order."""
        events = sorted((e for d in self._descriptors(stream) for e in self.events.get(d["uid"], [])),
                        key=lambda e: e["seq_num"])
        keys = list(self._descriptors(stream)[0]["data_keys"])
        columns = {k: np.array([e["data"][k] for e in events]) for k in keys}
        columns["seq_num"] = np.array([e["seq_num"] for e in events], int)
        columns["time"] = np.array([e["time"] for e in events], float)
        return columns

    def fits(self) -> list[dict]:
        """The final fit results stored with this run by the live analysis (newest analysis), one per group.

        Each is the ``femtospin analyze`` JSON plus ``group`` (the slow conditions) and
        ``n_points``; a group that could not be fitted has ``error`` instead.
        """
        analysis_run = self.analysis()
        return final_fits(analysis_run.table("fit")) if analysis_run and "fit" in analysis_run.streams else []

    def series(self) -> dict | None:
        """The series result stored with this run by the live analysis (newest analysis), if it is a series."""
        analysis_run = self.analysis()
        if analysis_run is None or "series" not in analysis_run.streams:
            return None
        return json.loads(str(analysis_run.table("series")["result_json"][-1]))

    def analysis(self) -> StoredRun | None:
        """The newest analysis run the live analysis stored beside this run, if any."""
        files = sorted(self.path.parent.glob(f"{self.uid}{ANALYSIS_INFIX}*.jsonl"), key=lambda p: p.stat().st_mtime)
        return read_run_file(files[-1]) if files else None

    def config(self, stream: str = "primary") -> dict[str, dict]:
        """Device configuration recorded in the stream's descriptor: {device: {key: value}}."""
        conf = self._descriptors(stream)[0].get("configuration", {})
        return {dev: dict(c.get("data", {})) for dev, c in conf.items()}


def final_fits(fit_stream: dict) -> list[dict]:
    """The final fits in the columns of an analysis run's "fit" stream (see :meth:`StoredRun.fits`)."""
    out = []
    for group, n, final, error, result in zip(fit_stream["group"], fit_stream["n_points"], fit_stream["final"],
                                               fit_stream["error"], fit_stream["result_json"]):
        if final:
            entry = {"group": json.loads(str(group)), "n_points": int(n)}
            entry.update(json.loads(str(result)) if result else {"error": str(error)})
            out.append(entry)
    return out


def find_run_file(uid: str, directory: str | Path) -> Path:
    """The file of run ``uid`` (a unique prefix is enough) in ``directory`` (``~`` is expanded)."""
    directory = Path(directory).expanduser()
    if not isinstance(uid, str) or not UID_PREFIX.fullmatch(uid):  # a glob pattern or a path would look elsewhere
        raise FileNotFoundError(f"no run {uid!r} in {directory}: a run id is hexadecimal digits and dashes")
    matches = sorted(p for p in directory.glob(f"{uid}*.jsonl") if ANALYSIS_INFIX not in p.name)
    if not matches:
        raise FileNotFoundError(f"no run {uid!r} in {directory}")
    if len(matches) > 1:
        raise ValueError(f"run id {uid!r} is ambiguous in {directory}: {[m.stem for m in matches]}")
    return matches[0]


def load_run(uid: str, directory: str | Path) -> StoredRun:
    """Read run ``uid`` back from ``directory``.

    A run cut off by a crash has ``stop = None`` and every event written before it.

    Raises
    ------
    FileNotFoundError, ValueError
        No such run, an ambiguous prefix, or a corrupt file (named with the line).
    """
    return read_run_file(find_run_file(uid, directory))


def locked(path: Path) -> bool:
    """Whether a process holds the lock of ``path``: a run file still being written, a service running.

    The system drops such a lock when its process dies, however it dies.
    """
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    except FileNotFoundError:
        return False


def read_documents(path: Path) -> tuple[list[tuple[str, dict]], list[str]]:
    """The documents of one run file, in the order written, and what had to be left out.

    A truncated last line (the process died while writing it) is dropped
    silently. Any other unreadable line loses that line, not the run: it is left
    out, with the events of a descriptor it held, and each loss is named (file,
    line, what went with it) in the second list. Only an unreadable start
    document, which says what the run is, raises ``ValueError``.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    complete = text.endswith("\n")
    docs, corrupt, descriptors, orphans = [], [], set(), 0
    for i, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            name, doc = json.loads(line)
            if not isinstance(name, str) or not isinstance(doc, dict):
                raise ValueError
        except (json.JSONDecodeError, ValueError, TypeError):
            if i == len(lines) and not complete:
                break  # the line being written when the process died
            if not docs:
                raise ValueError(f"{path}: line {i}, the start document, is corrupt") from None
            corrupt.append(i)
            continue
        if not docs and name != "start":
            raise ValueError(f"{path}: line {i} comes before the start document")
        if name == "descriptor":
            descriptors.add(doc.get("uid"))
        elif name in ("event", "event_page") and doc.get("descriptor") not in descriptors:
            orphans += 1  # its descriptor was on a corrupt line: no names or units to read it by
            continue
        docs.append((name, doc))
    if not docs:
        raise ValueError(f"{path}: no start document (empty file)")
    problems = [f"{path}: {'line' if len(corrupt) == 1 else 'lines'} {', '.join(map(str, corrupt))} "
                f"{'is' if len(corrupt) == 1 else 'are'} corrupt "
                f"and left out" + (f", with {orphans} event document(s) of a lost descriptor" if orphans else "")
                ] if corrupt else []
    return docs, problems


def read_run_file(path: Path) -> StoredRun:
    """Read one run file (see :func:`load_run`)."""
    docs, problems = read_documents(path)
    run = StoredRun(path=path, start=docs[0][1], stop=None, problems=problems)
    for name, doc in docs[1:]:
        if name == "descriptor":
            run.descriptors.append(doc)
            run.events.setdefault(doc["uid"], [])
        elif name == "event":
            run.events.setdefault(doc["descriptor"], []).append(doc)
        elif name == "event_page":
            n = len(doc["seq_num"])
            for j in range(n):
                run.events.setdefault(doc["descriptor"], []).append({
                    "descriptor": doc["descriptor"], "seq_num": doc["seq_num"][j], "time": doc["time"][j],
                    "uid": doc["uid"][j], "data": {k: v[j] for k, v in doc["data"].items()},
                    "timestamps": {k: v[j] for k, v in doc["timestamps"].items()},
                })
        elif name == "stop":
            run.stop = doc
    return run
