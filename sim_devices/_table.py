"""One physics state of the simulated table, shared by every simulated device.

Devices are views onto this state: the stage moves :attr:`SimTable.carriage_mm`,
the magnet sets :attr:`field_mT`, the lock-in reads :meth:`lockin_output`. The
signal follows physics.md §3–5: symmetry of every part under ±M, 180° turning and
helicity, a Nernst part linear in field, hysteresis, temperature and fluence
scaling, and the noise model with drift.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
from scipy.stats import norm

from femtospin import analysis
from femtospin.devices import FS_PER_MM_DOUBLE_PASS, N_AIR

from ._clock import SimClock
from ._samples import REFERENCE_FLUENCE_MJCM2, Sample


@dataclass(frozen=True)
class Pump:
    """Pump pulse: duration (intensity FWHM), fluence at the sample and laser power.

    The fluence is set by a half-wave-plate attenuator in front of a polarizer;
    ``max_fluence_mJcm2`` is its full transmission. The power meter reads
    ``power_W`` from a pick-off before the attenuator, so it watches the laser,
    not the attenuator setting.
    """

    fwhm_fs: float = 40.0
    fluence_mJcm2: float = REFERENCE_FLUENCE_MJCM2
    power_W: float = 0.5
    max_fluence_mJcm2: float = 1.0

    def __post_init__(self):
        if not 0 < self.fluence_mJcm2 <= self.max_fluence_mJcm2:
            raise ValueError(f"pump fluence {self.fluence_mJcm2} mJ/cm² outside (0, {self.max_fluence_mJcm2}]")


FAULT_KINDS = ("timeout", "stuck", "disconnect", "overflow")


@dataclass(frozen=True)
class Fault:
    """An instrument fault from simulated time ``at_s`` on.

    ``timeout``: queries get no reply within ``timeout_s``; ``stuck``: moves never
    complete; ``disconnect``: every operation fails at once; ``overflow``: a lock-in's
    buffer fills up during a fly sweep.
    """

    device: str
    kind: str
    at_s: float = 0.0
    timeout_s: float = 3.0

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {FAULT_KINDS}")


@dataclass(frozen=True)
class Detection:
    """How the probe reads the sample: EOS through a detector model or a measured h(t), or TR-MOKE."""

    mode: str = "eos"  # "eos" or "moke"
    detector: str = "gap250"  # key of analysis.DETECTORS; ignored when `transfer` is given
    probe_fwhm_fs: float = 20.0
    transfer: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # measured (t_h, h)
    # THz polarizer before the EOS crystal, from the polarization of the M-odd field (perpendicular to M): it
    # passes that field × cos ψ and the orthogonal one (the photo-spin current's, and the wave plate's linear
    # terms) × sin ψ. None: no polarizer, each part as detected with the amplitude the sample library gives
    polarizer_deg: float | None = None

    def __post_init__(self):
        if self.mode not in ("eos", "moke"):
            raise ValueError(f"detection mode must be 'eos' or 'moke', got {self.mode!r}")
        if self.polarizer_deg is not None and not np.isfinite(self.polarizer_deg):
            raise ValueError(f"polarizer angle must be finite, got {self.polarizer_deg}")
        if self.mode == "eos" and self.transfer is None:
            analysis.crystal(self.detector)
            analysis.check_probe_fwhm(self.probe_fwhm_fs)

    def projections(self) -> tuple[float, float]:
        """What the detection passes of the M-odd field's polarization and of the orthogonal one."""
        if self.polarizer_deg is None:
            return 1.0, 1.0
        psi = np.radians(self.polarizer_deg)
        return float(np.cos(psi)), float(np.sin(psi))

    def response(self):
        """H(f_THz) of the detection chain, numpy FFT convention."""
        if self.transfer is not None:
            t_h, h = (np.asarray(a, float) for a in self.transfer)
            return partial(analysis.response_from_samples, t_h, h)
        return partial(analysis.detector_response, detector=self.detector, probe_fwhm_fs=self.probe_fwhm_fs)


