"""Fly scans on the simulated table: a stage sweeping at constant velocity and the lock-in's buffer.

The lock-in's input is the signal at the carriage's delay at each instant (with
the laser's drift and drop-outs at that instant); its output is that input
through the RC^n filter, integrated on a fine time grid, plus noise: white
noise through the same filter, scaled so that each buffered sample has the
noise of a step-mode reading (:meth:`SimTable.lockin_output`). A fly scan on
the simulator therefore lags and smears as a real one does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ophyd.status import DeviceStatus
from scipy.signal import lfilter, lfiltic

from femtospin import analysis
from femtospin.devices import FS_PER_MM_DOUBLE_PASS, N_AIR

from ._table import REFERENCE_ENBW_HZ, SimTable

SUBSTEPS_PER_TAU = 8  # fine integration steps per time constant
NOISE_BURN_TAU = 15.0  # the noise filter starts this many τ early, so it is stationary
SR830_BUFFER_POINTS = 16383  # SR830 manual: points stored per channel


@dataclass(frozen=True)
class Trajectory:
    """A constant-velocity move of the carriage: from ``x0_mm`` at ``t0`` to ``x1_mm`` at ``t1`` (simulated s)."""

    t0: float
    t1: float
    x0_mm: float
    x1_mm: float

    def at(self, t: np.ndarray) -> np.ndarray:
        """Carriage position (mm) at simulated times ``t``."""
        frac = np.clip((np.asarray(t, float) - self.t0) / max(self.t1 - self.t0, 1e-12), 0.0, 1.0)
        return self.x0_mm + frac * (self.x1_mm - self.x0_mm)


def _drift(table: SimTable, t: np.ndarray) -> np.ndarray:
    d = table.drift
    return np.sin(2 * np.pi * np.outer(t, d.freqs) + d.phases) @ d.amps + d.linear * t


def _laser(table: SimTable, t: np.ndarray) -> np.ndarray:
    level = np.full(t.shape, float(table.laser_on))
    for start, end in table.dropouts:
        level[(t >= start) & (t < end)] = 0.0
    return level


def _rc_stage(u: np.ndarray, a: float, ratio: float) -> np.ndarray:
    """One RC stage, exact for an input linear between samples; starts settled on u[0]."""
    b = [1.0 - ratio * (1.0 - a), ratio * (1.0 - a) - a]
    return lfilter(b, [1.0, -a], u, zi=lfiltic(b, [1.0, -a], [u[0]], [u[0]]))[0]


def filter_stream(u: np.ndarray, dt_s: float, tau_s: float, slope_db: int) -> np.ndarray:
    """The lock-in's RC^n filter applied to an input sampled every ``dt_s``, settled on its first value.

    Each stage is integrated exactly for an input linear between samples, so a
    ramp comes out with the filter's lag n·τ to second order in dt.
    """
    a, ratio = math.exp(-dt_s / tau_s), tau_s / dt_s
    y = np.asarray(u, float)
    for _ in range(analysis.filter_order(slope_db)):
        y = _rc_stage(y, a, ratio)
    return y


def _filtered_noise(rng: np.random.Generator, n: int, dt_s: float, tau_s: float, slope_db: int) -> np.ndarray:
    """Unit-variance stationary noise with the filter's correlation, ``n`` samples every ``dt_s``."""
    burn = int(np.ceil(NOISE_BURN_TAU * tau_s / dt_s))
    a = math.exp(-dt_s / tau_s)
    y = rng.standard_normal(n + burn)
    for _ in range(analysis.filter_order(slope_db)):
        y = lfilter([1.0 - a], [1.0, -a], y)
    impulse = np.zeros(burn + 1)
    impulse[0] = 1.0
    for _ in range(analysis.filter_order(slope_db)):
        impulse = lfilter([1.0 - a], [1.0, -a], impulse)
    return y[burn:] / np.sqrt(np.sum(impulse**2))


