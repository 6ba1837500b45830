import pytest

from femtospin.plans import Dimension, PlanArgumentError, schedule

M = Dimension("magnetization", (1, -1))
A = Dimension("angle_deg", (0.0, 180.0))
T = Dimension("temperature_K", (300.0, 400.0))


def _order(steps, name):
    return [conds[name] for conds, _ in steps]


@pytest.mark.parametrize("order, expected", [("abba", [1, -1, -1, 1]), ("cyclic", [1, -1, 1, -1])])
def test_scan_interleave_order(order, expected):
    steps = schedule([M], ["magnetization"], 2, 5, "scan", order)
    assert _order(steps, "magnetization") == expected
    assert _order(steps, "repeat") == [0, 0, 1, 1]
    assert all(idx == list(range(5)) for _, idx in steps)


def test_point_interleave_cycles_at_each_delay_in_abba_order():
    steps = schedule([M], ["magnetization"], 1, 3, "point", "abba")
    assert [(c["magnetization"], idx) for c, idx in steps] == [
        (1, [0]), (-1, [0]), (-1, [1]), (1, [1]), (1, [2]), (-1, [2])]


def test_slow_conditions_are_outer_loops_and_fast_ones_combine():
    steps = schedule([T, A, M], ["angle_deg", "magnetization"], 1, 2, "scan", "abba")
    assert _order(steps, "temperature_K") == [300.0] * 4 + [400.0] * 4
    assert [(c["angle_deg"], c["magnetization"]) for c, _ in steps[:4]] == [
        (0.0, 1), (0.0, -1), (180.0, 1), (180.0, -1)]
    assert list(steps[0][0]) == ["temperature_K", "angle_deg", "magnetization"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (([M], ["magnetisation"], 1, 3, "scan", "abba"), "fast: 'magnetisation' is not one of"),
        (([M], ["magnetization"], 0, 3, "scan", "abba"), "repeats: 0"),
        (([M], ["magnetization"], 1, 3, "sweep", "abba"), "interleave: 'sweep'"),
        (([M], ["magnetization"], 1, 3, "scan", "random"), "order: 'random'"),
    ],
)
def test_schedule_refuses_unknown_names(args, fragment):
    with pytest.raises(PlanArgumentError, match=fragment):
        schedule(*args)