@dataclass(frozen=True)
class Noise:
    """Noise of physics.md §5, referred to a lock-in at τ = 100 ms, 24 dB/oct.

    σ² = additive² + (amplitude·μ)² + (jitter·dμ/dt)², scaled with the lock-in's
    noise bandwidth; plus slow 1/f laser drift (relative rms) and an optional
    linear drift (per simulated second) for tests of drift cancellation. The
    Hall probe that reads the field at the sample has an offset left after
    zeroing and a reading noise (a gaussmeter on its 3 mT range: ≈ 0.02 mT, 0.005 mT rms).
    """

    additive_V: float = 3e-6
    amplitude: float = 0.005
    jitter_fs: float = 0.3
    drift_rms: float = 0.01
    drift_linear_per_s: float = 0.0
    seed: int | None = 0
    hall_offset_mT: float = 0.02
    hall_noise_mT: float = 0.005

    @staticmethod
    def off() -> Noise:
        return Noise(0.0, 0.0, 0.0, 0.0, 0.0, 0, hall_offset_mT=0.0, hall_noise_mT=0.0)


KNOBS = ("angle_deg", "pump_qwp_deg", "probe_qwp_deg", "attenuator_deg", "spot_mm", "laser_on", "analyser_deg",
         "pump_open")
CHOP_FACTOR = float(np.sqrt(2) / np.pi)  # lock-in X (rms fundamental) per volt of a square-wave-chopped DC change
DC_NOISE_FACTOR = 100.0  # additive noise of one DC (AUX input) reading, in units of the lock-in's additive noise
REFERENCE_ENBW_HZ = analysis.noise_bandwidth(0.1, 24)
GRID_FS = np.arange(-4000.0, 12000.0, 1.0)


@lru_cache(maxsize=32)
def _eos_parts(sample: Sample, pump_fwhm: float, detection: Detection) -> dict[str, np.ndarray]:
    """Unit-amplitude signal shapes on GRID_FS, after the pump Gaussian and the detector."""
    t = GRID_FS
    dt = t[1] - t[0]
    spin_voltage = (sample.tau_es_fs, sample.tau_ep_fs, sample.R)
    helicity = None
    if sample.model == "spin_seebeck":
        current = analysis.spin_seebeck(t, tau_ep=sample.tau_seebeck_ep_fs, fwhm=pump_fwhm)
    elif sample.diffusion_nm > 0:  # through Bi: the demagnetization's current and the photo-spin current (§4c)
        current = analysis.spin_diffusion(t, sample.tau_s_fs, sample.diffusion_nm, fwhm=pump_fwhm, source=spin_voltage)
        helicity = analysis.spin_diffusion(t, sample.tau_s_photo_fs, sample.diffusion_nm, fwhm=pump_fwhm)
    else:
        current = analysis.spin_voltage(t, *spin_voltage, fwhm=pump_fwhm)
    fields = {
        "js": current,
        # E_M ∝ dM/dt has the spin-voltage shape (§4a) for every metal F
        "demag": analysis.spin_voltage(t, sample.tau_es_fs, sample.tau_ep_fs, sample.R, fwhm=pump_fwhm),
        "helicity": current if helicity is None else helicity,
        "nernst": analysis.spin_seebeck(t, fwhm=pump_fwhm),
        "background": analysis.gaussian_kernel(t, pump_fwhm) * pump_fwhm,
    }
    response = detection.response()(analysis.response_grid(t.size, dt))  # one evaluation for every part
    parts = {}
    for key, e in fields.items():
        s = analysis.apply_response(dt, e, response)
        peak = np.abs(s).max()
        parts[key] = s / peak if peak > 0 else s
    return parts


