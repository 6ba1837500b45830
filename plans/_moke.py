"""TR-MOKE plans: the static Kerr signal (pump blocked, ±M saturated, analyser calibration) and ``moke_scan``.

The static Kerr signal normalizes the pump-induced rotation and ellipticity, and a
2 % error in it moves the spin accumulation by ≈ 10 % (physics.md §4e), so it is
measured in the run itself, at its start and its end, and every reading is stored
(stream ``static_kerr``): the analysis derives value and error from them
(:func:`femtospin.analysis.static_kerr_from_readings`).

One static measurement, per Kerr quantity (probe quarter-wave plate at 0° or 45°):
close the pump shutter; saturate +M and return to zero field; read the balanced
detector's DC difference (lock-in AUX input) with the analyser half-wave plate at
−δ, +δ and its working angle (the probe turns by ±2δ: the volts-per-mrad
calibration); saturate −M, read at the working angle; open the shutter.
"""

from __future__ import annotations

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
from ophyd import Kind, Signal

from ._conditions import KERR_QWP_DEG
from ._steps import Measurement, set_magnetization
from ._validate import PlanArgumentError, check_choices, check_positive, require

STREAM = "static_kerr"
READ_INTERVAL_S = 0.05  # between DC readings: the AUX input is not filtered by the lock-in's time constant
MAX_CALIBRATION_DEG = 2.0  # beyond a few mrad the balanced detector leaves its linear range
MAX_READS = 1000


def check_detection(setup: dict | None, wanted: str, plan_name: str) -> None:
    """Refuse a plan on a table whose detection is not the one it needs, before anything moves."""
    mode = ((setup or {}).get("detection") or {}).get("mode", "eos") if setup else None
    if mode is None or mode == wanted:
        return
    if wanted == "moke":
        raise PlanArgumentError(f"{plan_name}: this table detects THz emission (detection mode {mode!r}); TR-MOKE "
                                "needs a MOKE table (profile sim-moke, or a profile file with detection: {mode: moke})")
    raise PlanArgumentError(f"{plan_name}: this table detects TR-MOKE (detection mode {mode!r}); THz emission needs an "
                            "EOS table (profile sim, or a profile file with detection: {mode: eos}); use moke_scan")


def check_static_devices(lockin, magnet, probe_qwp, shutter, analyser) -> None:
    """Every device the static Kerr measurement drives, named when missing."""
    why = "measuring the static Kerr signal (or give static_kerr_V, typed in)"
    require("magnet", magnet, why)
    require("probe_qwp", probe_qwp, why)
    require("shutter", shutter, why)
    require("analyser", analyser, why)
    if getattr(lockin, "aux_in", None) is None:
        raise PlanArgumentError("lockin: has no AUX input to read the balanced detector's DC level; "
                                "give static_kerr_V (typed in)")


def check_static_args(reads: int, calibration_deg: float, saturation_mT: float, magnet) -> None:
    if not (isinstance(reads, (int, np.integer)) and 2 <= reads <= MAX_READS):
        raise PlanArgumentError(f"static_reads: {reads!r}; must be a whole number in [2, {MAX_READS}] (an error "
                                "needs two readings)")
    check_positive("calibration_deg", calibration_deg, MAX_CALIBRATION_DEG, "deg")
    check_positive("saturation_mT", saturation_mT, magnet.max_field_mT.get(), "mT")


def static_estimate_s(kerr, reads: int, saturation_mT: float, magnet) -> float:
    """Expected duration of one static measurement: field sweeps, wave-plate moves and readings."""
    ramp = float(getattr(magnet, "ramp_mT_s", None).get()) if hasattr(magnet, "ramp_mT_s") else 100.0
    settle = float(magnet.settle_s.get()) if hasattr(magnet, "settle_s") else 0.5
    per_kerr = 4 * saturation_mT / ramp + 4 * settle + 4 * reads * (READ_INTERVAL_S + 0.02) + 3.0
    return len(list(kerr)) * per_kerr + 1.0


def static_labels() -> dict[str, Signal]:
    """The label fields of the ``static_kerr`` stream; one set per run (a stream's objects never change)."""
    return {"static_kerr": Signal(name="static_kerr", value="", kind=Kind.hinted),
            "static_magnetization": Signal(name="static_magnetization", value=0, kind=Kind.hinted),
            "analyser_offset_deg": Signal(name="analyser_offset_deg", value=0.0, kind=Kind.hinted),
            "static_phase": Signal(name="static_phase", value="", kind=Kind.hinted)}