def lockin_stream(table: SimTable, trajectory: Trajectory, t_start: float, rate_hz: float, n: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``n`` buffered samples from ``t_start`` at ``rate_hz`` while the carriage follows ``trajectory``.

    Returns
    -------
    t : ndarray
        Sample times (simulated s).
    x, y : ndarray
        Lock-in outputs (V), clipped at the sensitivity.
    overload : bool
        Whether any sample exceeded the sensitivity (the instrument latches it).
    """
    lk, nz = table.lockin, table.noise
    tau = lk.time_constant_s
    m = max(1, int(np.ceil(SUBSTEPS_PER_TAU / (rate_hz * tau))))  # fine steps per sample
    dt = 1.0 / (rate_hz * m)
    lead = int(np.ceil(2 * tau / dt))  # the input before the buffer starts (stage at rest there)
    t = t_start + dt * (np.arange(n * m + lead) - lead)
    delay = (trajectory.at(t) - table.true_time_zero_mm) * FS_PER_MM_DOUBLE_PASS * N_AIR
    level = _laser(table, t) * (1.0 + _drift(table, t))
    on = np.nonzero(_laser(table, t) > 0)[0]
    t_ref = float(t[on[0]]) if on.size else float(t[0])
    ref = float(_laser(table, np.array([t_ref]))[0] * (1.0 + _drift(table, np.array([t_ref]))[0]))
    with table.lock:
        shape = table.waveform(delay, now=t_ref) / ref if ref != 0 else np.zeros_like(delay)
        slope = (table.waveform(delay + 0.5, now=t_ref) - table.waveform(delay - 0.5, now=t_ref)) / ref \
            if nz.jitter_fs > 0 and ref != 0 else np.zeros_like(delay)
        u = shape * level
        value = filter_stream(u, dt, tau, lk.slope_db)
        scale = np.sqrt(analysis.noise_bandwidth(tau, lk.slope_db) / REFERENCE_ENBW_HZ)
        sigma = scale * np.sqrt(nz.additive_V**2 + (nz.amplitude * value) ** 2 + (nz.jitter_fs * slope * level) ** 2)
        noise_x = _filtered_noise(table.rng, t.size, dt, tau, lk.slope_db)
        noise_y = _filtered_noise(table.rng, t.size, dt, tau, lk.slope_db)
    pick = lead + m * np.arange(n)
    phase = np.radians(lk.phase_deg)
    x = value[pick] * np.cos(phase) + sigma[pick] * noise_x[pick]
    y = -value[pick] * np.sin(phase) + scale * nz.additive_V * noise_y[pick]
    limit = lk.sensitivity_V
    overload = bool(np.any(np.abs(x) > limit) or np.any(np.abs(y) > limit))
    return t[pick], np.clip(x, -limit, limit), np.clip(y, -limit, limit), overload


class SimSweep:
    """Constant-velocity sweeps of a simulated delay stage, with its timestamped encoder readings.

    The carriage is read every ``poll_s`` of simulated time during the move, as
    a real controller's position would be polled; a stuck stage never finishes.
    """

    def __init__(self, stage, poll_s: float = 0.05):
        self.stage, self.table, self.poll_s = stage, stage.table, poll_s
        self.trajectory: Trajectory | None = None
        self.moving = False

    @property
    def name(self) -> str:
        return self.stage.name

    def start_sweep(self, stop_fs: float, velocity_mm_s: float) -> DeviceStatus:
        """Move the carriage to ``stop_fs`` at ``velocity_mm_s``; the status finishes on arrival."""
        from ._devices import check_fault
        stage, table = self.stage, self.table
        check_fault(stage)
        stop_mm = stage.to_mm(stop_fs)
        lo, hi = stage.limits
        if not lo <= stop_fs <= hi:
            raise ValueError(f"{stage.name}: sweep end {stop_fs:g} fs outside soft limits [{lo:g}, {hi:g}] fs")
        now = table.clock.now()
        x0 = table.carriage_mm
        duration = abs(stop_mm - x0) / velocity_mm_s
        self.trajectory = Trajectory(now, now + duration, x0, stop_mm)
        self.moving = True
        status = DeviceStatus(stage)
        fault = table.fault(stage.name)
        if fault is not None and fault.kind == "stuck":
            self.trajectory = Trajectory(now, now + duration, x0, x0)
            limit = max(2 * duration, fault.timeout_s)
            table.clock.call_later(limit, lambda: status.set_exception(
                TimeoutError(f"{stage.name}: sweep did not complete within {limit:g} s (motor stuck)")))
            return status

        def arrive():
            with table.lock:  # the motor ends where the carriage is, taken up on this side
                half = table.backlash_mm / 2
                table.motor_mm = stop_mm + (half if stop_mm > x0 else -half)
                table.carriage_mm = stop_mm
            self.moving = False
            status.set_finished()

        table.clock.call_later(duration, arrive)
        return status

    def encoder_trace(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Encoder readings (simulated s, mm) every ``poll_s`` from ``t0`` to ``t1``."""
        t = np.append(np.arange(t0, t1, self.poll_s), t1)
        if self.trajectory is None:
            return t, np.full(t.shape, self.table.carriage_mm)
        return t, self.trajectory.at(t)

    def now(self) -> float:
        return self.table.clock.now()

    def power_trace(self, power_meter, t0: float, t1: float) -> np.ndarray:
        """The pump power the meter read at the encoder's poll times, each reading with its own noise."""
        t = np.append(np.arange(t0, t1, self.poll_s), t1)
        table = self.table
        noise = table.noise.amplitude * table.power_rng.standard_normal(t.size)  # as SimTable.pump_power_W
        return table.pump.power_W * _laser(table, t) * (1.0 + _drift(table, t) + noise)

    def stop(self) -> None:
        """Halt a sweep: the carriage stays where the trajectory has brought it by now."""
        if self.trajectory is not None and self.moving:
            self.moving = False
            with self.table.lock:
                self.table.carriage_mm = float(self.trajectory.at(np.array([self.table.clock.now()]))[0])
                self.table.motor_mm = self.table.carriage_mm


class SimLockinBuffer:
    """The simulated lock-in's internal buffer: start at a rate, stop, read X and Y with sample times."""

    rates_hz = tuple(2.0**k / 16 for k in range(14))  # SR830 SRAT 0–13: 62.5 mHz … 512 Hz

    def __init__(self, lockin, sweep: SimSweep, capacity: int = SR830_BUFFER_POINTS):
        self.lockin, self.sweep, self.table, self.capacity = lockin, sweep, lockin.table, int(capacity)
        self._start: float | None = None
        self._stop: float | None = None
        self.rate_hz = 0.0

    @property
    def name(self) -> str:
        return self.lockin.name

    def now(self) -> float:
        return self.table.clock.now()

    def start_buffer(self, rate_hz: float) -> float:
        """Clear and start the buffer; returns the first sample's time on the table's clock."""
        from ._devices import check_fault
        check_fault(self.lockin)
        self.rate_hz, self._start, self._stop = float(rate_hz), self.table.clock.now(), None
        return self._start

    def stop_buffer(self) -> None:
        self._stop = self.table.clock.now()

    def read_buffer(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, bool]:
        """(t, x, y, overload, overflowed) of the samples taken between start and stop."""
        from ._devices import check_fault
        check_fault(self.lockin)
        if self._start is None:
            raise RuntimeError(f"{self.name}: buffer read before it was started")
        stop = self.table.clock.now() if self._stop is None else self._stop
        n = int(np.floor((stop - self._start) * self.rate_hz + 1e-9)) + 1
        fault = self.table.fault(self.lockin.name)
        overflowed = n > self.capacity or (fault is not None and fault.kind == "overflow")
        n = min(n, self.capacity)
        traj = self.sweep.trajectory or Trajectory(self._start, self._start, self.table.carriage_mm,
                                                   self.table.carriage_mm)
        t, x, y, overload = lockin_stream(self.table, traj, self._start, self.rate_hz, n)
        return t, x, y, overload, overflowed