@lru_cache(maxsize=32)
def _moke_parts(sample: Sample, pump_fwhm: float) -> dict[str, np.ndarray]:
    """Normalized −ΔM/M and spin-accumulation shapes per layer on GRID_FS."""
    t = GRID_FS
    parts = {"reflectance": analysis.exponential_offset(t, sample.reflectance_tau_fs, sample.reflectance_offset,
                                                        fwhm=pump_fwhm)}
    for i, layer in enumerate(sample.magnetic_layers):
        parts[f"demag{i}"] = analysis.three_temperature(
            t, layer.A1, layer.A2, layer.A3, layer.tau_m_fs, layer.tau_e_fs, layer.t0_diff_fs, pump_fwhm)
        parts[f"accumulation{i}"] = layer.accumulation * analysis.spin_voltage(
            t, sample.tau_es_fs, sample.tau_ep_fs, sample.R, fwhm=pump_fwhm)
    return parts


class Hysteresis:
    """Preisach model of one magnetic layer: square hysterons with coercive fields spread around H_c.

    Minor loops come out right: a reverse field below the coercive field leaves
    the magnetization nearly unchanged.
    """

    def __init__(self, coercive_mT: float, width_mT: float, n: int = 64, m0: float = 1.0):
        q = (np.arange(n) + 0.5) / n
        self.switching_mT = np.clip(coercive_mT + width_mT * norm.ppf(q), 1e-3, None)
        self.states = np.full(n, 1.0 if m0 >= 0 else -1.0)

    def apply(self, field_mT: float) -> float:
        self.states[field_mT >= self.switching_mT] = 1.0
        self.states[field_mT <= -self.switching_mT] = -1.0
        return self.m

    @property
    def m(self) -> float:
        return float(self.states.mean())


class _Drift:
    """Slow relative laser drift: a seeded 1/f sum of sinusoids plus an optional linear term."""

    def __init__(self, rms: float, linear_per_s: float, rng: np.random.Generator, n: int = 24):
        self.freqs = np.logspace(-4, -1, n)  # Hz: periods of 10 s to ~3 h
        amps = 1 / np.sqrt(self.freqs)
        self.amps = rms * np.sqrt(2) * amps / np.sqrt(np.sum(amps**2)) if rms > 0 else np.zeros(n)
        self.phases = rng.uniform(0, 2 * np.pi, n)
        self.linear = linear_per_s

    def __call__(self, t_s: float) -> float:
        return float(np.sum(self.amps * np.sin(2 * np.pi * self.freqs * t_s + self.phases)) + self.linear * t_s)


class _Thermal:
    """First-order heating towards a setpoint that ramps at a limited rate."""

    def __init__(self, temperature_K: float, lag_s: float):
        self.lag_s = lag_s
        self.t_start, self.T_start, self.sp_start = 0.0, temperature_K, temperature_K
        self.target, self.rate = temperature_K, 0.0

    def _ramp_end(self) -> float:
        if self.rate <= 0:
            return self.t_start
        return self.t_start + abs(self.target - self.sp_start) / (self.rate / 60.0)

    def setpoint(self, t: float) -> float:
        if self.rate <= 0 or t >= self._ramp_end():
            return self.target
        return self.sp_start + np.sign(self.target - self.sp_start) * self.rate / 60.0 * (t - self.t_start)

    def temperature(self, t: float) -> float:
        tau, t1 = self.lag_s, self._ramp_end()
        if t1 > self.t_start:  # linear ramp of slope r: T = s − rτ + (T0 − s0 + rτ)·e^(−Δt/τ)
            r = np.sign(self.target - self.sp_start) * self.rate / 60.0
            dt = min(t, t1) - self.t_start
            T = self.sp_start + r * dt - r * tau + (self.T_start - self.sp_start + r * tau) * np.exp(-dt / tau)
            if t <= t1:
                return float(T)
            return float(self.target + (T - self.target) * np.exp(-(t - t1) / tau))
        return float(self.target + (self.T_start - self.target) * np.exp(-(t - self.t_start) / tau))

    def set(self, now: float, target: float, rate_K_per_min: float) -> None:
        self.T_start, self.sp_start = self.temperature(now), self.setpoint(now)
        self.t_start, self.target, self.rate = now, target, rate_K_per_min

    def stable_at(self, band_K: float, hold_s: float) -> float:
        """Simulated time from which the reading stays within ±band of the target for ``hold_s``."""
        t1 = self._ramp_end()
        gap = abs(self.temperature(t1) - self.target)
        t_in = t1 + (self.lag_s * np.log(gap / band_K) if gap > band_K else 0.0)
        return t_in + hold_s


