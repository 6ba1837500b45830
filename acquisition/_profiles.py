"""Profiles: which device plays which role on one table ("code as configuration").

``sim`` builds the simulated THz-emission (EOS) table on a wall-time clock, ``sim:fast`` on an
accelerated one; ``sim-moke`` and ``sim-moke:fast`` the TR-MOKE table; ``sim-spots`` and
``sim-spots:fast`` the THz table with a substrate that carries the F|N stack and its ferromagnet alone
(``--spots`` reaches both). Real tables are described by profile files.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from femtospin.analysis import crystal
from femtospin.devices import WaveplateAttenuator
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

SETUP_KEYS = ("detection", "pump")  # metadata a plan reads besides its devices
SIM_PROFILES = {"sim": "eos", "sim:fast": "eos", "sim-moke": "moke", "sim-moke:fast": "moke", "sim-spots": "spots",
                "sim-spots:fast": "spots"}
MOKE_SAMPLE = "Co/Pt spin valve"  # what the simulated TR-MOKE table holds unless told otherwise


@dataclass
class Table:
    """The devices of one optical table by role, and what the start document says about it."""

    stage: object
    lockin: object
    magnet: object = None  # a table may lack any role but the stage and the lock-in
    sample_rotation: object = None
    pump_qwp: object = None
    probe_qwp: object = None
    heater: object = None
    spot: object = None
    power_meter: object = None
    attenuator: object = None
    shutter: object = None  # TR-MOKE: pump shutter (static Kerr signal with the pump blocked)
    analyser: object = None  # TR-MOKE: analyser half-wave plate (volts-per-mrad calibration)
    metadata: dict = field(default_factory=dict)
    clock: SimClock | None = None  # simulated tables only: lets the RunEngine skip waits
    sim: SimTable | None = None

    ROLES = ("stage", "lockin", "magnet", "sample_rotation", "pump_qwp", "probe_qwp", "heater", "spot",
             "power_meter", "attenuator", "shutter", "analyser")
    OPTIONAL_ROLES = ("shutter", "analyser")  # a profile file may leave these out (tables from before TR-MOKE)

    def attach(self, run_engine) -> None:
        """Prepare a RunEngine for this table: on an accelerated simulated clock its
        ``sleep`` advances simulated time instead of waiting. Every RunEngine that
        drives the table must be attached, or a fast table would be read unsettled."""
        clock = self.clock
        if clock is not None and clock.accelerated:

            async def skip_sleep(msg):
                clock.advance(float(msg.args[0]))

            run_engine.register_command("sleep", skip_sleep)

    @property
    def setup(self) -> dict:
        """The detection and pump this table's start documents record: what a plan needs to know
        about the analysis its data will get (see :func:`femtospin.plans.check_baseline`)."""
        return {k: self.metadata[k] for k in SETUP_KEYS if k in self.metadata}

    def role_kwargs(self, plan) -> dict[str, object]:
        """This table's device for every role ``plan`` takes (``None`` where the table lacks the role),
        and its :attr:`setup` if the plan takes one."""
        params = inspect.signature(plan).parameters
        kwargs = {name: getattr(self, name) for name in params if name in self.ROLES}
        if "setup" in params:
            kwargs["setup"] = self.setup
        return kwargs

    def devices(self) -> dict[str, object]:
        """Every device on this table by role."""
        return {role: dev for role in self.ROLES if (dev := getattr(self, role)) is not None}


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
    measured = detection.transfer is not None
    if moke:
        detected = {"mode": "moke", "detector": "balanced photodiodes", "chop_factor": CHOP_FACTOR,
                    "aux_input": "balanced detector DC difference", "probe_fwhm_fs": detection.probe_fwhm_fs}
    else:
        detected = {
            "mode": detection.mode,
            "crystal": "measured h(t)" if measured else detection.detector,
            "thickness_um": None if measured else crystal(detection.detector).thickness_um,
            "probe_fwhm_fs": detection.probe_fwhm_fs,
            # a measured h(t) is stored whole, so the run can be re-analyzed from storage alone
            "transfer": ({"time_fs": list(detection.transfer[0]), "h": list(detection.transfer[1])}
                         if measured else "model"),
        }
    name = ("sim-moke" if moke else "sim-spots" if spots else "sim") + (":fast" if fast else "")
    metadata = {
        "profile": name,
        "sample": {"name": s.name, "stack": s.stack, "substrate": s.substrate, "cap": s.cap},
        "detection": detected,
        "pump": {"fwhm_fs": pump.fwhm_fs, "fluence_mJcm2": pump.fluence_mJcm2},
        "laser": {"nominal_W": pump.power_W, "threshold_W": 0.5 * pump.power_W},
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
