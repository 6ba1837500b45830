"""Regularized deconvolution S → E of an EOS waveform, with causality fixing the DC part.

The measured signal is S = h ∗ E (physics.md §2). h has no DC component and a
finite bandwidth, so the inversion is regularized (Tikhonov):

    minimize ‖K·E − S‖² + λ‖E‖²   subject to   E(t) = 0 for t < t_support,

where K is the linear convolution with h on the data window, evaluated with FFTs
on a zero-padded grid. Without the support constraint the solution is the
frequency-domain filter E = H*·S/(|H|² + λ), which loses the DC part and the
low frequencies that h does not pass. With it, the unknowns before the pump are
removed and the slow part of E is pinned by the requirement that E vanish
before the pump; the system is solved by conjugate gradients on the normal
equations, preconditioned by that frequency-domain filter.

λ is chosen from the data by the discrepancy principle: the residual of the
frequency-domain solution equals the expected noise energy Σσ_k², with σ
measured before time zero (or given per point).

The resolution kernel reported with every result is the response of the
regularized inverse to a delta in E: r = F⁻¹[|H|²/(|H|² + λ)], zero-phase and
centred on t = 0; its central-peak FWHM is the time resolution of E.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from ._transfer import RINGING_FS, detector_response

LAMBDA_MIN = 1e-6  # relative to max|H|²: below it the inversion only amplifies rounding
LOW_BAND = 1e-2  # |H|²/max|H|² below which a low frequency is left to the causality constraint
EXTENSION_TOL = 1e-3  # E is also solved for after the record, as far as h reaches back by this fraction


@dataclass(frozen=True)
class Response:
    """Transfer function H sampled for one record length and step, ready for FFT convolution.

    Attributes
    ----------
    n : int
        Record length (samples).
    dt_fs : float
        Sample step in fs.
    nfft : int
        Zero-padded FFT length (room for the response's ringing on both sides).
    H : ndarray of complex
        H at ``rfftfreq(nfft, dt_fs)``, numpy FFT convention (multiply ``rfft`` spectra).
    n_ext : int
        Samples by which h reaches back in time (velocity-mismatch precursor): E
        after the record still shows in its last ``n_ext`` samples.
    """

    n: int
    dt_fs: float
    nfft: int
    H: np.ndarray
    n_ext: int = 0

    @classmethod
    def build(cls, n: int, dt_fs: float, nfft: int, H: np.ndarray) -> Response:
        h = irfft(H, nfft)
        back = np.abs(h[::-1][: nfft // 4])  # lags −1, −2, … dt
        big = np.nonzero(back > EXTENSION_TOL * np.abs(h).max())[0]
        H.setflags(write=False)
        return cls(int(n), float(dt_fs), int(nfft), H, int(big[-1]) + 1 if big.size else 0)

    def convolve(self, e: np.ndarray) -> np.ndarray:
        """S = h ∗ E on the record window, for E on the record (and optionally its extension)."""
        return irfft(rfft(e, self.nfft) * self.H, self.nfft)[: self.n]

    def correlate(self, s: np.ndarray, extended: bool = False) -> np.ndarray:
        """Adjoint of :meth:`convolve`: Kᵀ·s, on the record (plus the extension if ``extended``)."""
        m = self.n + (self.n_ext if extended else 0)
        return irfft(rfft(s, self.nfft) * np.conj(self.H), self.nfft)[:m]


def _nfft(n: int, dt_fs: float, ringing_fs: float) -> int:
    return next_fast_len(2 * n + int(np.ceil(ringing_fs / dt_fs)), real=True)


@lru_cache(maxsize=32)
def _detector_H(detector: str, probe_fwhm_fs: float, n: int, dt_fs: float) -> Response:
    nfft = _nfft(n, dt_fs, RINGING_FS)
    f = np.fft.rfftfreq(nfft, dt_fs) * 1e3
    return Response.build(n, dt_fs, nfft, detector_response(f, detector, probe_fwhm_fs))


def detector_operator(detector: str, n: int, dt_fs: float, probe_fwhm_fs: float = 20.0) -> Response:
    """:class:`Response` of a detector model (cached per detector, length and step).

    Parameters
    ----------
    detector : str
        ``"gap250"`` or ``"znte1000"``.
    n : int
        Record length.
    dt_fs : float
        Sample step in fs.
    probe_fwhm_fs : float, optional
        Probe duration in fs.

    Returns
    -------
    Response
    """
    return _detector_H(detector, float(probe_fwhm_fs), int(n), float(dt_fs))


def sampled_operator(t_h: np.ndarray, h: np.ndarray, n: int, dt_fs: float, rtol: float = 1e-3) -> Response:
    """:class:`Response` of a measured impulse response h(t) sampled on the data's step.

    Parameters
    ----------
    t_h : ndarray
        Sample times of h in fs; uniform, with the step of the data.
    h : ndarray
        Per-sample kernel, S_j = Σ_k h_k·E_{j−k} (as :func:`response_from_samples`).
    n : int
        Record length of the data.
    dt_fs : float
        Step of the data in fs.
    rtol : float, optional
        Allowed relative mismatch between the two steps.

    Returns
    -------
    Response

    Raises
    ------
    ValueError
        If the step of h differs from the data's.
    """
    t_h, h = np.asarray(t_h, float), np.asarray(h, float)
    step = float(np.median(np.diff(t_h)))
    if abs(step - dt_fs) > rtol * dt_fs:
        raise ValueError(f"transfer function step {step:g} fs differs from the data step {dt_fs:g} fs")
    nfft = _nfft(n, dt_fs, max(RINGING_FS, 2 * (t_h[-1] - t_h[0])))
    # sample k of h sits at t_h[0] + k·dt: a circular FFT of the samples, shifted by t_h[0]
    H = rfft(h, nfft) * np.exp(-2j * np.pi * np.fft.rfftfreq(nfft, dt_fs) * t_h[0])
    return Response.build(n, dt_fs, nfft, H)


@dataclass
class Deconvolution:
    """Result of :func:`deconvolve`.

    Attributes
    ----------
    delay_fs : ndarray
        Time grid of the data.
    field : ndarray
        Recovered E (in units of S per unit of h's gain); zero before ``support_fs``.
    lam : float
        Regularization strength λ (in units of |H|², H peak-normalized for the models).
    sigma : ndarray
        Per-point noise level used for the discrepancy principle.
    support_fs : float or None
        Start of the support of E (None: no causality constraint).
    kernel_t_fs, kernel : ndarray
        Resolution kernel r(t) (peak 1) on lags centred on 0.
    resolution_fs : float
        FWHM of the central peak of r in fs.
    iterations : int
        Conjugate-gradient iterations used (0 without the constraint).
    residual_rms : float
        rms of S − h ∗ E.
    """

    delay_fs: np.ndarray
    field: np.ndarray
    lam: float
    sigma: np.ndarray
    support_fs: float | None
    kernel_t_fs: np.ndarray
    kernel: np.ndarray
    resolution_fs: float
    iterations: int
    residual_rms: float


def _rfft_weights(nfft: int) -> np.ndarray:
    w = np.full(nfft // 2 + 1, 2.0)
    w[0] = 1.0
    if nfft % 2 == 0:
        w[-1] = 1.0
    return w / nfft


def discrepancy_lambda(op: Response, signal: np.ndarray, noise_energy: float) -> float:
    """λ at which the frequency-domain Tikhonov residual equals ``noise_energy`` (discrepancy principle).

    Parameters
    ----------
    op : Response
        Transfer function on the data's grid.
    signal : ndarray
        Measured S.
    noise_energy : float
        Expected Σσ_k² of the noise in S.

    Returns
    -------
    float
        λ, clipped to [LAMBDA_MIN, 1e3]·max|H|².
    """
    H2 = np.abs(op.H) ** 2
    scale = float(H2.max())
    # below the detector's band the data say nothing (H → 0 at DC): causality, not λ,
    # fixes those frequencies, so they count neither in the residual nor in the target
    start = int(np.argmax(H2 >= LOW_BAND * scale))
    w = _rfft_weights(op.nfft)
    noise_energy = noise_energy * float(w[start:].sum() / w.sum())
    S2 = (np.abs(rfft(signal, op.nfft)) ** 2 * w)[start:]
    H2 = H2[start:]

    def residual(log_lam):
        lam = np.exp(log_lam) * scale
        return float(np.sum(S2 * (lam / (H2 + lam)) ** 2))

    lo, hi = np.log(LAMBDA_MIN), np.log(1e3)
    if residual(hi) <= noise_energy:
        return float(np.exp(hi) * scale)
    if residual(lo) >= noise_energy:
        return float(np.exp(lo) * scale)
    for _ in range(60):  # bisection on log λ: the residual grows monotonically with λ
        mid = 0.5 * (lo + hi)
        if residual(mid) < noise_energy:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-3:
            break
    return float(np.exp(0.5 * (lo + hi)) * scale)


def resolution_kernel(op: Response, lam: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Resolution kernel of the regularized inverse and its FWHM.

    Parameters
    ----------
    op : Response
        Transfer function.
    lam : float
        Regularization strength.

    Returns
    -------
    t_fs, r, fwhm_fs
        Lags (fs, centred on 0, ±1 ps), the kernel r = F⁻¹[|H|²/(|H|²+λ)]
        scaled to a peak of 1, and the FWHM of its central peak (linear
        interpolation of the half-maximum crossings).
    """
    H2 = np.abs(op.H) ** 2
    r = irfft(H2 / (H2 + lam), op.nfft)
    half = min(op.nfft // 2 - 1, int(np.ceil(1000.0 / op.dt_fs)))
    kernel = np.concatenate([r[-half:], r[: half + 1]])
    kernel = kernel / kernel[half]
    t = (np.arange(kernel.size) - half) * op.dt_fs
    right = half + int(np.argmax(kernel[half:] < 0.5))
    # crossing between right-1 and right; the kernel is symmetric
    k0, k1 = kernel[right - 1], kernel[right]
    x = (right - 1 - half) + (k0 - 0.5) / (k0 - k1)
    return t, kernel, float(2 * x * op.dt_fs)


def _pcg(apply_A, b, precond, x0, tol, maxiter):
    x = x0.copy()
    r = b - apply_A(x)
    z = precond(r)
    p = z.copy()
    rz = float(r @ z)
    bnorm = float(np.linalg.norm(b)) or 1.0
    for it in range(1, maxiter + 1):
        Ap = apply_A(p)
        alpha = rz / float(p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        if np.linalg.norm(r) < tol * bnorm:
            return x, it
        z = precond(r)
        rz_new = float(r @ z)
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, maxiter


def deconvolve(delay_fs: np.ndarray, signal: np.ndarray, op: Response, *, sigma: np.ndarray | float,
               support_fs: float | None = None, lam: float | None = None, tol: float = 1e-6,
               maxiter: int = 200) -> Deconvolution:
    """Recover E from S = h ∗ E + noise by Tikhonov regularization with a causal support.

    Parameters
    ----------
    delay_fs : ndarray
        Uniform time grid in fs (length ``op.n``, step ``op.dt_fs``).
    signal : ndarray
        Measured S.
    op : Response
        Transfer function, see :func:`detector_operator` and :func:`sampled_operator`.
    sigma : float or ndarray
        Noise level (per point or one value), e.g. the standard deviation before time zero.
    support_fs : float, optional
        E is constrained to zero before this time (the pump arrival minus a margin).
        None solves without the constraint (pure frequency-domain filter, no DC).
    lam : float, optional
        Regularization strength; default: the discrepancy principle.
    tol, maxiter : optional
        Conjugate-gradient stopping rule.

    Returns
    -------
    Deconvolution
    """
    t = np.asarray(delay_fs, float)
    s = np.asarray(signal, float)
    if s.size != op.n or t.size != op.n:
        raise ValueError(f"record of {s.size} samples does not match the response built for {op.n}")
    sig = np.broadcast_to(np.asarray(sigma, float), s.shape)
    if lam is None:
        lam = discrepancy_lambda(op, s, float(np.sum(sig**2)))
    lam = max(float(lam), LAMBDA_MIN * float(np.max(np.abs(op.H) ** 2)))
    H2 = np.abs(op.H) ** 2
    filt = 1.0 / (H2 + lam)
    S = rfft(s, op.nfft)
    unconstrained = irfft(S * np.conj(op.H) * filt, op.nfft)[: op.n]
    iterations = 0
    if support_fs is None:
        e = unconstrained
    else:
        if t[-1] < support_fs:
            raise ValueError(f"support starts at {support_fs:g} fs, after the last delay {t[-1]:g} fs")
        # unknowns: E on the record from the support on, and after the record as far as h reaches back
        m = op.n + op.n_ext
        mask = np.concatenate([t >= support_fs, np.ones(op.n_ext, bool)])

        def place(x):
            full = np.zeros(m)
            full[mask] = x
            return full

        def apply_A(x):
            return op.correlate(op.convolve(place(x)), extended=True)[mask] + lam * x

        def precond(x):
            return irfft(rfft(place(x), op.nfft) * filt, op.nfft)[:m][mask]

        b = op.correlate(s, extended=True)[mask]
        start = irfft(S * np.conj(op.H) * filt, op.nfft)[:m][mask]
        x, iterations = _pcg(apply_A, b, precond, start, tol, maxiter)
        e_ext = place(x)
        e = e_ext[: op.n]
    kt, kernel, fwhm = resolution_kernel(op, lam)
    resid = s - op.convolve(e if support_fs is None else e_ext)
    return Deconvolution(t, e, float(lam), np.array(sig), support_fs, kt, kernel, fwhm, iterations,
                         float(np.sqrt(np.mean(resid**2))))