@dataclass
class LockinSettings:
    time_constant_s: float = 0.1
    slope_db: int = 24
    sensitivity_V: float = 0.01
    phase_deg: float = 0.0


class SimTable:
    """The simulated optical table: sample, pump, detection, noise and clock, and the state of every knob.

    Parameters
    ----------
    sample : Sample
        Sample in the beam (every spot; see ``regions`` for several).
    pump, detection, noise : optional
        Laser, detection chain and noise model.
    clock : SimClock, optional
        Wall-time clock by default.
    regions : list of (x_min_mm, x_max_mm, Sample), optional
        Samples on one substrate by translation-stage position; outside every
        region the beam hits bare substrate (no magnetic signal).
    """

    def __init__(self, sample: Sample, pump: Pump = Pump(), detection: Detection = Detection(),
                 noise: Noise = Noise(), clock: SimClock | None = None,
                 regions: list[tuple[float, float, Sample]] | None = None):
        self.sample, self.pump, self.detection, self.noise = sample, pump, detection, noise
        self.clock = clock or SimClock()
        self.regions = regions
        self.rng = np.random.default_rng(noise.seed)
        # the power meter's noise is its own and fixed by the simulated time (_power_normal): polling it never
        # changes the lock-in's noise sequence, nor its own readings at the run's events
        self.power_rng = np.random.default_rng(None if noise.seed is None else noise.seed + 1)
        self.hall_rng = np.random.default_rng(None if noise.seed is None else noise.seed + 2)  # likewise
        self.drift = _Drift(noise.drift_rms, noise.drift_linear_per_s, self.rng)
        self.lock = threading.RLock()
        # delay line (mm along the stage); the calibrated time zero lives in the stage device
        self.true_time_zero_mm = 25.0
        self.backlash_mm = 0.002
        self.motor_mm = self.true_time_zero_mm - 1000.0 / (FS_PER_MM_DOUBLE_PASS * N_AIR)  # parked at −1 ps
        self.carriage_mm = self.motor_mm - self.backlash_mm / 2  # last approached from below
        # knobs
        self.field_mT = 0.0
        self.angle_deg = 0.0
        self.pump_qwp_deg = 0.0
        self.probe_qwp_deg = 0.0
        self.analyser_deg = 0.0  # analyser half-wave plate before the balanced detector (TR-MOKE)
        self.pump_open = 1.0  # pump shutter: 1 open, 0 closed
        self.spot_mm = 0.0
        self.attenuator_deg = float(np.degrees(0.5 * np.arccos(np.sqrt(pump.fluence_mJcm2 / pump.max_fluence_mJcm2))))
        self.laser_on = 1.0  # fraction of nominal laser power
        self.dropouts: list[tuple[float, float]] = []  # (start, end) in simulated s with the laser off
        self.faults: list[Fault] = []
        self.thermal = _Thermal(300.0, lag_s=60.0)
        self.lockin = LockinSettings()
        self.magnets = [Hysteresis(layer.coercive_mT, layer.switching_width_mT or 0.1 * layer.coercive_mT)
                        for layer in sample.magnetic_layers]
        self._parts: dict[int, dict] = {}  # signal shapes per sample in the beam
        self._residual = 0.0  # lock-in filter: part of the last input step not yet settled
        self._step_at = -np.inf

    # ----------------------------------------------------------- state changes
    def change(self, apply) -> None:
        """Apply a fast change of a knob and start the lock-in filter's response to it."""
        with self.lock:
            now = self.clock.now()
            before = self._filtered(now)
            apply()
            self._residual = self.target(now) - before
            self._step_at = now

    def move_stage(self, motor_mm: float) -> None:
        """Move the motor; the carriage follows with backlash play (the encoder reads the carriage)."""

        def apply():
            self.motor_mm = motor_mm
            half = self.backlash_mm / 2
            if motor_mm > self.carriage_mm + half:
                self.carriage_mm = motor_mm - half
            elif motor_mm < self.carriage_mm - half:
                self.carriage_mm = motor_mm + half

        self.change(apply)

    def set_field(self, field_mT: float) -> None:
        def apply():
            self.field_mT = field_mT
            for magnet in self.magnets:
                magnet.apply(field_mT)

        self.change(apply)

    def set_knob(self, name: str, value: float) -> None:
        """Set ``angle_deg``, ``pump_qwp_deg``, ``probe_qwp_deg``, ``attenuator_deg``, ``spot_mm`` or ``laser_on``."""
        if name not in KNOBS:
            raise AttributeError(f"SimTable has no knob {name!r}")
        self.change(lambda: setattr(self, name, float(value)))

    # ----------------------------------------------------------------- faults
    def inject_dropout(self, after_s: float, duration_s: float) -> None:
        """Switch the laser off for ``duration_s`` simulated seconds, ``after_s`` from now."""
        if not (after_s >= 0 and duration_s > 0):
            raise ValueError(f"dropout needs after_s ≥ 0 and duration_s > 0, got {after_s}, {duration_s}")
        start = self.clock.now() + after_s
        self.dropouts.append((start, start + duration_s))

    def inject_fault(self, device: str, kind: str, *, after_s: float = 0.0, timeout_s: float = 3.0) -> Fault:
        """Make ``device`` (its name) fail with ``kind`` from ``after_s`` simulated seconds from now."""
        fault = Fault(device, kind, self.clock.now() + after_s, timeout_s)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def fault(self, device: str) -> Fault | None:
        """The fault ``device`` suffers now, if any."""
        now = self.clock.now()
        return next((f for f in self.faults if f.device == device and now >= f.at_s), None)

    def laser_level(self, now: float) -> float:
        """Laser power as a fraction of nominal at simulated time ``now``."""
        if any(start <= now < end for start, end in self.dropouts):
            return 0.0
        return self.laser_on

    # ------------------------------------------------------------------ reads
    @property
    def fluence_mJcm2(self) -> float:
        """Fluence at the sample behind the half-wave-plate attenuator (Malus: cos² 2θ)."""
        return self.pump.max_fluence_mJcm2 * float(np.cos(2 * np.radians(self.attenuator_deg)) ** 2)

    @property
    def magnetization(self) -> float:
        """Magnetization of the (first) magnetic layer, −1 … +1."""
        return self.magnets[0].m

    def delay_fs(self) -> float:
        """True pump–probe delay from the carriage position."""
        return (self.carriage_mm - self.true_time_zero_mm) * FS_PER_MM_DOUBLE_PASS * N_AIR

    def temperature_K(self, now: float | None = None) -> float:
        return self.thermal.temperature(self.clock.now() if now is None else now)

    def sample_at_spot(self) -> Sample | None:
        if self.regions is None:
            return self.sample
        for lo, hi, s in self.regions:
            if lo <= self.spot_mm <= hi:
                return s
        return None

    def waveform(self, delay_fs: np.ndarray, now: float | None = None) -> np.ndarray:
        """Noiseless signal (V) at the lock-in input for delays ``delay_fs`` and the current knobs."""
        sample = self.sample_at_spot()
        delay_fs = np.asarray(delay_fs, float)
        if sample is None:
            return np.zeros_like(delay_fs)
        now = self.clock.now() if now is None else now

        def at(shape):
            return np.interp(delay_fs, GRID_FS, shape, left=0.0)

        scale = (self.fluence_mJcm2 / REFERENCE_FLUENCE_MJCM2) * self.laser_level(now) * (1.0 + self.drift(now)) \
            * self.pump_open
        magnetic = sample.temperature_factor(self.temperature_K(now))  # only what M drives follows T_C
        if self.detection.mode == "moke":
            return scale * magnetic * self._moke(sample, at)
        parts = self._parts.get(id(sample))
        if parts is None:  # hashing the frozen sample on every read costs more than the physics
            parts = self._parts[id(sample)] = _eos_parts(sample, self.pump.fwhm_fs, self.detection)
        m = self.magnetization
        turn = np.cos(np.radians(self.angle_deg))  # electric dipoles reverse under 180° turning
        qwp = np.radians(self.pump_qwp_deg)
        helicity = np.sin(2 * qwp)  # 45° → σ+, 135° → σ−, 0° → linear
        l1, l2 = sample.linear_qwp
        along, across = self.detection.projections()  # the M-odd field's polarization and the orthogonal one
        signal = (along * (magnetic * m * (turn * (sample.js_amplitude + sample.asymmetry_amplitude) * at(parts["js"])
                                           + sample.demag_amplitude * at(parts["demag"]))
                           + turn * sample.nernst_per_mT * self.field_mT * at(parts["nernst"])
                           + sample.background * at(parts["background"]))
                  + across * turn * (sample.helicity_amplitude * helicity + l1 * np.sin(4 * qwp)
                                     + l2 * np.cos(4 * qwp)) * at(parts["helicity"]))
        return scale * signal

    def _moke(self, sample: Sample, at) -> np.ndarray:
        """Pump-induced Kerr rotation/ellipticity mix of the probe QWP (0° rotation, 45° ellipticity), §4d–e.

        Normalized to the static Kerr signal at saturation (``kerr_*_V``), the ellipticity is −ΔM/M of the
        stack (the layers' mean, weighted by their magnetization) and the rotation adds the spin
        accumulation, so Δθ̄ − Δε̄ is the accumulation alone. The demagnetization lowers |θ_K|: its sign is
        opposite to the static signal's. A transient reflectance (M-even) leaks through the balanced
        detector's residual imbalance into both.
        """
        parts = _moke_parts(sample, self.pump.fwhm_fs)
        ms = [magnet.m for magnet in self.magnets]
        demag = -sum(m * at(parts[f"demag{i}"]) for i, m in enumerate(ms)) / len(ms)
        # the accumulation in one layer is driven by the other layer's spin current
        accumulation = sum(ms[-1 - i] * at(parts[f"accumulation{i}"]) for i in range(len(ms)))
        rotation = sample.kerr_rotation_V * (demag + accumulation)
        ellipticity = sample.kerr_ellipticity_V * demag
        w = np.cos(2 * np.radians(self.probe_qwp_deg)) ** 2
        return w * rotation + (1 - w) * ellipticity + sample.reflectance_V * at(parts["reflectance"])

    def static_kerr_mrad(self) -> float:
        """Static Kerr angle the probe sees now (mrad): the probe QWP's rotation/ellipticity mix, layers' mean."""
        sample = self.sample_at_spot()
        if sample is None or self.detection.mode != "moke":
            return 0.0
        m = float(np.mean([magnet.m for magnet in self.magnets])) * sample.bulk_magnetization(self.temperature_K())
        w = np.cos(2 * np.radians(self.probe_qwp_deg)) ** 2
        return m * (w * sample.kerr_rotation_mrad + (1 - w) * sample.kerr_ellipticity_mrad)

    def dc_V_per_mrad(self) -> float:
        """Balanced detector's DC difference per mrad of probe rotation (probe power × detector gain)."""
        s = self.sample
        return s.kerr_rotation_V / (CHOP_FACTOR * s.kerr_rotation_mrad)

    def dc_level(self) -> float:
        """One reading of the balanced detector's DC difference (V), as the lock-in's AUX input sees it.

        The analyser half-wave plate turned by δ rotates the probe by 2δ; the probe power follows
        the laser's drift. Pump-induced changes are ≤ 1e-3 of it and left out.
        """
        with self.lock:
            now = self.clock.now()
            # the Wollaston splits along ±45°: difference ∝ sin 2(θ + 2δ), linear in mrad near balance
            angle = 1e-3 * self.static_kerr_mrad() + 2 * np.radians(self.analyser_deg)
            value = self.dc_V_per_mrad() * 500.0 * np.sin(2 * angle) * self.laser_level(now) * (1.0 + self.drift(now))
            nz = self.noise
            sigma = np.hypot(DC_NOISE_FACTOR * nz.additive_V, nz.amplitude * value)
            return float(value + sigma * self.rng.standard_normal())

    def target(self, now: float) -> float:
        """Settled lock-in input at the current knobs (no noise)."""
        return float(self.waveform(self.delay_fs(), now))

    def _filtered(self, now: float) -> float:
        q = 1.0 - analysis.step_response(now - self._step_at, self.lockin.time_constant_s, self.lockin.slope_db)
        return self.target(now) - self._residual * q

    def lockin_output(self) -> tuple[float, float, bool]:
        """One snapshot of the lock-in outputs (X, Y, overload) with noise, as it is right now.

        A read before the filter has settled returns the unsettled value.
        """
        with self.lock:
            now = self.clock.now()
            lk, nz = self.lockin, self.noise
            value = self._filtered(now)
            scale = np.sqrt(analysis.noise_bandwidth(lk.time_constant_s, lk.slope_db) / REFERENCE_ENBW_HZ)
            if nz.jitter_fs > 0:
                d = self.delay_fs()
                slope = float(np.diff(self.waveform(np.array([d - 0.5, d + 0.5]), now))[0])
            else:
                slope = 0.0
            sigma = scale * np.sqrt(nz.additive_V**2 + (nz.amplitude * value) ** 2 + (nz.jitter_fs * slope) ** 2)
            phase = np.radians(lk.phase_deg)
            x = value * np.cos(phase) + sigma * self.rng.standard_normal()
            y = -value * np.sin(phase) + scale * nz.additive_V * self.rng.standard_normal()
        limit = lk.sensitivity_V
        overload = abs(x) > limit or abs(y) > limit
        return float(np.clip(x, -limit, limit)), float(np.clip(y, -limit, limit)), bool(overload)

    def hall_mT(self) -> float:
        """One Hall-probe reading of the field at the sample (mT): the field, the probe's offset and noise."""
        with self.lock:
            return float(self.field_mT + self.noise.hall_offset_mT + self.noise.hall_noise_mT
                         * self.hall_rng.standard_normal())

    def pump_power_W(self) -> float:
        with self.lock:
            now = self.clock.now()
            noise = self.noise.amplitude * self._power_normal(now)
            return float(self.pump.power_W * self.laser_level(now) * (1.0 + self.drift(now) + noise))

    def _power_normal(self, now: float) -> float:
        """The power meter's standard normal, fixed by the seed and the simulated time (to the microsecond).

        A meter that a background thread also polls (the laser watch, every 50 ms of wall time) would
        otherwise shift its noise sequence by a number of polls that depends on the machine's load, and
        a seeded run would not repeat; read at one instant, it reads one value, however often.
        """
        if self.noise.seed is None:
            return float(self.power_rng.standard_normal())
        key = (int(self.noise.seed) + 1, int(round(max(now, 0.0) * 1e6)))  # + 1: not the lock-in's stream
        return float(np.random.default_rng(key).standard_normal())
