"""After a killed process: close the runs it left open and bring the table back to safe.

A SIGKILLed worker of ``femtospin serve`` writes no stop document and runs no
cleanup. The next start finds such runs (no stop document, no process holding the
file's lock) and appends an ``abort`` stop, so every reader sees a finished run;
the worker then makes the table safe the way plans do before it accepts work.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from pathlib import Path

from ._storage import read_documents

REASON = "closed on the next start of femtospin serve: no stop document (its process was killed)"


def close_unfinished(directory: str | Path, reason: str = REASON) -> list[str]:
    """Append an ``abort`` stop document to every run file in ``directory`` left without one.

    Files being written (their lock held by a live process) are left alone; a
    line cut off by the kill is dropped first, so the file stays readable.

    Returns
    -------
    list of str
        The uids of the runs closed.
    """
    closed = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        uid = _close(path, reason)
        if uid is not None:
            closed.append(uid)
    return closed


def _close(path: Path, reason: str) -> str | None:
    try:
        f = open(path, "r+b")
    except OSError:
        return None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a writer that is alive: not ours to close
        except BlockingIOError:
            return None
        try:
            docs, _ = read_documents(path)
        except ValueError:
            return None  # a corrupt file is reported by its readers, not guessed at here
        if any(name == "stop" for name, _ in docs):
            return None
        _drop_partial_line(f)
        start = docs[0][1]
        f.seek(0, os.SEEK_END)
        f.write((json.dumps(["stop", _stop(start, docs, reason)], separators=(",", ":")) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())
        return start.get("uid")


def _drop_partial_line(f) -> None:
    """Cut a last line the kill left unfinished (it holds no whole document)."""
    f.seek(0)
    data = f.read()
    if data and not data.endswith(b"\n"):
        f.truncate(data.rfind(b"\n") + 1)


def _stop(start: dict, docs: list[tuple[str, dict]], reason: str) -> dict:
    streams = {d["uid"]: d.get("name", "primary") for name, d in docs if name == "descriptor"}
    counts = dict.fromkeys(streams.values(), 0)
    for name, doc in docs:
        if name in ("event", "event_page"):
            stream = streams.get(doc.get("descriptor"), "primary")
            counts[stream] = counts.get(stream, 0) + (len(doc["seq_num"]) if name == "event_page" else 1)
    return {"run_start": start.get("uid"), "time": time.time(), "uid": str(uuid.uuid4()), "exit_status": "abort",
            "reason": reason, "num_events": counts}


def make_table_safe(table, run_engine) -> str:
    """Bring ``table`` to its safe state through its plans' own :func:`make_safe`.

    Raises
    ------
    UnsafeTableError
        A device could not be brought back (each named by its lines).
    """
    from femtospin.plans import make_safe

    run_engine(make_safe(table.stage, table.magnet, table.heater))
    return "field 0, heater at its safe setpoint, stage parked"
