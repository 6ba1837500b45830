"""Pure numerics of femtospin: physics models, transfer functions, lock-in filter,
symmetry components, deconvolution, forward-model fits, series fits.

No bluesky, ophyd or I/O beyond reading a transfer-function file. The entry
point for the CLI and the live callback is :func:`analyze`.
"""

from ._deconvolution import (
    Deconvolution,
    Response,
    deconvolve,
    detector_operator,
    resolution_kernel,
    sampled_operator,
)
from ._fits import MODELS, FitResult, fit_waveform
from ._lockin import (
    SLOPES_DB,
    filter_order,
    noise_bandwidth,
    settle_time,
    step_response,
)
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
from ._pipeline import AnalysisResult, analyze, noise_level, response_for
from ._series import (
    SeriesFit,
    StaticKerr,
    fit_bandwidth,
    fit_field,
    fit_fluence,
    fit_qwp,
    fit_temperature,
    spectrum,
    spin_accumulation,
    spin_accumulation_pap,
)
from ._symmetry import (
    COMPONENTS,
    CONDITIONS,
    Component,
    ConditionAverages,
    average_conditions,
    components,
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
    "COMPONENTS",
    "CONDITIONS",
    "DETECTORS",
    "MODELS",
    "SLOPES_DB",
    "AnalysisResult",
    "Component",
    "ConditionAverages",
    "Deconvolution",
    "FitResult",
    "Response",
    "SeriesFit",
    "StaticKerr",
    "analyze",
    "apply_response",
    "average_conditions",
    "causal_exp_convolved",
    "check_uniform",
    "components",
    "convolve_gaussian",
    "crystal",
    "deconvolve",
    "detector_operator",
    "detector_response",
    "exponential_offset",
    "filter_order",
    "fit_bandwidth",
    "fit_field",
    "fit_fluence",
    "fit_qwp",
    "fit_temperature",
    "fit_waveform",
    "gaussian_kernel",
    "impulse_response",
    "load_transfer",
    "noise_bandwidth",
    "noise_level",
    "resolution_kernel",
    "response_for",
    "response_from_samples",
    "response_grid",
    "sampled_operator",
    "settle_time",
    "spectrum",
    "spin_accumulation",
    "spin_accumulation_pap",
    "spin_seebeck",
    "spin_voltage",
    "spin_voltage_weights",
    "step_response",
    "three_temperature",
]
