"""Time-domain models of physics.md §4, each convolvable with a Gaussian resolution.

All times are in fs. Functions are pure and vectorized over ``t``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfcx

FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def gaussian_kernel(t: np.ndarray, fwhm: float) -> np.ndarray:
    """Unit-area Gaussian of full width at half maximum ``fwhm`` evaluated at ``t``.

    Parameters
    ----------
    t : ndarray
        Times in fs.
    fwhm : float
        Full width at half maximum in fs, > 0.

    Returns
    -------
    ndarray
        Kernel values in 1/fs; integrates to 1 over the real line.
    """
    sigma = fwhm * FWHM_TO_SIGMA
    return np.exp(-0.5 * (np.asarray(t, float) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def causal_exp_convolved(t: np.ndarray, rate: float, fwhm: float) -> np.ndarray:
    """Θ(t)·exp(−rate·t) convolved with a unit-area Gaussian, in closed form.

    Uses the exponentially modified Gaussian written with ``erfcx`` so that it
    stays finite far on either side of time zero.

    Parameters
    ----------
    t : ndarray
        Times in fs.
    rate : float
        Decay rate in 1/fs (≥ 0).
    fwhm : float
        Resolution FWHM in fs. ``fwhm == 0`` returns the unconvolved step-exponential.

    Returns
    -------
    ndarray
    """
    t = np.asarray(t, float)
    if fwhm == 0:
        return np.where(t >= 0, np.exp(-rate * np.clip(t, 0, None)), 0.0)
    s = fwhm * FWHM_TO_SIGMA
    x = (rate * s - t / s) / np.sqrt(2.0)
    # 0.5·exp(σ²Γ²/2 − Γt)·erfc(x) == 0.5·exp(−t²/2σ²)·erfcx(x), stable for x > 0;
    # for x < 0 the first form is safe because the exponent is then bounded.
    out = np.empty_like(t)
    pos = x > 0
    out[pos] = 0.5 * np.exp(-0.5 * (t[pos] / s) ** 2) * erfcx(x[pos])
    neg = ~pos
    out[neg] = 0.5 * np.exp(0.5 * (rate * s) ** 2 - rate * t[neg]) * (2.0 - erfcx(-x[neg]) * np.exp(-x[neg] ** 2))
    return out


def spin_voltage_weights(tau_es: float, tau_ep: float, R: float) -> tuple[float, float]:
    """Amplitudes (A_es, A_ep) of the spin-voltage bracket, physics.md §4a.

    Parameters
    ----------
    tau_es, tau_ep : float
        1/Γ_es and 1/Γ_ep in fs; must differ.
    R : float
        Electronic over total heat capacity, 0 < R ≤ 1.

    Returns
    -------
    tuple of float
    """
    g_es, g_ep = 1.0 / tau_es, 1.0 / tau_ep
    if np.isclose(g_es, g_ep):
        raise ValueError(f"tau_es ({tau_es} fs) and tau_ep ({tau_ep} fs) must differ")
    a_es = (g_es - R * g_ep) / (g_es - g_ep)
    a_ep = (1.0 - R) * g_ep / (g_es - g_ep)
    return a_es, a_ep


def spin_voltage(t: np.ndarray, tau_es: float, tau_ep: float, R: float, fwhm: float = 0.0) -> np.ndarray:
    """Spin current / dM/dt shape of the generalized spin-voltage model.

    Θ(t)·[A_es·exp(−t/τ_es) − A_ep·exp(−t/τ_ep)], optionally convolved with a
    unit-area Gaussian of FWHM ``fwhm``. The bracket is 1 at t = 0+ and its
    integral is R·τ_es.

    Parameters
    ----------
    t : ndarray
        Times in fs.
    tau_es, tau_ep : float
        Electron–spin and electron–phonon equilibration times in fs.
    R : float
        Electronic over total heat capacity.
    fwhm : float, optional
        Resolution FWHM in fs (0: no convolution).

    Returns
    -------
    ndarray
    """
    a_es, a_ep = spin_voltage_weights(tau_es, tau_ep, R)
    return a_es * causal_exp_convolved(t, 1.0 / tau_es, fwhm) - a_ep * causal_exp_convolved(t, 1.0 / tau_ep, fwhm)


def spin_seebeck(t: np.ndarray, tau_th: float = 45.0, tau_ep: float = 310.0, offset: float = 0.25,
                 fwhm: float = 0.0) -> np.ndarray:
    """Generalized electron-temperature shape ΔT̃e(t) driving the spin Seebeck current.

    Θ(t)·(1 − exp(−t/τ_th))·[(1 − offset)·exp(−t/τ_ep) + offset], physics.md §4b:
    a rise over ≈ 100 fs (10–90 % rise 2.2·τ_th), decay with τ_e-ph to an offset.
    The spin current follows it without delay, j_s = K·ΔT̃e.

    Parameters
    ----------
    t : ndarray
        Times in fs.
    tau_th : float
        Thermalization (rise) time in fs.
    tau_ep : float
        Electron–phonon decay time in fs.
    offset : float
        Long-time level relative to the decaying part.
    fwhm : float, optional
        Resolution FWHM in fs.

    Returns
    -------
    ndarray
    """
    g_th, g_ep = 1.0 / tau_th, 1.0 / tau_ep

    def e(rate):
        return causal_exp_convolved(t, rate, fwhm)

    return (1 - offset) * (e(g_ep) - e(g_ep + g_th)) + offset * (e(0.0) - e(g_th))


def exponential_offset(t: np.ndarray, tau: float, offset: float = 0.0, fwhm: float = 0.0) -> np.ndarray:
    """Θ(t)·[exp(−t/τ) + offset] ⊗ Gaussian: transient reflectance of a metal (§4d)."""
    return causal_exp_convolved(t, 1.0 / tau, fwhm) + offset * causal_exp_convolved(t, 0.0, fwhm)


def convolve_gaussian(t: np.ndarray, y: np.ndarray, fwhm: float) -> np.ndarray:
    """Convolve samples ``y`` on the uniform grid ``t`` with a unit-area Gaussian.

    Edges are padded with the end values so a step does not wrap around. The
    area of ``y`` is preserved up to the edges.

    Parameters
    ----------
    t : ndarray
        Uniform time grid in fs.
    y : ndarray
        Samples on ``t``.
    fwhm : float
        Gaussian FWHM in fs.

    Returns
    -------
    ndarray
    """
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    if fwhm == 0:
        return y.copy()
    dt = t[1] - t[0]
    half = int(np.ceil(4 * fwhm / dt))
    kernel = gaussian_kernel(np.arange(-half, half + 1) * dt, fwhm)
    kernel /= kernel.sum()  # exact unit area even when the grid barely resolves the Gaussian
    padded = np.concatenate([np.full(half, y[0]), y, np.full(half, y[-1])])
    return np.convolve(padded, kernel, mode="valid")


def three_temperature(t: np.ndarray, A1: float, A2: float, A3: float, tau_m: float, tau_e: float,
                      t0_diff: float, fwhm: float = 0.0) -> np.ndarray:
    """−ΔM/M of the three-temperature model (Dalla Longa 2007), physics.md §4d.

    Parameters
    ----------
    t : ndarray
        Times in fs (need not be uniform).
    A1, A2, A3 : float
        Amplitudes of the heat-diffusion, electron–phonon and state-filling (δ) terms.
    tau_m, tau_e : float
        Demagnetization and electron–phonon times in fs (must differ).
    t0_diff : float
        Heat-diffusion time in fs.
    fwhm : float, optional
        Pump–probe cross-correlation FWHM in fs. The δ term, broadened by it,
        is a Gaussian spike of peak height A3; with ``fwhm == 0`` it is dropped.

    Returns
    -------
    ndarray
    """
    t = np.asarray(t, float)
    if np.isclose(tau_m, tau_e):
        raise ValueError(f"tau_m ({tau_m} fs) and tau_e ({tau_e} fs) must differ")
    c_m = (A2 * tau_e - A1 * tau_m) / (tau_e - tau_m)
    c_e = tau_e * (A1 - A2) / (tau_e - tau_m)

    def bracket(tt):
        tp = np.clip(tt, 0, None)
        value = A1 / np.sqrt(tp / t0_diff + 1) - c_m * np.exp(-tp / tau_m) - c_e * np.exp(-tp / tau_e)
        return np.where(tt >= 0, value, 0.0)

    if fwhm == 0:
        return bracket(t)
    # The 1/√ term has no closed-form convolution: integrate on a fine grid.
    step = min(fwhm / 20, 1.0)
    pad = 4 * fwhm
    grid = np.arange(t.min() - pad, t.max() + pad + step, step)
    smooth = convolve_gaussian(grid, bracket(grid), fwhm)
    return np.interp(t, grid, smooth) + A3 * np.exp(-0.5 * (t / (fwhm * FWHM_TO_SIGMA)) ** 2)
