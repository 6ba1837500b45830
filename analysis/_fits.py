"""Parameter estimation by forward modelling (physics.md §4 models).

A model of the source (spin current, field or −ΔM/M) is convolved with the pump
Gaussian in closed form, passed through the detector response h (THz emission)
or taken as it is (TR-MOKE), and fitted to the measured signal with per-point
noise weights. The fitted parameters therefore never depend on the
regularization of the deconvolution.

The noise weights come from a variance model σ_k² = a + b·μ_k² + c·(dμ/dt)_k²
(additive, amplitude and timing-jitter noise, physics.md §5), fitted by
non-negative least squares to the squared residuals of a first fit (or to the
squared standard errors of a condition average), after which the fit is
repeated with weights 1/σ_k. This is what makes the stated standard errors
match the scatter over noise realizations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import lmfit
import numpy as np
from scipy.optimize import nnls

from ._deconvolution import Response
from ._models import exponential_offset, spin_seebeck, spin_voltage, three_temperature


@dataclass(frozen=True)
class ParamSpec:
    """Default value, whether it varies, and bounds of one fit parameter."""

    value: float
    vary: bool = True
    min: float = -np.inf
    max: float = np.inf


def _spin_voltage(t, p):
    tau_es, tau_ep = p["tau_es_fs"], p["tau_ep_fs"]
    if abs(tau_es - tau_ep) < 1e-6 * tau_ep:  # the weights are singular there; step off it
        tau_es = tau_ep * (1 + 1e-6)
    return spin_voltage(t, tau_es, tau_ep, p["R"], fwhm=p["resolution_fwhm_fs"])


def _spin_seebeck(t, p):
    return spin_seebeck(t, p["tau_th_fs"], p["tau_ep_fs"], p["offset"], fwhm=p["resolution_fwhm_fs"])


def _exp_offset(t, p):
    return exponential_offset(t, p["tau_fs"], p["offset"], fwhm=p["resolution_fwhm_fs"])


def _three_temperature(t, p):
    tau_m, tau_e = p["tau_m_fs"], p["tau_e_fs"]
    if abs(tau_m - tau_e) < 1e-6 * tau_e:
        tau_m = tau_e * (1 + 1e-6)
    return three_temperature(t, p["A1"], p["A2"], p["A3"], tau_m, tau_e, p["t0_diff_fs"],
                             fwhm=p["resolution_fwhm_fs"])


_COMMON = {"t0_fs": ParamSpec(0.0, True, -2000.0, 2000.0), "resolution_fwhm_fs": ParamSpec(40.0, False, 1.0, 500.0)}


@dataclass(frozen=True)
class WaveformModel:
    """A source model: its shape function and parameters.

    ``shape(t, params)`` is evaluated at t − t0. With ``scaled`` the fitted
    signal is ``amplitude`` times the shape after the detector, normalized to
    a peak magnitude of 1, so ``amplitude`` is the signed peak of the model
    signal in the units of the data.
    """

    name: str
    shape: Callable[[np.ndarray, dict], np.ndarray]
    params: dict[str, ParamSpec]
    scaled: bool = True


MODELS: dict[str, WaveformModel] = {
    "spin-voltage": WaveformModel("spin-voltage", _spin_voltage, {
        "tau_es_fs": ParamSpec(104.0, True, 5.0, 3000.0),
        "tau_ep_fs": ParamSpec(420.0 / 1.2, False, 10.0, 10000.0),
        "R": ParamSpec(0.1, False, 0.0, 1.0),
        "amplitude": ParamSpec(1.0),
        **_COMMON}),
    "sse": WaveformModel("sse", _spin_seebeck, {
        "tau_th_fs": ParamSpec(45.0, True, 1.0, 1000.0),
        "tau_ep_fs": ParamSpec(310.0, True, 20.0, 10000.0),
        "offset": ParamSpec(0.25, True, -2.0, 2.0),
        "amplitude": ParamSpec(1.0),
        **_COMMON}),
    "exp-offset": WaveformModel("exp-offset", _exp_offset, {
        "tau_fs": ParamSpec(310.0, True, 1.0, 100000.0),
        "offset": ParamSpec(0.0, True, -10.0, 10.0),
        "amplitude": ParamSpec(1.0),
        **_COMMON}),
    "three-temperature": WaveformModel("three-temperature", _three_temperature, {
        "A1": ParamSpec(0.04), "A2": ParamSpec(0.12), "A3": ParamSpec(0.0),
        "tau_m_fs": ParamSpec(100.0, True, 5.0, 5000.0),
        "tau_e_fs": ParamSpec(500.0, True, 10.0, 20000.0),
        "t0_diff_fs": ParamSpec(5000.0, False, 10.0, 1e6),
        **_COMMON}, scaled=False),
}


def get_model(name: str) -> WaveformModel:
    """A waveform model by name (``spin-voltage``, ``sse``, ``exp-offset``, ``three-temperature``)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


