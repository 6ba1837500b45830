"""Damaged run files: a bad line loses that line, not the run, and the loss is named.

A run file is one JSON document per line, flushed as measured. Disks fill,
editors save, copies get cut: each damage below is done to a real run's file,
which must then read back with everything else intact and the damage named in
one line, by ``load_run`` and by ``femtospin replay``.
"""

from __future__ import annotations

import pytest

from femtospin.acquisition import load_run, main
from femtospin.plans import delay_scan


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    from femtospin.acquisition import Session, sim_profile

    data = tmp_path_factory.mktemp("recorded")
    table = sim_profile("CoFeB(5)|Pt(3)", fast=True, seed=2)
    (uid,) = Session(table, data).run(delay_scan(table.lockin, table.stage, list(range(-1100, 700, 50)),
                                                 magnet=table.magnet, magnetization=(1, -1)))
    path = data / f"{uid}.jsonl"
    return path.read_text().splitlines(keepends=True)


def _index(lines, prefix, nth=0):
    return [i for i, line in enumerate(lines) if line.startswith(prefix)][nth]


def _damage(lines, how):
    lines = list(lines)
    event = _index(lines, '["event"', 5)
    if how == "garbage line":
        lines[event] = "{garbage\n"
    elif how == "binary noise":
        lines[event] = "\x00\xff\x13 not json \x00\n"
    elif how == "cut line in the middle":
        lines[event] = lines[event][: len(lines[event]) // 2] + "\n"
    elif how == "valid JSON, wrong shape":
        lines[event] = "[1, 2, 3]\n"
    elif how == "two lines glued":
        lines[event] = lines[event].rstrip("\n") + lines.pop(event + 1)
    elif how == "lost descriptor":
        lines[_index(lines, '["descriptor"', 1)] = "{\n"
    elif how == "truncated end":
        lines[-1] = lines[-1][:10]
    return lines


DAMAGE = ["garbage line", "binary noise", "cut line in the middle", "valid JSON, wrong shape", "two lines glued",
          "lost descriptor", "truncated end"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_line_loses_only_itself_and_is_named(attack, recorded, tmp_path, capsys, how):
    uid = "abcdef01-2345-6789-abcd-ef0123456789"
    path = tmp_path / f"{uid}.jsonl"
    path.write_text("".join(_damage(recorded, how)), encoding="utf-8", errors="surrogateescape")
    run = load_run(uid[:8], tmp_path)
    whole = sum(line.startswith('["event"') for line in recorded)
    read = sum(len(v) for v in run.events.values())
    if how == "truncated end":  # a crash while the stop document was written: nothing to name, only it is lost
        assert run.problems == [] and run.stop is None and read == whole
        return
    (problem,) = run.problems
    assert problem.startswith(f"{path}: line")
    if how == "lost descriptor":
        assert "event document(s) of a lost descriptor" in problem
        assert "primary" not in run.streams and len(run.table("baseline")["stage_delay"]) == 2
    else:
        lost = 2 if how == "two lines glued" else 1
        assert read == whole - lost
        assert run.stop["exit_status"] == "success"
    # replay tells the user which lines went, in one line, before it does anything else
    assert main(["replay", uid[:8], "--data-dir", str(tmp_path), "--no-progress", "--fast"]) in (0, 2)
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warning == [f"warning: {problem}"]
    attack.data_kept(problem)


def test_an_unreadable_start_document_is_one_line(attack, recorded, tmp_path, capsys):
    uid = "abcdef01-2345-6789-abcd-ef0123456789"
    (tmp_path / f"{uid}.jsonl").write_text("{oops\n" + "".join(recorded[1:]))
    assert main(["replay", uid[:8], "--data-dir", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    attack.refused(err)
    assert "line 1, the start document, is corrupt" in err