def static_step(lockin, magnet, probe_qwp, shutter, analyser, *, kerr, saturation_mT: float, reads: int,
                calibration_deg: float, phase: str, labels: dict[str, Signal], power_meter=None):
    """One static Kerr measurement inside an open run; every DC reading is an event of stream ``static_kerr``."""
    detectors = [lockin.aux_in, *labels.values(), *([power_meter.power] if power_meter is not None else [])]
    yield from bps.mv(labels["static_phase"], phase)
    yield from bps.mv(shutter, 0)
    working = yield from bps.rd(analyser.angle)
    for q in kerr:
        yield from bps.mv(probe_qwp, KERR_QWP_DEG[q])
        yield from bps.mv(labels["static_kerr"], q)
        for sign in (1, -1):
            yield from set_magnetization(magnet, sign, saturation_mT, 0.0)
            offsets = (-calibration_deg, calibration_deg, 0.0) if sign > 0 else (0.0,)
            for off in offsets:
                yield from bps.mv(analyser, (working + off) % 360.0)
                yield from bps.mv(labels["analyser_offset_deg"], off, labels["static_magnetization"], sign)
                for _ in range(reads):
                    yield from bps.sleep(READ_INTERVAL_S)
                    yield from bps.trigger_and_read(detectors, name=STREAM)
    yield from bps.mv(analyser, working)
    yield from bps.mv(magnet, 0.0)
    yield from bps.mv(shutter, 1)


def static_kerr(lockin, magnet, probe_qwp, shutter, analyser, *, kerr=("rotation", "ellipticity"),
                saturation_mT: float = 50.0, static_reads: int = 8, calibration_deg: float = 0.05,
                power_meter=None, setup: dict | None = None, md: dict | None = None) -> Measurement:
    """The static Kerr rotation and ellipticity with the pump blocked: ±M saturated, calibrated in mrad.

    ``calibration_deg`` is the analyser half-wave-plate turn (±δ, the probe turns
    by ±2δ) that calibrates the DC level in volts per mrad; ``static_reads`` DC
    readings are taken at every setting. The field and the shutter are left at
    zero and open.
    """
    check_detection(setup, "moke", "static_kerr")
    check_static_devices(lockin, magnet, probe_qwp, shutter, analyser)
    kerr = check_choices("kerr", kerr, tuple(KERR_QWP_DEG))
    check_static_args(static_reads, calibration_deg, saturation_mT, magnet)
    chop = ((setup or {}).get("detection") or {}).get("chop_factor")
    _md = {"plan_name": "static_kerr", "conditions": [], "num_points": len(kerr) * 4 * static_reads,
           "plan_args": {"kerr": list(kerr), "saturation_mT": saturation_mT, "static_reads": static_reads,
                         "calibration_deg": calibration_deg},
           "static_kerr": {"measured": True, "phases": ["start"], "chop_factor": chop}, **(md or {})}
    estimated = static_estimate_s(kerr, static_reads, saturation_mT, magnet)

    @bpp.run_decorator(md=_md)
    @bpp.finalize_decorator(lambda: bps.mv(magnet, 0.0))
    def run():
        yield from static_step(lockin, magnet, probe_qwp, shutter, analyser, kerr=kerr, saturation_mT=saturation_mT,
                               reads=static_reads, calibration_deg=calibration_deg, phase="start",
                               labels=static_labels(), power_meter=power_meter)

    return Measurement(run(), _md, estimated)


def typed_static_md(static_kerr_V: dict) -> dict:
    """A typed-in static signal checked and marked as such: ``{"rotation": V, "ellipticity": V, "stderr": {...}}``."""
    if not isinstance(static_kerr_V, dict) or not static_kerr_V:
        raise PlanArgumentError("static_kerr_V: give {'rotation': V, 'ellipticity': V} (optional 'stderr': {...})")
    out = {"source": "typed in"}
    for key, value in static_kerr_V.items():
        if key == "stderr":
            if not isinstance(value, dict):
                raise PlanArgumentError("static_kerr_V: stderr must map rotation/ellipticity to V")
            for q, e in value.items():
                if q not in KERR_QWP_DEG or not (np.isfinite(e) and e >= 0):
                    raise PlanArgumentError(f"static_kerr_V: stderr {q} = {e}; must be finite and ≥ 0 V")
            out["stderr"] = {q: float(e) for q, e in value.items()}
        elif key == "source":
            continue
        elif key in KERR_QWP_DEG:
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value != 0):
                raise PlanArgumentError(f"static_kerr_V: {key} = {value} V; must be finite and non-zero")
            out[key] = float(value)
        else:
            raise PlanArgumentError(f"static_kerr_V: {key!r} is not rotation, ellipticity or stderr")
    return out