class ParamAccess:
    """``value(name)`` and ``stderr(name)`` over ``self.params = {name: {"value", "stderr", "vary"}}``."""

    params: dict

    def value(self, name: str) -> float:
        return self.params[name]["value"]

    def stderr(self, name: str) -> float:
        return self.params[name]["stderr"]


@dataclass
class FitResult(ParamAccess):
    """Outcome of :func:`fit_waveform`.

    Attributes
    ----------
    model : str
    params : dict
        ``{name: {"value", "stderr", "vary"}}``; stderr is 0 for fixed parameters
        and NaN if the covariance could not be estimated.
    redchi : float
        Reduced χ² with the final weights.
    best_fit : ndarray
        Model signal at the data's delays.
    sigma : ndarray
        Per-point noise level used as weights.
    success : bool
    nfev : int
    correlations : dict
        Correlations between varied parameters (``{"a,b": r}``).
    """

    model: str
    params: dict
    redchi: float
    best_fit: np.ndarray
    sigma: np.ndarray
    success: bool
    nfev: int
    correlations: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """``{"model", "redchi", "params"}`` as in design.md."""
        return {"model": self.model, "redchi": self.redchi, "params": self.params}


class ForwardModel:
    """Signal of a waveform model on one delay grid: shape(t − t0) → pump Gaussian → h.

    Parameters
    ----------
    delay_fs : ndarray
        Uniform delays in fs.
    model : WaveformModel
    response : Response or None
        Detector response on this grid (None: the signal is the shape itself, TR-MOKE).
    """

    def __init__(self, delay_fs: np.ndarray, model: WaveformModel, response: Response | None):
        self.t = np.asarray(delay_fs, float)
        self.model, self.response = model, response
        if response is not None:
            if response.n != self.t.size:
                raise ValueError(f"response built for {response.n} samples, data have {self.t.size}")
            # the source after the record still reaches the record through h's precursor
            self.t_src = self.t[0] + response.dt_fs * np.arange(response.n + response.n_ext)
        else:
            self.t_src = self.t

    def __call__(self, p: dict) -> np.ndarray:
        src = self.model.shape(self.t_src - p["t0_fs"], p)
        s = src if self.response is None else self.response.convolve(src)
        if self.model.scaled:
            peak = np.max(np.abs(s))
            s = p["amplitude"] * s / peak if peak > 0 else s
        return s


def _parameters(model: WaveformModel, fix: dict[str, float] | None, guess: dict[str, float]) -> lmfit.Parameters:
    fix = dict(fix or {})
    unknown = set(fix) - set(model.params)
    if unknown:
        raise ValueError(f"model {model.name!r} has no parameter(s) {sorted(unknown)}; "
                         f"parameters: {', '.join(model.params)}")
    params = lmfit.Parameters()
    for name, spec in model.params.items():
        if name in fix:
            params.add(name, value=float(fix[name]), vary=False)
        else:
            params.add(name, value=guess.get(name, spec.value), vary=spec.vary, min=spec.min, max=spec.max)
    return params


def _initial_guess(fwd: ForwardModel, signal: np.ndarray, params: lmfit.Parameters) -> dict[str, float]:
    """Amplitude and t0 from the data's peak against the default model's peak."""
    p = params.valuesdict()
    p_unit = dict(p, t0_fs=0.0, amplitude=1.0)
    trial = fwd(p_unit)
    k_model = int(np.argmax(np.abs(trial)))
    sign = np.sign(trial[k_model]) or 1.0
    k_data = int(np.argmax(np.abs(signal)))
    guess = {}
    if params["t0_fs"].vary:
        guess["t0_fs"] = float(fwd.t[k_data] - fwd.t[k_model])
    if "amplitude" in params and params["amplitude"].vary:
        guess["amplitude"] = float(signal[k_data] * sign)
    return guess


