"""Transfer function h from the emitted field E to the measured EOS signal S = h ∗ E.

physics.md §2: far-field propagation (a time derivative) times the response of a
(110) electro-optic crystal. Fields in physics.md are ∝ exp(−iωt); numpy's inverse
FFT sums exp(+iωt), so every response returned here is already conjugated into
numpy's convention: multiply ``numpy.fft.rfft`` spectra by it.

Frequencies are in THz, times in fs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft, rfftfreq

C_UM_PER_PS = 299.792458
RINGING_FS = 30_000.0  # padding that holds the longest detector response without wrap-around


@dataclass(frozen=True)
class Crystal:
    """Dielectric and nonlinear parameters of an EOS crystal (physics.md §2 table)."""

    name: str
    f_to: float  # THz
    f_lo: float  # THz
    gamma: float  # γ/2π, THz
    eps_inf: float
    faust_henry: float  # C
    n_group: float  # probe group index at 800 nm
    thickness_um: float


DETECTORS: dict[str, Crystal] = {
    "znte1000": Crystal("ZnTe(110) 1 mm", 5.32, 6.18, 0.09, 7.4, -0.07, 3.24, 1000.0),
    "gap250": Crystal("GaP(110) 250 µm", 11.0, 12.1, 0.13, 9.1, -0.5, 3.56, 250.0),
}


def crystal(detector: str) -> Crystal:
    """Look up an EOS detector by key (``gap250`` or ``znte1000``)."""
    try:
        return DETECTORS[detector]
    except KeyError:
        raise ValueError(f"unknown detector {detector!r}; known: {', '.join(DETECTORS)}") from None


PROBE_FWHM_RANGE_FS = (1.0, 500.0)  # a sub-fs or ps-long probe is a typo, not a sampling pulse


def check_probe_fwhm(probe_fwhm_fs: float) -> float:
    """The probe duration (intensity FWHM, fs) as a float, or ``ValueError`` naming the allowed range."""
    lo, hi = PROBE_FWHM_RANGE_FS
    value = float(probe_fwhm_fs)
    if not lo <= value <= hi:  # NaN fails too
        raise ValueError(f"probe duration {probe_fwhm_fs} fs is outside the allowed range [{lo:g}, {hi:g}] fs")
    return value


def _eos_physical(f: np.ndarray, c: Crystal, probe_fwhm_fs: float) -> np.ndarray:
    """(−iω)·t(ω)·χ2(ω)·A_probe(ω)·G(ω) in the exp(−iωt) convention, unnormalized."""
    w = 2 * np.pi * np.asarray(f, float)  # rad/ps
    w_to, w_lo, g = 2 * np.pi * c.f_to, 2 * np.pi * c.f_lo, 2 * np.pi * c.gamma
    lorentz = 1.0 / (w_to**2 - w**2 - 1j * g * w)
    eps = c.eps_inf * (1 + (w_lo**2 - w_to**2) * lorentz)
    n = np.sqrt(eps)
    fresnel = 2.0 / (1.0 + n)
    chi2 = 1 + c.faust_henry * w_to**2 * lorentz
    tau_p = probe_fwhm_fs * 1e-3 / (2 * np.sqrt(np.log(2)))  # 1/e half width of intensity, ps
    probe = np.exp(-(w**2) * tau_p**2 / 4)
    phase = (w / C_UM_PER_PS) * (n - c.n_group) * c.thickness_um
    safe = np.where(np.abs(phase) < 1e-9, 1.0, phase)
    mismatch = np.where(np.abs(phase) < 1e-9, 1.0 + 0j, (np.exp(1j * safe) - 1) / (1j * safe))
    return -1j * w * fresnel * chi2 * probe * mismatch


@lru_cache(maxsize=16)
def _peak_gain(detector: str, probe_fwhm_fs: float) -> float:
    f = np.linspace(0.0, 60.0, 6001)
    return float(np.abs(_eos_physical(f, crystal(detector), probe_fwhm_fs)).max())


def detector_response(f: np.ndarray, detector: str, probe_fwhm_fs: float = 20.0) -> np.ndarray:
    """Complex transfer function of far-field propagation plus EOS detection.

    Parameters
    ----------
    f : ndarray
        Frequencies in THz (≥ 0).
    detector : {"gap250", "znte1000"}
        GaP(110) 250 µm or ZnTe(110) 1 mm.
    probe_fwhm_fs : float, optional
        Probe pulse duration (intensity FWHM) in fs.

    Returns
    -------
    ndarray of complex
        H(f) in numpy's FFT convention, scaled to a peak magnitude of 1.
        H(0) = 0: propagation to the far field removes the DC component.
    """
    probe_fwhm_fs = check_probe_fwhm(probe_fwhm_fs)
    h = _eos_physical(f, crystal(detector), probe_fwhm_fs) / _peak_gain(detector, probe_fwhm_fs)
    return np.conj(h)


def response_from_samples(t_h: np.ndarray, h: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Transfer function of a sampled impulse response, H(f) = Σ h_k exp(−2πi f t_k).

    Parameters
    ----------
    t_h : ndarray
        Sample times of h in fs (uniform step; t = 0 is the time origin).
    h : ndarray
        Discrete impulse response (per sample, so S_j = Σ_k h_k E_{j−k}).
    f : ndarray
        Frequencies in THz.

    Returns
    -------
    ndarray of complex
    """
    f = np.asarray(f, float) * 1e-3
    t_h, h = np.asarray(t_h, float), np.asarray(h, float)
    out = np.empty(f.shape, complex)
    chunk = max(1, 2**22 // max(t_h.size, 1))  # bound the f × t matrix to ~64 MB
    for i in range(0, f.size, chunk):
        out.flat[i:i + chunk] = np.exp(-2j * np.pi * np.outer(f.flat[i:i + chunk], t_h)) @ h
    return out


def impulse_response(detector: str, dt_fs: float, n: int, probe_fwhm_fs: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Discrete impulse response h(t) of a detector on a grid centred on t = 0.

    Parameters
    ----------
    detector : str
        Detector key, see :func:`detector_response`.
    dt_fs : float
        Sample step in fs.
    n : int
        Number of samples (even); the grid runs from −n/2·dt to (n/2 − 1)·dt.
    probe_fwhm_fs : float, optional
        Probe duration in fs.

    Returns
    -------
    t_h, h : ndarray
        Times in fs and the per-sample kernel, consistent with
        :func:`response_from_samples`.
    """
    f = rfftfreq(n, dt_fs) * 1e3
    h = np.fft.fftshift(irfft(detector_response(f, detector, probe_fwhm_fs), n))
    t_h = (np.arange(n) - n // 2) * dt_fs
    return t_h, h


def load_transfer(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a measured impulse response h(t) from a CSV file with columns ``time_fs, h``.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row naming ``time_fs`` and ``h``.

    Returns
    -------
    t_h, h : ndarray

    Raises
    ------
    ValueError
        If a column is missing, a value is not finite, or the time step is not uniform.
    """
    path = Path(path)
    try:
        data = np.genfromtxt(path, delimiter=",", names=True, dtype=float)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    names = data.dtype.names or ()
    missing = {"time_fs", "h"} - set(names)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}; found {list(names)}")
    t_h, h = np.atleast_1d(data["time_fs"]), np.atleast_1d(data["h"])
    if t_h.size < 4:
        raise ValueError(f"{path}: needs at least 4 samples, has {t_h.size}")
    if not (np.all(np.isfinite(t_h)) and np.all(np.isfinite(h))):
        raise ValueError(f"{path}: contains NaN or infinite values")
    check_uniform(t_h, what=str(path))
    return t_h, h


def check_uniform(t: np.ndarray, what: str = "time grid", rtol: float = 1e-6) -> float:
    """Return the step of a strictly increasing uniform grid, or raise ValueError naming ``what``."""
    steps = np.diff(np.asarray(t, float))
    step = float(np.median(steps))
    if step <= 0 or np.max(np.abs(steps - step)) > rtol * abs(step) + 1e-9:
        raise ValueError(f"{what}: time step is not uniform (steps from {steps.min():g} to {steps.max():g} fs)")
    return step


def response_grid(n: int, dt_fs: float) -> np.ndarray:
    """Frequencies (THz) at which :func:`apply_response` evaluates H for ``n`` samples of step ``dt_fs``."""
    # room for the detector's phonon ringing (several ps) on both sides of the record
    nfft = next_fast_len(3 * n + int(np.ceil(RINGING_FS / dt_fs)))
    return rfftfreq(nfft, dt_fs) * 1e3


def apply_response(dt_fs: float, field: np.ndarray, response) -> np.ndarray:
    """Signal S = h ∗ E of a field sampled on a uniform grid.

    Parameters
    ----------
    dt_fs : float
        Grid step in fs.
    field : ndarray
        E on the grid. It should be zero at the start (before the pump); its
        last value is tapered to zero over the padding so the wrap-around of
        the FFT does not see a step.
    response : callable or ndarray
        ``response(f_THz) -> complex ndarray`` in numpy's convention, e.g.
        ``functools.partial(detector_response, detector="gap250")``, or its
        values at ``response_grid(len(field), dt_fs)`` when several fields share it.

    Returns
    -------
    ndarray
        S on the same grid.
    """
    field = np.asarray(field, float)
    n = field.size
    f = response_grid(n, dt_fs)
    nfft = 2 * (f.size - 1)
    taper = field[-1] * 0.5 * (1 + np.cos(np.linspace(0, np.pi, nfft - n)))
    spectrum = rfft(np.concatenate([field, taper]))
    h = response(f) if callable(response) else response
    return irfft(spectrum * h, nfft)[:n]
