"""bluesky plans; they depend only on the device interfaces of ``femtospin.devices`` (and on
``femtospin.analysis`` for what a delay grid needs to be analysable).

Every plan validates all its arguments when called (a :class:`PlanArgumentError`
names the argument, the value and the allowed range; nothing has moved) and
returns a :class:`Measurement` whose messages leave the table safe on any exit.
"""

from ._adaptive import STREAM as DESIGN_STREAM
from ._analysis import FIX_SOURCES, analysis_options, group_options
from ._conditions import HELICITY_QWP_DEG, KERR_QWP_DEG, LOOP_ORDER, Dimension, schedule
from ._measure import measure
from ._moke import STREAM as STATIC_KERR_STREAM
from ._moke import check_detection, static_kerr, static_step
from ._plans import (
    PARAMETER_OF_CONDITION,
    delay_scan,
    field_loop,
    find_time_zero,
    fluence_series,
    moke_scan,
    peak_position,
    qwp_sweep,
    temperature_series,
    thz_emission,
)
from ._steps import (
    Measurement,
    UnsafeDevice,
    UnsafeTableError,
    device_error,
    last_known_state,
    lockin_settle_s,
    make_safe,
    prepare_state,
    read_at,
    set_magnetization,
)
from ._validate import (
    PlanArgumentError,
    check_baseline,
    check_choices,
    check_delays,
    check_positive,
    check_values,
    delay_grid,
)

PLANS = {p.__name__: p for p in (thz_emission, delay_scan, moke_scan, static_kerr, temperature_series,
                                  fluence_series, field_loop, qwp_sweep, find_time_zero)}

__all__ = [
    "DESIGN_STREAM",
    "FIX_SOURCES",
    "analysis_options",
    "group_options",
    "HELICITY_QWP_DEG",
    "KERR_QWP_DEG",
    "LOOP_ORDER",
    "PARAMETER_OF_CONDITION",
    "PLANS",
    "STATIC_KERR_STREAM",
    "Dimension",
    "Measurement",
    "PlanArgumentError",
    "UnsafeDevice",
    "UnsafeTableError",
    "check_baseline",
    "check_choices",
    "check_detection",
    "check_delays",
    "check_positive",
    "check_values",
    "delay_grid",
    "delay_scan",
    "device_error",
    "field_loop",
    "find_time_zero",
    "fluence_series",
    "last_known_state",
    "lockin_settle_s",
    "make_safe",
    "measure",
    "moke_scan",
    "peak_position",
    "prepare_state",
    "qwp_sweep",
    "read_at",
    "schedule",
    "set_magnetization",
    "static_kerr",
    "static_step",
    "temperature_series",
    "thz_emission",
]
