"""Spin diffusion through a normal-metal layer (physics.md §4c): the signal of a spin current injected into it.

The spin density s(z, t) in a layer 0 ≤ z ≤ d obeys

    ∂s/∂t = D·∂²s/∂z² − s/τ_s + Q(z, t),

with the source a spin current F(t) injected at the interface z = 0
(Q = F(t)·δ(z⁺)) and no spin current through the far surface z = d. The
signal (the inverse spin Hall charge current of the layer, hence the THz field)
is the spin current integrated over the layer, ∫ j_s dz = D·[s(0, t) − s(d, t)].

On the layer's cosine modes cos(nπz/d) the problem separates: mode n relaxes at
λ_n = 1/τ_s + D·(nπ/d)², and only odd n carry s(0) − s(d). The layer's impulse
response is therefore a sum of causal exponentials,

    h(t) = Θ(t)·(4D/d)·Σ_{n odd} exp(−λ_n·t),

whose area is the steady-state gain λ·tanh(d / 2λ), λ = √(D·τ_s), and which
approaches √(D/πt)·exp(−t/τ_s) for a layer much thicker than λ. Convolved with a
source that is itself a sum of causal exponentials under a Gaussian (the spin
voltage of §4a) or a Gaussian pulse (a source as short as the pump), the signal
is a closed-form sum of exponentially modified Gaussians.
"""

from __future__ import annotations

import numpy as np

from ._models import causal_exp_convolved, gaussian_kernel, spin_voltage_weights

D_BI_NM2_PER_FS = 1.2  # 1.2e-3 m²/s from the Wiedemann–Franz law, in nm²/fs
MAX_RATE_FS = 2.0  # modes faster than this (1/fs) act within 0.5 fs: lumped into one instantaneous term
MAX_MODES = 4000


def diffusion_modes(tau_s_fs: float, thickness_nm: float, D_nm2_per_fs: float = D_BI_NM2_PER_FS
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """Rates and weights of the layer's impulse response h(t) = Σ w_n·exp(−λ_n·t), t ≥ 0.

    Parameters
    ----------
    tau_s_fs : float
        Spin relaxation time in fs (> 0).
    thickness_nm : float
        Layer thickness d in nm (> 0).
    D_nm2_per_fs : float, optional
        Spin diffusion constant in nm²/fs.

    Returns
    -------
    rates : ndarray
        λ_n in 1/fs of the modes kept (odd n, λ_n ≤ ``MAX_RATE_FS``).
    weights : ndarray
        w_n = 4D/d in 1/fs.
    instantaneous : float
        Area (fs⁰, i.e. the weight of a δ at t = 0) of the faster modes, Σ w_n/λ_n over them,
        so that the total area is exact.
    """
    if not (tau_s_fs > 0 and thickness_nm > 0 and D_nm2_per_fs > 0):
        raise ValueError("tau_s, thickness and D must be > 0")
    k = np.pi / thickness_nm
    n = np.arange(1, 2 * MAX_MODES, 2, dtype=float)
    rates = 1.0 / tau_s_fs + D_nm2_per_fs * (n * k) ** 2
    weight = 4.0 * D_nm2_per_fs / thickness_nm
    slow = rates <= MAX_RATE_FS
    lam = np.sqrt(D_nm2_per_fs * tau_s_fs)
    total = lam * np.tanh(thickness_nm / (2.0 * lam))  # Σ over every odd n of w/λ_n, in closed form
    instantaneous = max(total - float(np.sum(weight / rates[slow])), 0.0)
    return rates[slow], np.full(int(slow.sum()), weight), instantaneous


def layer_response(t: np.ndarray, tau_s_fs: float, thickness_nm: float,
                   D_nm2_per_fs: float = D_BI_NM2_PER_FS) -> np.ndarray:
    """h(t) of the layer (1/fs ⋅ nm, the signal per unit injected spin current), without the fast modes' δ.

    Parameters
    ----------
    t : ndarray
        Times in fs.
    tau_s_fs, thickness_nm, D_nm2_per_fs : float
        As in :func:`diffusion_modes`.
    """
    t = np.asarray(t, float)
    rates, weights, _ = diffusion_modes(tau_s_fs, thickness_nm, D_nm2_per_fs)
    pos = np.clip(t, 0.0, None)
    return np.where(t >= 0, np.exp(-np.outer(pos, rates)) @ weights, 0.0)


def spin_diffusion(t: np.ndarray, tau_s_fs: float, thickness_nm: float, *, fwhm: float,
                   source: tuple[float, float, float] | None = None,
                   D_nm2_per_fs: float = D_BI_NM2_PER_FS) -> np.ndarray:
    """Signal of a spin current injected into a layer, after diffusion and relaxation there.

    Parameters
    ----------
    t : ndarray
        Times in fs.
    tau_s_fs : float
        Spin relaxation time in the layer, fs.
    thickness_nm : float
        Layer thickness, nm.
    fwhm : float
        Pump–probe resolution FWHM in fs (> 0).
    source : (tau_es, tau_ep, R), optional
        The injected current: the spin voltage of §4a with these constants
        (demagnetization of the adjacent ferromagnet). Without it the source is
        as short as the pump (photo-spin conversion at the interface).
    D_nm2_per_fs : float, optional
        Spin diffusion constant.

    Returns
    -------
    ndarray
        The layer's integrated spin current (arbitrary units, linear in the source).
    """
    t = np.asarray(t, float)
    rates, weights, instant = diffusion_modes(tau_s_fs, thickness_nm, D_nm2_per_fs)
    if source is None:  # a pulse: each mode is an exponentially modified Gaussian
        out = instant * gaussian_kernel(t, fwhm)
        for lam, w in zip(rates, weights):
            out = out + w * causal_exp_convolved(t, lam, fwhm)
        return out
    tau_es, tau_ep, R = source
    a_es, a_ep = spin_voltage_weights(tau_es, tau_ep, R)
    terms = ((a_es, 1.0 / tau_es), (-a_ep, 1.0 / tau_ep))
    out = np.zeros_like(t)
    for c, a in terms:
        out += instant * c * causal_exp_convolved(t, a, fwhm)
    # e^{−a t} ⊗ e^{−λ t} = (e^{−λ t} − e^{−a t})/(a − λ): the exponentials collected per rate
    coeff: dict[float, float] = {}
    for lam, w in zip(rates, weights):
        for c, a in terms:
            if abs(a - lam) < 1e-9 * max(a, lam):
                lam = lam * (1 + 1e-6)  # the degenerate limit t·e^{−a t}, stepped off
            coeff[lam] = coeff.get(lam, 0.0) + w * c / (a - lam)
            coeff[a] = coeff.get(a, 0.0) - w * c / (a - lam)
    for rate, c in coeff.items():
        out += c * causal_exp_convolved(t, rate, fwhm)
    return out
