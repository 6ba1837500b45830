"""bluesky plans; they depend only on the device interfaces of ``femtospin.devices``."""

from ._delay_scan import delay_scan, delay_sweep, lockin_settle_s, make_safe, set_magnetization
from ._validate import PlanArgumentError, check_choices, check_delays, check_positive, delay_grid

__all__ = [
    "PlanArgumentError",
    "check_choices",
    "check_delays",
    "check_positive",
    "delay_grid",
    "delay_scan",
    "delay_sweep",
    "lockin_settle_s",
    "make_safe",
    "set_magnetization",
]
