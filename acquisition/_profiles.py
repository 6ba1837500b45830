"""Profiles: which device plays which role on one table ("code as configuration").

``sim`` builds the simulated THz-emission (EOS) table on a wall-time clock, ``sim:fast`` on an
accelerated one; ``sim-moke`` and ``sim-moke:fast`` the TR-MOKE table; ``sim-spots`` and
``sim-spots:fast`` the THz table with a substrate that carries the F|N stack and its ferromagnet alone
(``--spots`` reaches both). Real tables are described by profile files.
"""

from __future__ import annotations

from femtospin.analysis import crystal
from femtospin.devices import (
    Table,
    WaveplateAttenuator,
    eos_detection,
    laser_block,
    moke_detection,
    pump_block,
    sample_block,
)
from femtospin.sim_devices import (
    CHOP_FACTOR,
    Detection,
    Noise,
    Pump,
    Sample,
    SimClock,
    SimDelayStage,
    SimLockIn,
    SimMagnet,
    SimPowerMeter,
    SimRotationMount,
    SimShutter,
    SimTable,
    SimTemperatureController,
    SimTranslationStage,
    get_sample,
    spot_map,
)

SIM_PROFILES = {"sim": "eos", "sim:fast": "eos", "sim-moke": "moke", "sim-moke:fast": "moke", "sim-spots": "spots",
                "sim-spots:fast": "spots"}
MOKE_SAMPLE = "Co/Pt spin valve"  # what the simulated TR-MOKE table holds unless told otherwise


def sim_profile(sample: str | Sample | None = None, *, fast: bool = False, seed: int | None = 0,
                detection: Detection = Detection(), noise: Noise | None = None, pump: Pump = Pump(),
                spots: bool = False) -> Table:
    """The simulated table with ``sample`` in the beam (default CoFeB(5)|Pt(3), or the spin valve on a MOKE table).

    With ``spots`` the substrate carries the F|N ``sample`` and its ferromagnet alone in two regions of the
    spot stage (:func:`~femtospin.sim_devices.spot_map`); the start document records which is where.
    """
    moke = detection.mode == "moke"
    if sample is None:
        sample = MOKE_SAMPLE if moke else "CoFeB(5)|Pt(3)"
    s = sample if isinstance(sample, Sample) else get_sample(sample)
    if s.model == "spin_valve" and not moke:  # it emits no THz: a run would record noise and fit it
        raise ValueError(f"sample {s.name!r} is a TR-MOKE sample (it emits no THz); use the profile sim-moke or "
                         f"sim-moke:fast")
    regions = list(spot_map(s.name)) if spots else None
    table = SimTable(s, pump=pump, detection=detection, noise=noise if noise is not None else Noise(seed=seed),
                     clock=SimClock(accelerated=fast), regions=regions)
    if moke:
        detected = moke_detection(CHOP_FACTOR, detection.probe_fwhm_fs)
    elif detection.transfer is not None:
        detected = eos_detection(probe_fwhm_fs=detection.probe_fwhm_fs, transfer=detection.transfer,
                                 polarizer_deg=detection.polarizer_deg)
    else:
        detected = eos_detection(detection.detector, detection.probe_fwhm_fs,
                                 thickness_um=crystal(detection.detector).thickness_um,
                                 polarizer_deg=detection.polarizer_deg)
    name = ("sim-moke" if moke else "sim-spots" if spots else "sim") + (":fast" if fast else "")
    metadata = {
        "profile": name,
        "sample": sample_block(s.name, s.stack, s.substrate, s.cap),
        "detection": detected,
        "pump": pump_block(pump.fwhm_fs, pump.fluence_mJcm2),
        "laser": laser_block(pump.power_W),
    }
    if regions:
        metadata["spots"] = [{"from_mm": lo, "to_mm": hi, "sample": r.name} for lo, hi, r in regions]
    return Table(
        stage=SimDelayStage(table, name="stage"),
        lockin=SimLockIn(table, name="lockin"),
        magnet=SimMagnet(table, name="magnet"),
        sample_rotation=SimRotationMount(table, "angle_deg", name="sample_rotation"),
        pump_qwp=SimRotationMount(table, "pump_qwp_deg", name="pump_qwp"),
        probe_qwp=SimRotationMount(table, "probe_qwp_deg", name="probe_qwp"),
        heater=SimTemperatureController(table, name="heater"),
        spot=SimTranslationStage(table, name="spot"),
        power_meter=SimPowerMeter(table, name="power_meter"),
        attenuator=WaveplateAttenuator(SimRotationMount(table, "attenuator_deg", name="attenuator_mount"),
                                       max_fluence_mJcm2=pump.max_fluence_mJcm2, name="attenuator"),
        shutter=SimShutter(table, name="shutter") if moke else None,
        analyser=SimRotationMount(table, "analyser_deg", name="analyser") if moke else None,
        metadata=metadata, clock=table.clock, sim=table,
    )


def load_profile(spec: str, **options) -> Table:
    """A table from a profile: one of :data:`SIM_PROFILES` (options go to
    :func:`sim_profile`), or the path of a profile file (options go to
    :func:`~femtospin.acquisition._profile_file.load_profile_file`)."""
    if spec in SIM_PROFILES:
        kind = SIM_PROFILES[spec]
        detection = Detection(mode="moke") if kind == "moke" else Detection()
        return sim_profile(fast=spec.endswith(":fast"), detection=detection, spots=kind == "spots", **options)
    # real instruments: their drivers are only imported when a file is named
    from ._profile_file import load_profile_file

    return load_profile_file(spec, **options)
