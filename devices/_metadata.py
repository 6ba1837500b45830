"""The blocks of a start document that describe the table, written and read here only.

``sample``
    ``{name, stack, substrate, cap}``; a profile file may give the name alone.
``detection``
    EOS: ``{mode: eos, crystal, thickness_um, probe_fwhm_fs, transfer[, polarizer_deg]}``,
    ``transfer`` ``"model"`` or a measured ``{time_fs, h}``; ``polarizer_deg`` the THz
    polarizer's angle from the M-odd field's polarization, where there is one. TR-MOKE: ``{mode: moke, detector,
    chop_factor, aux_input, probe_fwhm_fs}``.
``pump``
    ``{fwhm_fs, fluence_mJcm2}``. ``laser``: ``{nominal_W, threshold_W}``.
``spots``
    ``[{from_mm, to_mm, sample}]``: a substrate that carries several samples.

The writers build a table's metadata (simulator, profile file, replay); the readers
give the live analysis and replay what a run recorded, with the defaults of runs
that recorded less.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TABLE_BLOCKS = ("sample", "detection", "pump", "laser", "spots")
SETUP_KEYS = TABLE_BLOCKS  # what a plan reads besides its devices
DEFAULT_PROBE_FWHM_FS = 20.0
DEFAULT_CRYSTAL = "gap250"
BALANCED_DETECTOR = {"detector": "balanced photodiodes", "aux_input": "balanced detector DC difference"}


def sample_block(name: str, stack: str | None = None, substrate: str | None = None, cap: str | None = None) -> dict:
    return {"name": name, "stack": stack, "substrate": substrate, "cap": cap}


def eos_detection(crystal: str | None = DEFAULT_CRYSTAL, probe_fwhm_fs: float = DEFAULT_PROBE_FWHM_FS, *,
                  thickness_um: float | None = None, transfer: tuple | None = None,
                  polarizer_deg: float | None = None) -> dict:
    """An EOS table's detection; a measured ``transfer`` ``(time_fs, h)`` is stored whole, so the run can be
    re-analysed from storage alone."""
    block = {"mode": "eos", "crystal": "measured h(t)" if transfer is not None else crystal,
             "probe_fwhm_fs": float(probe_fwhm_fs)}
    if thickness_um is not None or transfer is not None:
        block["thickness_um"] = thickness_um
        block["transfer"] = ({"time_fs": list(transfer[0]), "h": list(transfer[1])} if transfer is not None
                             else "model")
    if polarizer_deg is not None:
        block["polarizer_deg"] = float(polarizer_deg)
    return block


def moke_detection(chop_factor: float, probe_fwhm_fs: float = DEFAULT_PROBE_FWHM_FS) -> dict:
    """A TR-MOKE table's detection: balanced photodiodes, the DC difference on the lock-in's AUX input."""
    return {"mode": "moke", "detector": BALANCED_DETECTOR["detector"], "chop_factor": float(chop_factor),
            "aux_input": BALANCED_DETECTOR["aux_input"], "probe_fwhm_fs": float(probe_fwhm_fs)}


def pump_block(fwhm_fs: float, fluence_mJcm2: float) -> dict:
    return {"fwhm_fs": float(fwhm_fs), "fluence_mJcm2": float(fluence_mJcm2)}


def laser_block(nominal_W: float) -> dict:
    """The laser's nominal power; a drop below half of it suspends a run."""
    return {"nominal_W": float(nominal_W), "threshold_W": 0.5 * float(nominal_W)}


@dataclass(frozen=True)
class Detected:
    """What a run recorded about its detection, with the defaults of runs that recorded less."""

    mode: str = "eos"
    crystal: str = DEFAULT_CRYSTAL
    probe_fwhm_fs: float = DEFAULT_PROBE_FWHM_FS
    transfer: tuple[np.ndarray, np.ndarray] | None = None  # a measured h(t), else the crystal's model
    chop_factor: float | None = None
    polarizer_deg: float | None = None  # a THz polarizer before the crystal (None: none)


def detection_of(doc: dict) -> Detected:
    """The detection a start document (or a table's metadata) records."""
    block = doc.get("detection") or {}
    transfer = block.get("transfer")
    measured = isinstance(transfer, dict)
    return Detected(
        mode=block.get("mode", "eos"),
        crystal=DEFAULT_CRYSTAL if measured else block.get("crystal", DEFAULT_CRYSTAL),
        probe_fwhm_fs=float(block.get("probe_fwhm_fs", DEFAULT_PROBE_FWHM_FS)),
        transfer=(np.asarray(transfer["time_fs"], float), np.asarray(transfer["h"], float)) if measured else None,
        chop_factor=block.get("chop_factor"), polarizer_deg=block.get("polarizer_deg"))


def sample_name(doc: dict) -> str | None:
    sample = doc.get("sample")
    return sample if isinstance(sample, str) else (sample or {}).get("name")


def pump_of(doc: dict) -> dict:
    return doc.get("pump") or {}


def laser_nominal_W(doc: dict) -> float | None:
    return (doc.get("laser") or {}).get("nominal_W")


def spot_sample(doc: dict, spot_mm: float | None) -> str | None:
    """The sample at ``spot_mm`` on a substrate that carries several, else None."""
    for region in doc.get("spots") or ():
        if spot_mm is not None and region["from_mm"] <= spot_mm <= region["to_mm"]:
            return region["sample"]
    return None


def setup_of(metadata: dict) -> dict:
    """The blocks a plan reads besides its devices (:data:`SETUP_KEYS`)."""
    return {k: metadata[k] for k in SETUP_KEYS if k in metadata}


def table_blocks(doc: dict) -> dict:
    """The blocks of :data:`TABLE_BLOCKS` a start document holds: what a replay carries over."""
    return {k: doc[k] for k in TABLE_BLOCKS if k in doc}
