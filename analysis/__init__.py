"""Pure numerics of femtospin: physics models, transfer functions, lock-in filter.

No bluesky, ophyd or I/O beyond reading a transfer-function file.
"""

from ._lockin import SLOPES_DB, filter_order, noise_bandwidth, settle_time, step_response
from ._models import (
    causal_exp_convolved,
    convolve_gaussian,
    exponential_offset,
    gaussian_kernel,
    spin_seebeck,
    spin_voltage,
    spin_voltage_weights,
    three_temperature,
)
from ._transfer import (
    DETECTORS,
    apply_response,
    check_uniform,
    crystal,
    detector_response,
    impulse_response,
    load_transfer,
    response_from_samples,
    response_grid,
)

__all__ = [
    "DETECTORS",
    "SLOPES_DB",
    "apply_response",
    "causal_exp_convolved",
    "check_uniform",
    "convolve_gaussian",
    "crystal",
    "detector_response",
    "exponential_offset",
    "filter_order",
    "gaussian_kernel",
    "impulse_response",
    "load_transfer",
    "noise_bandwidth",
    "response_from_samples",
    "response_grid",
    "settle_time",
    "spin_seebeck",
    "spin_voltage",
    "spin_voltage_weights",
    "step_response",
    "three_temperature",
]
