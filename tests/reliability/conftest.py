"""The reliability suite: every attack records what the user saw and what the table was left in.

Each test asserts its own case (a safe table, readable data, one line naming the
problem); the counts are printed at the end of the test run, so a CI log says how
many attacks were made and how each ended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pytest

from femtospin.acquisition import load_run


@dataclass
class Outcome:
    attack: str
    kind: str  # "refused" (nothing moved or was written), "safe exit" (a run ended early, the table left safe),
    # "data kept" (a damaged file read back with the loss named)
    one_line: bool  # the user's message was one line (plus the lines naming an unsafe device / the data)
    traceback: bool
    outside: bool  # something was written outside the data directory


class Attacks:
    """What a test hands to the recorder: ``refused(...)`` or ``safe_exit(...)``, after asserting them."""

    def __init__(self, name: str, outcomes: list[dict]):
        self.name, self.outcomes = name, outcomes

    def _record(self, kind: str, err: str, max_lines: int, outside: bool) -> None:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        self.outcomes.append(asdict(Outcome(self.name, kind, 0 < len(lines) <= max_lines, "Traceback" in err,
                                            outside)))
        assert "Traceback" not in err, err
        assert 0 < len(lines) <= max_lines, err
        assert not outside, "written outside the data directory"

    def refused(self, err: str, *, outside: bool = False) -> None:
        """A bad input: one line, nothing moved or written."""
        self._record("refused", err, 1, outside)

    def safe_exit(self, err: str, *, max_lines: int = 2, outside: bool = False) -> None:
        """A run ended early (signal, fault, full disk): its line, and the line saying where its data is."""
        self._record("safe exit", err, max_lines, outside)

    def data_kept(self, problem: str) -> None:
        """A damaged file read back: the rest of it kept, the loss named in one line."""
        self._record("data kept", problem, 1, False)

    @staticmethod
    def assert_readable_and_safe(data_dir, park_fs: float = -1000.0) -> int:
        """Every run file in ``data_dir`` reads back, and each run ended with the table safe; returns their number.

        The closing baseline (written by every exit) holds the table's state after
        ``make_safe``: no field, the heater at its safe setpoint, the stage parked.
        """
        runs = 0
        for path in data_dir.glob("*.jsonl"):
            if ".analysis." in path.name:
                continue
            run = load_run(path.stem, data_dir)
            end = run.table("baseline")
            assert len(end["magnet_field"]) == 2, "opening and closing baseline"
            assert abs(end["magnet_field"][-1]) < 0.1  # the Hall probe: offset and noise
            assert end["heater_setpoint"][-1] == 300.0
            assert end["stage_delay"][-1] == pytest.approx(park_fs, abs=10.0)
            runs += 1
        return runs



@pytest.fixture
def attack(request, reliability_outcomes) -> Attacks:
    return Attacks(request.node.nodeid, reliability_outcomes)