def variance_model(model_signal: np.ndarray, dt_fs: float, squares: np.ndarray, floor: float) -> np.ndarray:
    """Per-point noise σ_k from σ² = a + b·μ² + c·(dμ/dt)², fitted by NNLS to ``squares``.

    Parameters
    ----------
    model_signal : ndarray
        Noiseless signal μ (the model at the current parameters).
    dt_fs : float
        Step in fs.
    squares : ndarray
        Per-point estimates of σ² (squared residuals or squared standard errors).
    floor : float
        Lower bound for σ_k (e.g. half the baseline noise).

    Returns
    -------
    ndarray
    """
    slope = np.gradient(model_signal, dt_fs)
    basis = np.column_stack([np.ones_like(model_signal), model_signal**2, slope**2])
    norms = np.sqrt(np.sum(basis**2, axis=0))
    norms[norms == 0] = 1.0
    coef, _ = nnls(basis / norms, squares)
    var = (basis / norms) @ coef
    return np.sqrt(np.maximum(var, floor**2))


def _minimize(fwd: ForwardModel, signal, sigma, params):
    names = [n for n in params if params[n].vary]
    fixed = {n: params[n].value for n in params if not params[n].vary}
    weight = 1.0 / sigma

    def residual(pars):
        p = dict(fixed)
        p.update({n: pars[n].value for n in names})
        return (fwd(p) - signal) * weight

    return lmfit.minimize(residual, params, method="leastsq")


def fit_waveform(delay_fs: np.ndarray, signal: np.ndarray, model: str | WaveformModel = "spin-voltage", *,
                 response: Response | None = None, sigma: float | np.ndarray, variances: np.ndarray | None = None,
                 fix: dict[str, float] | None = None, reweight: bool = True) -> FitResult:
    """Fit a model, convolved with the pump Gaussian and passed through h, to a waveform.

    Parameters
    ----------
    delay_fs : ndarray
        Uniform delays in fs.
    signal : ndarray
        Measured signal (e.g. a symmetry component).
    model : str or WaveformModel
        ``spin-voltage`` (τ_es, amplitude, t0 free; τ_ep, R, resolution fixed),
        ``sse``, ``exp-offset`` or ``three-temperature``.
    response : Response, optional
        Detector response on this grid; None for TR-MOKE (no h).
    sigma : float or ndarray
        Noise level: one value (the baseline before time zero) or per point.
    variances : ndarray, optional
        Per-point variance estimates (squared standard errors of an average);
        the variance model is fitted to them instead of to the residuals.
    fix : dict, optional
        Parameters to fix at a value (also frees nothing: fixed-by-default
        parameters are overridden only in value).
    reweight : bool, optional
        Refit once with the variance-model weights (default True).

    Returns
    -------
    FitResult
    """
    m = get_model(model) if isinstance(model, str) else model
    t = np.asarray(delay_fs, float)
    y = np.asarray(signal, float)
    fwd = ForwardModel(t, m, response)
    params = _parameters(m, fix, {})
    for name, value in _initial_guess(fwd, y, params).items():
        params[name].set(value=value)
    sig0 = np.broadcast_to(np.asarray(sigma, float), y.shape).astype(float)
    out = _minimize(fwd, y, sig0, params)
    sig = sig0
    if reweight:
        mu = fwd(out.params.valuesdict())
        squares = variances if variances is not None else (y - mu) ** 2
        sig = variance_model(mu, t[1] - t[0], np.asarray(squares, float), 0.5 * float(np.min(sig0)))
        out = _minimize(fwd, y, sig, out.params)
    best = fwd(out.params.valuesdict())
    params_out = {}
    for name, par in out.params.items():
        stderr = par.stderr if par.vary else 0.0
        params_out[name] = {"value": float(par.value),
                            "stderr": float(stderr) if stderr is not None else float("nan"),
                            "vary": bool(par.vary)}
    corr = {}
    for name, par in out.params.items():
        for other, r in (par.correl or {}).items():
            if name < other:
                corr[f"{name},{other}"] = float(r)
    return FitResult(m.name, params_out, float(out.redchi), best, sig, bool(out.success), int(out.nfev), corr)
