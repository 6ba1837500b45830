"""TR-MOKE data from the simulated table without a RunEngine: the same field sequences, quarter-wave-plate
angles, shutter and settling as the plans, a hundred times faster (the seed calibrations use it)."""

from __future__ import annotations

import numpy as np

from femtospin import analysis
from femtospin.sim_devices import CHOP_FACTOR, Detection, Noise, Sample, SimClock, SimTable, get_sample

QWP = {"rotation": 0.0, "ellipticity": 45.0}
CAL_DEG = 0.05  # analyser offset of the calibration (the probe turns by 0.1°)
READS = 8


def moke_table(sample: str | Sample = "Co/Pt spin valve", seed: int = 0, noise: Noise | None = None) -> SimTable:
    s = get_sample(sample) if isinstance(sample, str) else sample
    return SimTable(s, detection=Detection(mode="moke"), noise=noise or Noise(seed=seed),
                    clock=SimClock(accelerated=True))


def prepare(table: SimTable, state: str, saturation_mT: float = 60.0, reverse_mT: float = 20.0) -> None:
    """The plans' field sequence: saturate (+ for P and AP, the sign for ±1), AP reverses the soft layer."""
    if state in (1, -1):
        table.set_field(state * saturation_mT)
    else:
        table.set_field(saturation_mT)
        if state == "AP":
            table.set_field(-reverse_mT)
    table.set_field(0.0)


def _read(table: SimTable, settle_s: float) -> float:
    table.clock.advance(settle_s)
    return table.lockin_output()[0]


def static_rows(table: SimTable, kerr=("rotation", "ellipticity"), phase: str = "start") -> dict:
    """DC readings of the static-Kerr step: pump blocked, calibration at +M (analyser ±δ), then ±M at 0."""
    rows = {k: [] for k in ("kerr", "magnetization", "offset_deg", "dc_V", "phase", "power")}
    table.set_knob("pump_open", 0.0)
    for q in kerr:
        table.set_knob("probe_qwp_deg", QWP[q])
        for sign in (1, -1):
            prepare(table, sign)
            offsets = (-CAL_DEG, 0.0, CAL_DEG) if sign > 0 else (0.0,)
            for off in offsets:
                table.set_knob("analyser_deg", off)
                for _ in range(READS):
                    table.clock.advance(0.1)
                    for k, v in zip(rows, (q, sign, off, table.dc_level(), phase, table.pump_power_W())):
                        rows[k].append(v)
        table.set_knob("analyser_deg", 0.0)
    table.set_knob("pump_open", 1.0)
    return rows


def static_signals(rows: dict, nominal_W: float = 0.5) -> dict:
    return analysis.static_kerr_from_readings(rows["kerr"], rows["magnetization"], rows["offset_deg"], rows["dc_V"],
                                              phase=rows["phase"], reference=rows["power"],
                                              reference_level=nominal_W, chop_factor=CHOP_FACTOR)


def scan_rows(table: SimTable, delays, states=("P", "AP"), kerr=("rotation", "ellipticity"), repeats: int = 2,
              settle_s: float = 1.0, reverse_mT: float = 20.0) -> dict:
    """Whole sweeps per (state, kerr), states outermost, repeats inside (abba), as moke_scan measures."""
    rows = {k: [] for k in ("delay_fs", "signal", "kerr", "state", "magnetization", "repeat", "power")}
    stage = table
    for state in states:
        prepare(table, state, reverse_mT=reverse_mT)
        combos = list(kerr)
        for r in range(repeats):
            for q in combos if r % 2 == 0 else combos[::-1]:
                table.set_knob("probe_qwp_deg", QWP[q])
                for d in delays:
                    stage.move_stage(stage.true_time_zero_mm + d / (analysis_fs_per_mm()))
                    x = _read(table, settle_s)
                    power = table.pump_power_W()
                    for k, v in zip(rows, (table.delay_fs(), x, q, state if isinstance(state, str) else "",
                                           state if not isinstance(state, str) else 1, r, power)):
                        rows[k].append(v)
    return {k: np.asarray(v, dtype=object if k in ("kerr", "state") else float) for k, v in rows.items()}


def analysis_fs_per_mm() -> float:
    from femtospin.devices import FS_PER_MM_DOUBLE_PASS, N_AIR
    return FS_PER_MM_DOUBLE_PASS * N_AIR


def truth_accumulation(table: SimTable, delays) -> dict:
    """Δμ_s of the free and reference layers the simulator generates (physics.md §4e)."""
    s = table.sample
    shape = analysis.spin_voltage(np.asarray(delays, float), s.tau_es_fs, s.tau_ep_fs, s.R, fwhm=table.pump.fwhm_fs)
    return {"free": s.layers[0].accumulation * shape, "ref": s.layers[1].accumulation * shape}


def measure(seed: int, delays, *, sample="Co/Pt spin valve", states=("P", "AP"), repeats: int = 2,
            noise: Noise | None = None):
    """A whole run: static Kerr at start, the sweeps, static Kerr at the end. Returns (table, rows, static rows)."""
    table = moke_table(sample, seed, noise)
    first = static_rows(table, phase="start")
    rows = scan_rows(table, delays, states=states, repeats=repeats)
    last = static_rows(table, phase="end")
    static = {k: list(first[k]) + list(last[k]) for k in first}
    return table, rows, static
