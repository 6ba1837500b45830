"""Measure waveforms on the simulated table directly (no RunEngine): fast, seeded, with its noise model."""

from __future__ import annotations

import numpy as np

from femtospin.analysis import settle_time
from femtospin.devices import FS_PER_MM_DOUBLE_PASS, N_AIR
from femtospin.sim_devices import (
    Detection,
    Noise,
    SimClock,
    SimTable,
    get_sample,
)


def make_table(sample="CoFeB(5)|Pt(3)", seed=0, noise=None, **kwargs) -> SimTable:
    s = get_sample(sample) if isinstance(sample, str) else sample
    return SimTable(s, noise=noise if noise is not None else Noise(seed=seed), clock=SimClock(accelerated=True),
                    **kwargs)


def saturate(table: SimTable, sign: int, field_mT: float = 50.0) -> None:
    """Saturate along ±field, then return to zero field (no Nernst part)."""
    table.set_field(sign * field_mT)
    table.set_field(0.0)


def read(table: SimTable, delay_fs: float) -> float:
    """Move to ``delay_fs`` (from below), wait for the lock-in to settle, read X."""
    table.move_stage(table.true_time_zero_mm + delay_fs / (FS_PER_MM_DOUBLE_PASS * N_AIR))
    table.clock.advance(settle_time(table.lockin.time_constant_s, table.lockin.slope_db))
    return table.lockin_output()[0]


def scan(table: SimTable, delays: np.ndarray, conditions: dict[str, list] | None = None) -> dict[str, np.ndarray]:
    """Long-format rows: at each delay every combination of ``conditions`` (interleaved, as a plan does).

    ``conditions`` maps ``magnetization`` (±1), ``angle_deg`` (0/180), ``helicity`` (±1/0) to values.
    """
    conditions = conditions or {}
    names = list(conditions)
    combos = np.array(np.meshgrid(*[conditions[k] for k in names], indexing="ij")).reshape(len(names), -1).T \
        if names else np.zeros((1, 0))
    rows = {"delay_fs": [], "signal": [], "power": [], **{k: [] for k in names}}
    table.move_stage(table.true_time_zero_mm + (delays[0] - 500.0) / (FS_PER_MM_DOUBLE_PASS * N_AIR))
    for d in delays:
        for combo in combos:
            for k, v in zip(names, combo):
                apply(table, k, v)
            rows["power"].append(table.pump_power_W())  # read before the lock-in, as a plan does
            rows["signal"].append(read(table, d))
            rows["delay_fs"].append(round(table.delay_fs(), 6))  # encoder readback, as a plan records it
            for k, v in zip(names, combo):
                rows[k].append(v)
    return {k: np.asarray(v, float) for k, v in rows.items()}


def apply(table: SimTable, name: str, value: float) -> None:
    if name == "magnetization":
        if np.sign(table.magnetization) != np.sign(value):
            saturate(table, int(np.sign(value)))
    elif name == "angle_deg":
        if table.angle_deg != value:
            table.set_knob("angle_deg", value)
    elif name == "helicity":
        qwp = {1: 45.0, -1: 135.0, 0: 0.0}[int(value)]
        if table.pump_qwp_deg != qwp:
            table.set_knob("pump_qwp_deg", qwp)
    else:
        raise KeyError(name)


__all__ = ["Detection", "make_table", "read", "saturate", "scan"]


def synthetic_sweeps(delays, *, sweeps=3, seed=0, peak_V=1e-3, additive_V=1e-5, second=0.0, gains=None,
                     gain_rms=0.0) -> dict[str, np.ndarray]:
    """±M sweeps of a CoFeB|Pt spin current through GaP 250 µm on any delays, without the simulated table.

    The simulator's amplitude (0.5 %) and jitter (0.3 fs) noise plus ``additive_V``; ``second`` adds a copy
    delayed by 250 fs (a feature the spin-voltage model lacks); each sweep and sign is scaled by
    ``gains[sweep]`` or by 1 + ``gain_rms``·N(0, 1) (drift).
    """
    from femtospin.analysis import detector_operator, sampling, spin_voltage

    d = np.asarray(delays, float)
    samp = sampling(d)
    op = detector_operator("gap250", samp.n, samp.dt_fs)
    t_src = samp.grid[0] + samp.dt_fs * np.arange(samp.n + op.n_ext)
    src = spin_voltage(t_src, 104.0, 350.0, 0.1, fwhm=40.0)
    src = src + second * spin_voltage(t_src - 250.0, 104.0, 350.0, 0.1, fwhm=40.0)
    s_grid = op.convolve(src)
    s_grid *= peak_V / np.abs(s_grid).max()
    mu = samp.sample(s_grid)
    slope = samp.sample(np.gradient(s_grid, samp.dt_fs))
    sigma = np.sqrt(additive_V**2 + (0.005 * mu) ** 2 + (0.3 * slope) ** 2)
    rng = np.random.default_rng(seed)
    rows = {k: [] for k in ("delay_fs", "signal", "magnetization", "repeat")}
    for r in range(sweeps):
        for m in (1, -1):
            gain = gains[r] if gains is not None else 1.0 + (gain_rms * rng.standard_normal() if gain_rms else 0.0)
            rows["delay_fs"].append(d)
            rows["signal"].append(m * gain * mu + sigma * rng.standard_normal(d.size))
            rows["magnetization"].append(np.full(d.size, m))
            rows["repeat"].append(np.full(d.size, r))
    return {k: np.concatenate(v) for k, v in rows.items()}
