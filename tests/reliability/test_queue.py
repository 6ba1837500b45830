"""Hostile queue items: the plans the queue server's worker calls refuse them in one line before anything moves.

``queue_plans`` builds exactly what the worker runs for an item (the table's
devices filled in by role); the metadata allow-list itself is tested with the
server in ``tests/acquisition/test_serve.py``. Here every kind of item a careless
or hostile client can send is tried on each wrapper: forged metadata, devices by
name, arguments the command line would refuse, counts that would exhaust memory.
"""

from __future__ import annotations

import math

import pytest

from femtospin.acquisition import sim_profile
from femtospin.acquisition.remote._serve import queue_plans

DELAYS = [-1100.0 + 50 * i for i in range(30)]
ITEMS = [
    ("delay_scan", {"delays": DELAYS, "md": {"analysis_of": "/etc/ESCAPED"}}, "'analysis_of' set by the server"),
    ("delay_scan", {"delays": DELAYS, "md": {"sample": {"name": "x" * 10_000}}}, "give text of at most 2000"),
    ("delay_scan", {"delays": DELAYS, "md": "not a mapping"}, "md: give a mapping"),
    ("delay_scan", {"delays": DELAYS, "stage": "lockin"}, "stage: the table fills in devices"),
    ("thz_emission", {"delays": DELAYS, "readables": ["magnet"]}, "readables: the table fills in devices"),
    ("thz_emission", {"delays": DELAYS, "plan_name": "forged"}, "plan_name: the table fills in devices"),
    ("delay_scan", {"delays": [0.0, math.nan]}, "delays: contains NaN or infinite values"),
    ("delay_scan", {"delays": [0.0, math.inf]}, "delays: contains NaN or infinite values"),
    ("delay_scan", {"delays": []}, "delays: empty"),
    ("delay_scan", {"delays": [1e9]}, "is outside the stage travel"),
    ("thz_emission", {"delays": DELAYS, "repeats": 10**7}, "points; at most 1 000 000 per run"),
    ("thz_emission", {"delays": DELAYS, "magnetization": [1, 1]}, "magnetization: 1 is given twice"),
    ("thz_emission", {"delays": DELAYS, "angles": [0.0, 360.0]}, "angles: 360.0 is given twice"),
    ("thz_emission", {"delays": DELAYS, "ramp_K_per_min": -5.0}, "ramp_K_per_min: -5.0 K/min is outside"),
    ("field_loop", {"delays": [100.0], "max_field_mT": 5.0, "step_mT": 1e-9}, "gives 2e+10 points"),
    ("moke_scan", {"delays": DELAYS, "kerr": ["rotation"]}, "TR-MOKE needs a MOKE table"),
]


@pytest.fixture(scope="module")
def plans():
    return queue_plans(sim_profile(fast=True))


@pytest.mark.parametrize("plan, kwargs, message", ITEMS, ids=[f"{p}-{next(iter(k.items()))[0]}-{i}"
                                                              for i, (p, k, _) in enumerate(ITEMS)])
def test_a_hostile_or_careless_item_is_refused_in_one_line(attack, plans, plan, kwargs, message):
    with pytest.raises(ValueError) as info:  # what the worker reports as the item's error
        plans[plan](**kwargs)
    attack.refused(str(info.value))
    assert message in str(info.value)
