"""Parameter estimation by forward modelling (physics.md §4 models).

A model of the source (spin current, field or −ΔM/M) is convolved with the pump
Gaussian in closed form, passed through the detector response h (THz emission)
or taken as it is (TR-MOKE), and fitted to the measured signal with per-point
noise weights. The fitted parameters therefore never depend on the
regularization of the deconvolution.

The model lives on the internal uniform grid and is compared with the data
through the sampling operator (:mod:`._grid`), so any delay grid fits.

The weights 1/σ_k come from the noise model measured without the fit
(:mod:`._noise`), and the covariance is *not* rescaled by the reduced χ²: the
stated standard errors are what that noise makes of the parameters, and χ²,
its degrees of freedom and p-value say whether the model describes the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import chdtrc

from ._deconvolution import Response
from ._diffusion import spin_diffusion
from ._grid import Sampling
from ._models import exponential_offset, spin_seebeck, spin_voltage, three_temperature

if TYPE_CHECKING:  # lmfit itself is imported on first use
    import lmfit


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


def _spin_diffusion(t, p):
    tau_es, tau_ep = p["tau_es_fs"], p["tau_ep_fs"]
    if abs(tau_es - tau_ep) < 1e-6 * tau_ep:
        tau_es = tau_ep * (1 + 1e-6)
    return spin_diffusion(t, p["tau_s_fs"], p["thickness_nm"], fwhm=p["resolution_fwhm_fs"],
                          source=(tau_es, tau_ep, p["R"]))


def _photo_spin(t, p):
    return spin_diffusion(t, p["tau_s_fs"], p["thickness_nm"], fwhm=p["resolution_fwhm_fs"])


def _three_temperature(t, p):
    tau_m, tau_e = p["tau_m_fs"], p["tau_e_fs"]
    if abs(tau_m - tau_e) < 1e-4 * tau_e:  # three_temperature refuses np.isclose times (rtol 1e-5): step off
        tau_m = tau_e * (1 + 1e-4)
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


_SPIN_VOLTAGE = {"tau_es_fs": ParamSpec(104.0, True, 5.0, 3000.0), "tau_ep_fs": ParamSpec(400.0, True, 20.0, 10000.0),
                 "R": ParamSpec(0.1, True, 1e-3, 1.0)}

MODELS: dict[str, WaveformModel] = {
    "spin-voltage": WaveformModel("spin-voltage", _spin_voltage, {
        **_SPIN_VOLTAGE,
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
    # a spin current diffusing through a layer (Bi, §4c): injected by the demagnetization's spin voltage, or
    # generated as briefly as the pump (photo-spin conversion, the helicity-odd part)
    "spin-diffusion": WaveformModel("spin-diffusion", _spin_diffusion, {
        "tau_s_fs": ParamSpec(100.0, True, 0.5, 1e5),
        "thickness_nm": ParamSpec(20.0, False, 0.1, 1e4),
        **{k: replace(v, vary=False) for k, v in _SPIN_VOLTAGE.items()},  # the injected current: held fixed
        "amplitude": ParamSpec(1.0),
        **_COMMON}),
    "photo-spin": WaveformModel("photo-spin", _photo_spin, {
        "tau_s_fs": ParamSpec(1000.0, True, 0.5, 1e5),
        "thickness_nm": ParamSpec(20.0, False, 0.1, 1e4),
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
    """A waveform model by name (``spin-voltage``, ``sse``, ``spin-diffusion``, ``photo-spin``, ``exp-offset``,
    ``three-temperature``)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def json_safe(x):
    """A result as JSON can hold it: arrays as lists, NaN and ±inf as None, in nested dicts and lists too."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    return x


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
        ``{name: {"value", "stderr", "vary", "source"}}``; stderr is 0 for fixed
        parameters and NaN if the covariance could not be estimated; ``source``
        says where a value came from (``fitted``, ``--fix``, the sample, a default).
    chi2, dof, redchi, p_value : float, int, float, float
        Goodness of fit against the noise model: χ², degrees of freedom, χ²/dof
        and the probability of a χ² at least this large if the model were right.
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
    chi2: float = float("nan")
    dof: int = 0
    p_value: float = float("nan")

    def to_dict(self) -> dict:
        """``{"model", "redchi", "chi2", "dof", "p_value", "params"}`` as in the analyze JSON."""
        return {"model": self.model, "redchi": self.redchi, "chi2": self.chi2, "dof": self.dof,
                "p_value": self.p_value, "params": self.params}


class ForwardModel:
    """Signal of a waveform model at the data's delays: shape(t − t0) → pump Gaussian → h → sampling.

    Parameters
    ----------
    sampling : Sampling
        Internal uniform grid and the interpolation to the data's delays.
    model : WaveformModel
    response : Response or None
        Detector response on the internal grid (None: the signal is the shape
        itself, TR-MOKE, evaluated at the data's delays).
    """

    def __init__(self, sampling: Sampling, model: WaveformModel, response: Response | None):
        self.sampling, self.model, self.response = sampling, model, response
        self.t = sampling.delay_fs
        if response is not None:
            if response.n != sampling.n:
                raise ValueError(f"response built for {response.n} samples, the grid has {sampling.n}")
            # the source after the record still reaches the record through h's precursor
            self.t_src = sampling.grid[0] + response.dt_fs * np.arange(response.n + response.n_ext)

    def on_grid(self, p: dict) -> np.ndarray:
        """The model signal on the internal grid (THz emission) or at the data's delays (TR-MOKE)."""
        if self.response is None:
            s = self.model.shape(self.t - p["t0_fs"], p)
        else:
            s = self.response.convolve(self.model.shape(self.t_src - p["t0_fs"], p))
        if self.model.scaled:
            peak = peak_magnitude(self.t if self.response is None else self.sampling.grid, s)
            s = p["amplitude"] * s / peak if peak > 0 else s
        return s

    def __call__(self, p: dict) -> np.ndarray:
        s = self.on_grid(p)
        return s if self.response is None else self.sampling.sample(s)


def peak_magnitude(t: np.ndarray, s: np.ndarray) -> float:
    """The largest |s| between the samples: the vertex of the parabola through the largest sample and its
    neighbours.

    The amplitude is the model's peak; its largest sample alone falls short of the
    peak by an amount that depends on the grid (≈ 0.7 % on a 10 fs grid), so the
    same waveform measured on two grids would report two amplitudes.

    Parameters
    ----------
    t, s : ndarray
        Sample times (increasing, any spacing) and values.

    Returns
    -------
    float
    """
    a = np.abs(s)
    k = int(np.argmax(a))
    if k == 0 or k == a.size - 1:
        return float(a[k])
    x0, x2 = t[k - 1] - t[k], t[k + 1] - t[k]
    d0, d2 = (a[k - 1] - a[k]) / x0, (a[k + 1] - a[k]) / x2
    c = (d0 - d2) / (x0 - x2)
    if c >= 0:
        return float(a[k])
    b = d0 - c * x0
    x = float(np.clip(-b / (2 * c), x0, x2))
    return float(a[k] + b * x + c * x * x)


def _parameters(model: WaveformModel, fix: dict[str, float] | None, guess: dict[str, float]) -> lmfit.Parameters:
    import lmfit  # imported on first use: it costs 0.6 s at start-up
    fix = dict(fix or {})
    unknown = set(fix) - set(model.params)
    if unknown:
        raise ValueError(f"model {model.name!r} has no parameter(s) {sorted(unknown)}; "
                         f"parameters: {', '.join(model.params)}")
    params = lmfit.Parameters()
    for name, spec in model.params.items():
        if name in fix:
            value = float(fix[name])
            if not (np.isfinite(value) and spec.min <= value <= spec.max):
                raise ValueError(f"{name} = {value:g} is outside its allowed range [{spec.min:g}, {spec.max:g}]")
            params.add(name, value=value, vary=False)
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
        guess["t0_fs"] = float(np.clip(fwd.t[k_data] - fwd.t[k_model], params["t0_fs"].min, params["t0_fs"].max))
    if "amplitude" in params and params["amplitude"].vary:
        guess["amplitude"] = float(signal[k_data] * sign)
    return guess


def fit_waveform(delay_fs: np.ndarray | Sampling, signal: np.ndarray, model: str | WaveformModel = "spin-voltage",
                 *, response: Response | None = None, sigma: float | np.ndarray, fix: dict[str, float] | None = None,
                 sources: dict[str, str] | None = None, guess: dict[str, float] | None = None) -> FitResult:
    """Fit a model, convolved with the pump Gaussian and passed through h, to a waveform.

    Parameters
    ----------
    delay_fs : ndarray or Sampling
        The data's delays (uniform unless a Sampling onto the internal grid is given).
    signal : ndarray
        Measured signal (e.g. a symmetry component).
    model : str or WaveformModel
        ``spin-voltage``, ``sse``, ``exp-offset`` or ``three-temperature``.
    response : Response, optional
        Detector response on the internal grid; None for TR-MOKE (no h).
    sigma : float or ndarray
        Noise of each datum, measured independently of the model (:mod:`._noise`).
    fix : dict, optional
        Parameters held at a value.
    sources : dict, optional
        Where each fixed value came from (default ``"--fix"``).
    guess : dict, optional
        Starting values of varied parameters, instead of the peak-aligned defaults.

    Returns
    -------
    FitResult
    """
    import lmfit
    m = get_model(model) if isinstance(model, str) else model
    if isinstance(delay_fs, Sampling):
        samp = delay_fs
    else:
        t = np.asarray(delay_fs, float)
        samp = Sampling(t, t, None)
    y = np.asarray(signal, float)
    fwd = ForwardModel(samp, m, response)
    params = _parameters(m, fix, {})
    for name, value in {**_initial_guess(fwd, y, params), **(guess or {})}.items():
        if params[name].vary:
            params[name].set(value=float(np.clip(value, params[name].min, params[name].max)))
    sig = np.broadcast_to(np.asarray(sigma, float), y.shape).astype(float)
    names = [n for n in params if params[n].vary]
    fixed = {n: params[n].value for n in params if not params[n].vary}
    weight = 1.0 / sig

    def residual(pars):
        p = dict(fixed)
        p.update({n: pars[n].value for n in names})
        return (fwd(p) - y) * weight

    out = lmfit.minimize(residual, params, method="leastsq", scale_covar=False)
    best = fwd(out.params.valuesdict())
    chi2 = float(np.sum(((y - best) / sig) ** 2))
    dof = max(int(y.size - len(names)), 1)
    sources = dict(sources or {})
    params_out = {}
    for name, par in out.params.items():
        stderr = par.stderr if par.vary else 0.0
        if par.vary:
            source = "fitted"
        elif fix and name in fix:
            source = sources.get(name, "--fix")
        else:
            source = f"default of the {m.name} model"
        params_out[name] = {"value": float(par.value),
                            "stderr": float(stderr) if stderr is not None else float("nan"),
                            "vary": bool(par.vary), "source": source}
    corr = {}
    for name, par in out.params.items():
        for other, r in (par.correl or {}).items():
            if name < other:
                corr[f"{name},{other}"] = float(r)
    return FitResult(m.name, params_out, chi2 / dof, best, sig, bool(out.success), int(out.nfev), corr,
                     chi2, dof, float(chdtrc(dof, chi2)))
