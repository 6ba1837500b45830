"""Profiles: which device plays which role on one table ("code as configuration").

``sim`` builds the simulated table on a wall-time clock, ``sim:fast`` on an
accelerated one. Real tables will be described by profile files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from femtospin.sim_devices import (
    Detection,
    Noise,
    Pump,
    SimClock,
    SimDelayStage,
    SimLockIn,
    SimMagnet,
    SimPowerMeter,
    SimRotationMount,
    SimTable,
    SimTemperatureController,
    SimTranslationStage,
    get_sample,
)


@dataclass
class Table:
    """The devices of one optical table by role, and what the start document says about it."""

    stage: object
    lockin: object
    magnet: object
    sample_rotation: object
    pump_qwp: object
    probe_qwp: object
    heater: object
    spot: object
    power_meter: object
    metadata: dict = field(default_factory=dict)
    clock: SimClock | None = None  # simulated tables only: lets the RunEngine skip waits
    sim: SimTable | None = None

    ROLES = ("stage", "lockin", "magnet", "sample_rotation", "pump_qwp", "probe_qwp", "heater", "spot",
             "power_meter")

    def devices(self) -> dict[str, object]:
        """Every device by role."""
        return {role: getattr(self, role) for role in self.ROLES}


def sim_profile(sample: str = "CoFeB(5)|Pt(3)", *, fast: bool = False, seed: int | None = 0,
                detection: Detection = Detection(), noise: Noise | None = None, pump: Pump = Pump()) -> Table:
    """The simulated table with ``sample`` in the beam."""
    s = get_sample(sample)
    table = SimTable(s, pump=pump, detection=detection,
                     noise=noise if noise is not None else Noise(seed=seed), clock=SimClock(accelerated=fast))
    detector = "measured h(t)" if detection.transfer is not None else detection.detector
    metadata = {
        "profile": "sim:fast" if fast else "sim",
        "sample": {"name": s.name, "stack": s.stack, "substrate": s.substrate, "cap": s.cap},
        "detection": {"mode": detection.mode, "crystal": detector, "probe_fwhm_fs": detection.probe_fwhm_fs,
                      "transfer": "file" if detection.transfer is not None else "model"},
        "pump": {"fwhm_fs": pump.fwhm_fs, "fluence_mJcm2": pump.fluence_mJcm2},
    }
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
        metadata=metadata, clock=table.clock, sim=table,
    )


def load_profile(spec: str, **options) -> Table:
    """A table from a profile name: ``sim`` or ``sim:fast`` (options go to :func:`sim_profile`)."""
    if spec in ("sim", "sim:fast"):
        return sim_profile(fast=spec == "sim:fast", **options)
    raise ValueError(f"unknown profile {spec!r}; available: sim, sim:fast")
