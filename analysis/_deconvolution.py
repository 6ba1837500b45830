"""Regularized deconvolution S → E of an EOS waveform, with causality fixing the DC part.

The measured signal is S = P·(h ∗ E): h has no DC component and a finite
bandwidth, and P samples the internal uniform grid at the measured delays
(any delay grid, see :mod:`._grid`). The inversion is regularized (Tikhonov):

    minimize Σ_j w_j (P·K·E − S)_j² + λ‖E‖²   subject to   E(t) = 0 for t < t_support,

with weights w_j ∝ 1/σ_j² from the noise model. Without the support
constraint the solution is the frequency-domain filter E = H*·S/(|H|² + λ),
which loses the DC part and the low frequencies that h does not pass. With
it, the unknowns before the pump are removed and the slow part of E is pinned
by the requirement that E vanish before the pump; the system is solved by
conjugate gradients on the normal equations, preconditioned by that filter,
for several right-hand sides at once.

λ is chosen from the data by the discrepancy principle: the residual of the
frequency-domain solution equals the expected noise energy Σσ_k².

The estimator returned is linear in S, so what it does to the truth is known
exactly: the resolution kernel is its response to a delta in E at the probe
delay (near the peak of j_s), support constraint included, so that
kernel ⊛ truth ≈ E returned. Its FWHM is the time resolution. The response to
a unit step says how much of a slow component (an offset, a long tail) the
estimator recovers; the response to a delta in S gives the noise band of E.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

from ._grid import Sampling
from ._transfer import RINGING_FS, detector_response, response_from_samples

PENALTY_FLOOR = 1e-9  # keeps the filter finite at DC, where h and the penalty both vanish
LAMBDA_MIN = 1e-6  # relative to max|H|²: below it the inversion only amplifies rounding
LOW_BAND = 1e-2  # |H|²/max|H|² below which a low frequency is left to the causality constraint
RINGING_TOL = 1e-5  # the ringing below this fraction of h's peak may wrap around the FFT
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
        H.setflags(write=False)
        return cls(int(n), float(dt_fs), int(nfft), H, reach_back(H, nfft, EXTENSION_TOL))

    def convolve(self, e: np.ndarray) -> np.ndarray:
        """S = h ∗ E on the record window, for E on the record (and optionally its extension)."""
        return irfft(rfft(e, self.nfft) * self.H, self.nfft)[..., : self.n]

    def correlate(self, s: np.ndarray, extended: bool = False) -> np.ndarray:
        """Adjoint of :meth:`convolve`: Kᵀ·s, on the record (plus the extension if ``extended``)."""
        m = self.n + (self.n_ext if extended else 0)
        return irfft(rfft(s, self.nfft) * np.conj(self.H), self.nfft)[..., :m]


def reach_back(H: np.ndarray, nfft: int, rel: float) -> int:
    """Samples by which the response of ``H`` reaches back in time above ``rel`` of its peak (velocity mismatch)."""
    h = irfft(H, nfft)
    back = np.abs(h[::-1][: nfft // 4])  # lags −1, −2, … dt
    big = np.nonzero(back > rel * np.abs(h).max())[0]
    return int(big[-1]) + 1 if big.size else 0


def _nfft(n: int, dt_fs: float, ringing_fs: float) -> int:
    """FFT length for a linear convolution on n samples (and h's precursor after them) with h's ringing.

    The record and its extension, plus the ringing, must fit without wrapping; the precursor
    (velocity mismatch, well under a tenth of the ringing) fits in the 10 % margin.
    """
    return next_fast_len(n + int(np.ceil(1.1 * ringing_fs / dt_fs)), real=True)


@lru_cache(maxsize=16)
def ringing_fs(detector: str, probe_fwhm_fs: float, dt_fs: float) -> float:
    """How long the detector's response rings: the last time |h| exceeds RINGING_TOL of its peak."""
    nfft = next_fast_len(int(np.ceil(2 * RINGING_FS / dt_fs)), real=True)
    h = np.abs(irfft(detector_response(np.fft.rfftfreq(nfft, dt_fs) * 1e3, detector, probe_fwhm_fs), nfft))
    causal = h[: nfft // 2]
    return float(np.nonzero(causal > RINGING_TOL * h.max())[0][-1] * dt_fs)


@lru_cache(maxsize=32)
def _detector_H(detector: str, probe_fwhm_fs: float, n: int, dt_fs: float) -> Response:
    # the FFT holds the record and the ringing of this detector, not the longest one of any: ≈ 30 % faster
    nfft = _nfft(n, dt_fs, ringing_fs(detector, probe_fwhm_fs, dt_fs))
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
        Sample times of h in fs; uniform, any step (another step than the data's is
        resampled through h's spectrum, band-limited to its Nyquist frequency).
    h : ndarray
        Per-sample kernel, S_j = Σ_k h_k·E_{j−k} (as :func:`response_from_samples`).
    n : int
        Record length of the data.
    dt_fs : float
        Step of the data in fs.
    rtol : float, optional
        Relative mismatch below which the two steps count as equal.

    Returns
    -------
    Response
    """
    t_h, h = np.asarray(t_h, float), np.asarray(h, float)
    step = float(np.median(np.diff(t_h)))
    nfft = _nfft(n, dt_fs, max(RINGING_FS, 2 * (t_h[-1] - t_h[0])))
    f = np.fft.rfftfreq(nfft, dt_fs)
    if abs(step - dt_fs) > rtol * dt_fs:
        # another step: h's own spectrum (Σ h_k e^{−2πi f t_k} does not depend on the step), band-limited
        # to what both grids hold: a coarser h is interpolated, not aliased, and a finer one loses what the
        # data's grid cannot carry without ringing through the whole record
        nyquist = 0.5 / max(step, dt_fs)
        taper = np.clip((nyquist - f) / (0.1 * nyquist), 0.0, 1.0)
        H = response_from_samples(t_h, h, f * 1e3) * np.sin(0.5 * np.pi * taper) ** 2
        return Response.build(n, dt_fs, nfft, H)
    # sample k of h sits at t_h[0] + k·dt: a circular FFT of the samples, shifted by t_h[0]
    H = rfft(h, nfft) * np.exp(-2j * np.pi * f * t_h[0])
    return Response.build(n, dt_fs, nfft, H)


@dataclass
class Deconvolution:
    """Result of :func:`deconvolve`.

    Attributes
    ----------
    delay_fs : ndarray
        The internal uniform grid E is returned on.
    field : ndarray
        Recovered E (in units of S per unit of h's gain); zero before ``support_fs``.
    stderr : ndarray
        Noise band of E (one standard deviation), from the noise model.
    lam : float
        Regularization strength λ (in units of |H|², H peak-normalized for the models).
    sigma : ndarray
        Per-datum noise level the weights and λ came from.
    support_fs : float or None
        Start of the support of E (None: no causality constraint).
    kernel_t_fs, kernel : ndarray
        Resolution kernel of the estimator on lags: E ≈ Σ_l kernel[l]·truth(t − l).
    resolution_fs : float
        FWHM of the kernel's main peak in fs.
    probe_fs : float
        Delay at which the kernel was taken.
    slow_recovery : float
        Fraction of a unit step starting at the probe that the estimator
        returns 1–2 ps later (1: offsets and slow tails are recovered; NaN:
        the record is too short to tell).
    iterations : int
        Conjugate-gradient iterations used (0 without the constraint).
    residual_rms : float
        rms of S − P·(h ∗ E) at the data.
    """

    delay_fs: np.ndarray
    field: np.ndarray
    stderr: np.ndarray
    lam: float
    sigma: np.ndarray
    support_fs: float | None
    kernel_t_fs: np.ndarray
    kernel: np.ndarray
    resolution_fs: float
    probe_fs: float
    slow_recovery: float
    iterations: int
    residual_rms: float


def penalty(op: Response) -> np.ndarray:
    """Spectrum of the roughness penalty ‖ΔE‖² (first differences), 1 at the detector's peak frequency.

    A roughness penalty leaves slow parts (an offset, a long tail) to the data and to causality
    instead of shrinking them, and suppresses what a coarse stretch of delays cannot resolve.
    """
    f = np.fft.rfftfreq(op.nfft, op.dt_fs)
    return (4.0 * np.sin(np.pi * f * op.dt_fs) ** 2 + PENALTY_FLOOR) / _penalty_norm(op)


def _penalty_norm(op: Response) -> float:
    """|D(f)|² at the detector's peak frequency: λ keeps its meaning there."""
    f_peak = np.fft.rfftfreq(op.nfft, op.dt_fs)[int(np.argmax(np.abs(op.H)))]
    return float(4.0 * np.sin(np.pi * f_peak * op.dt_fs) ** 2)


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
        Transfer function on the signal's uniform grid.
    signal : ndarray
        Measured S on that grid.
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
    P = penalty(op)[start:]

    def residual(log_lam):
        lam = np.exp(log_lam) * scale * P
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
    """Kernel of the unconstrained frequency-domain filter and its FWHM.

    This is the resolution of the deconvolution *without* the causal support
    (it has no DC part); :func:`deconvolve` reports the kernel of the estimator
    it actually returns.

    Parameters
    ----------
    op : Response
        Transfer function.
    lam : float
        Regularization strength.

    Returns
    -------
    t_fs, r, fwhm_fs
        Lags (fs, centred on 0, ±1 ps), the kernel r = F⁻¹[|H|²/(|H|²+λ)] per
        sample, and the FWHM of its central peak.
    """
    H2 = np.abs(op.H) ** 2
    r = irfft(H2 / (H2 + lam * penalty(op)), op.nfft)
    half = min(op.nfft // 2 - 1, int(np.ceil(KERNEL_HALF_FS / op.dt_fs)))
    kernel = np.concatenate([r[-half:], r[: half + 1]])
    t = (np.arange(kernel.size) - half) * op.dt_fs
    return t, kernel, kernel_fwhm(t, kernel)


def kernel_fwhm(t_fs: np.ndarray, kernel: np.ndarray) -> float:
    """Full width at half maximum of a kernel's main peak (linear interpolation of both crossings)."""
    k = int(np.argmax(kernel))
    half = 0.5 * kernel[k]
    right = k + int(np.argmax(kernel[k:] < half)) if np.any(kernel[k:] < half) else kernel.size - 1
    left = k - int(np.argmax(kernel[k::-1] < half)) if np.any(kernel[k::-1] < half) else 0

    def cross(i0, i1):
        y0, y1 = kernel[i0], kernel[i1]
        return t_fs[i0] + (half - y0) / (y1 - y0) * (t_fs[i1] - t_fs[i0]) if y1 != y0 else t_fs[i0]

    return float(cross(right - 1, right) - cross(left + 1, left))


KERNEL_HALF_FS = 1000.0
SLOW_WINDOW_FS = (1000.0, 2000.0)  # where the step response is read: after h's ringing, before most record ends
PROBE_AFTER_SUPPORT_FS = 150.0
PROBE_TOL = 1e-3


def _pcg(apply_A, B, precond, X0, tol, maxiter):
    """Preconditioned conjugate gradients for several right-hand sides (rows of B) at once.

    ``tol`` is the relative residual at which a row stops, one value or one per row;
    a row that has stopped costs nothing more.
    """
    X = X0.copy()
    R = B - apply_A(X)
    Z = precond(R)
    P = Z.copy()
    rz = np.sum(R * Z, axis=1)
    bnorm = np.linalg.norm(B, axis=1)
    bnorm[bnorm == 0] = 1.0
    limit = np.broadcast_to(np.asarray(tol, float), rz.shape) * bnorm
    active = np.linalg.norm(R, axis=1) >= limit
    it = 0
    while active.any() and it < maxiter:
        it += 1
        a = np.nonzero(active)[0]
        AP = apply_A(P[a])
        pap = np.sum(P[a] * AP, axis=1)
        alpha = np.where(pap > 0, rz[a] / np.where(pap > 0, pap, 1.0), 0.0)
        X[a] += alpha[:, None] * P[a]
        R[a] -= alpha[:, None] * AP
        Z_a = precond(R[a])
        rz_new = np.sum(R[a] * Z_a, axis=1)
        P[a] = Z_a + (rz_new / np.where(rz[a] != 0, rz[a], 1.0))[:, None] * P[a]
        rz[a] = rz_new
        active[a] = np.linalg.norm(R[a], axis=1) >= limit[a]
    return X, it


def deconvolve(delay_fs: np.ndarray, signal: np.ndarray, op: Response, *, sigma: np.ndarray | float,
               support_fs: float | None = None, lam: float | None = None, sampling: Sampling | None = None,
               probe_fs: float | None = None, tol: float = 1e-4, maxiter: int = 400) -> Deconvolution:
    """Recover E from S = P·(h ∗ E) + noise by Tikhonov regularization with a causal support.

    Parameters
    ----------
    delay_fs : ndarray
        Delays of the data in fs: the grid of ``op`` itself, or any delays
        within the grid of ``sampling``.
    signal : ndarray
        Measured S at those delays.
    op : Response
        Transfer function on the internal grid, see :func:`detector_operator`.
    sigma : float or ndarray
        Noise level per datum (or one value).
    support_fs : float, optional
        E is constrained to zero before this time (the pump arrival minus a margin).
        None solves without the constraint (pure frequency-domain filter, no DC).
    lam : float, optional
        Regularization strength; default: the discrepancy principle.
    sampling : Sampling, optional
        Internal grid and interpolation to ``delay_fs``; default: the data are the grid.
    probe_fs : float, optional
        Where the resolution kernel is taken; default 150 fs after the support starts.
    tol, maxiter : optional
        Conjugate-gradient stopping rule.

    Returns
    -------
    Deconvolution
    """
    s = np.asarray(signal, float)
    d = np.asarray(delay_fs, float)
    samp = sampling if sampling is not None else Sampling(d, d, None)
    if s.size != samp.delay_fs.size or op.n != samp.n:
        raise ValueError(f"record of {s.size} samples on a grid of {samp.n} does not match the response "
                         f"built for {op.n}")
    grid = samp.grid
    sig = np.broadcast_to(np.asarray(sigma, float), s.shape).astype(float)
    # every datum weighs the same: 1/σ² weights would vary ~25× across a waveform (amplitude and jitter noise)
    # and slow the solver ~5×, for a display estimate whose noise band is computed for these weights anyway
    w = np.full(s.size, samp.n / s.size)  # mean weight per grid point is 1: λ keeps the meaning of the uniform case
    s_grid = s if samp.identity else np.interp(grid, samp.delay_fs, s)
    if lam is None:
        noise_energy = float(np.sum(sig**2)) if samp.identity else \
            float(np.sum(np.interp(grid, samp.delay_fs, sig) ** 2))
        lam = discrepancy_lambda(op, s_grid, noise_energy)
    lam = max(float(lam), LAMBDA_MIN * float(np.max(np.abs(op.H) ** 2)))
    H2 = np.abs(op.H) ** 2
    pen = penalty(op)
    filt = 1.0 / (H2 + lam * pen)
    if support_fs is None:
        e = irfft(rfft(s_grid, op.nfft) * np.conj(op.H) * filt, op.nfft)[: op.n]
        kt, kernel, fwhm = resolution_kernel(op, lam)
        # stationary noise through the filter: Σ g² per unit noise variance, per grid point
        gain = float(np.sum(np.abs(np.conj(op.H) * filt) ** 2 * _rfft_weights(op.nfft)))
        band = np.sqrt(gain) * np.interp(grid, samp.delay_fs, sig)
        resid = s - samp.sample(op.convolve(e))
        return Deconvolution(grid, e, band, float(lam), sig, None, kt, kernel, fwhm,
                             float(grid[op.n // 2]), float("nan"), 0, float(np.sqrt(np.mean(resid**2))))
    if grid[-1] < support_fs:
        raise ValueError(f"support starts at {support_fs:g} fs, after the last delay {grid[-1]:g} fs")
    m = op.n + op.n_ext
    t_ext = grid[0] + op.dt_fs * np.arange(m)
    mask = np.concatenate([grid >= support_fs, np.ones(op.n_ext, bool)])

    def place(x):
        full = np.zeros((x.shape[0], m))
        full[:, mask] = x
        return full

    def forward(full):  # P·K on the grid and its extension
        return samp.sample(op.convolve(full))

    def adjoint(y):
        return op.correlate(samp.adjoint(y), extended=True)

    pen_scale = 1.0 / _penalty_norm(op)

    def roughness(x):  # DᵀD of the first difference, on the unknowns (zero outside them)
        full = place(x)
        padded = np.pad(full, ((0, 0), (1, 1)))
        return (2 * full - padded[:, :-2] - padded[:, 2:])[:, mask]

    def apply_A(x):
        return adjoint(forward(place(x)) * w)[:, mask] + lam * pen_scale * roughness(x)

    # P·W·Pᵀ is a weight density on the grid that varies (fine and coarse delays, noisier points): the
    # preconditioner scales by its smoothed inverse square root around the uniform filter (≈ 10× fewer iterations)
    density = np.concatenate([samp.adjoint(w), np.zeros(op.n_ext)])
    width = max(1, int(round(4 * np.max(np.diff(samp.delay_fs)) / op.dt_fs))) if s.size > 1 else 1
    density = np.convolve(density, np.ones(width) / width, mode="same")
    density[op.n:] = density[op.n - 1] if op.n_ext else density[op.n:]
    scale = 1.0 / np.sqrt(np.maximum(density, 1e-3 * density.max()))[mask]
    # on the support a constant costs one jump, λ/|D(f_peak)|², for a norm² of its length: so does DC here
    filt_pre = 1.0 / (H2 + lam * float(np.mean(scale**2)) * (pen + 1.0 / (int(mask.sum()) * _penalty_norm(op))))

    def precond(x):
        return scale * irfft(rfft(place(scale * x), op.nfft) * filt_pre, op.nfft)[:, :m][:, mask]

    probe = float(support_fs + PROBE_AFTER_SUPPORT_FS if probe_fs is None else probe_fs)
    k0 = int(np.clip(np.searchsorted(t_ext, probe), 0, m - 1))
    j0 = int(np.argmin(np.abs(samp.delay_fs - probe)))
    delta = np.zeros(m)
    delta[k0] = 1.0
    step = (t_ext >= t_ext[k0]).astype(float)
    data_delta = np.zeros(s.size)
    data_delta[j0] = 1.0
    # right-hand sides: the data, a delta in E (kernel), a step in E (slow part), a delta in S (noise band)
    Y = np.vstack([s, forward(delta[None])[0], forward(step[None])[0], data_delta])
    B = adjoint(Y * w)[:, mask]
    X0 = precond(B)
    # the probes describe the estimator (kernel, step, band): a per-mille solve is plenty for them
    X, iterations = _pcg(apply_A, B, precond, X0, np.array([tol, PROBE_TOL, PROBE_TOL, PROBE_TOL]), maxiter)
    sol = place(X)
    e_ext, resp_delta, resp_step, resp_data = sol
    e = e_ext[: op.n]
    half = int(np.ceil(KERNEL_HALF_FS / op.dt_fs))
    lags = np.arange(-half, half + 1)
    idx = k0 + lags
    inside = (idx >= 0) & (idx < m)
    kernel = np.zeros(lags.size)
    kernel[inside] = resp_delta[idx[inside]]
    kt = lags * op.dt_fs
    late = (t_ext >= t_ext[k0] + SLOW_WINDOW_FS[0]) & (t_ext <= t_ext[k0] + SLOW_WINDOW_FS[1]) & \
        (np.arange(m) < op.n)
    slow = float(np.mean(resp_step[late])) if late.sum() >= 4 else float("nan")
    # noise band: var E(t) = Σ_j (w_j·u(t − t_j))²·σ_j², u the response to a unit datum (locally stationary)
    u = resp_data / w[j0]
    u_lag = np.zeros(2 * half + 1)
    src = k0 + lags
    ok = (src >= 0) & (src < m)
    u_lag[ok] = u[src[ok]]
    weight_grid = samp.adjoint(w**2 * sig**2)  # each datum's w²σ² on the grid points next to it
    var = np.convolve(weight_grid, u_lag**2, mode="full")[half: half + weight_grid.size]
    band = np.where(grid >= support_fs, np.sqrt(np.maximum(var, 0.0)), 0.0)
    resid = s - forward(e_ext[None])[0]
    return Deconvolution(grid, e, band, float(lam), sig, float(support_fs), kt, kernel, kernel_fwhm(kt, kernel),
                         float(t_ext[k0]), slow, iterations, float(np.sqrt(np.mean(resid**2))))
