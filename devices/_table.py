"""The table contract: which roles a table has, what each role's device must offer, and how a plan gets them.

Every layer above the devices meets the table here. A profile file, the simulator
and a replay each build a :class:`Table`; the roles are checked against their
interfaces when it is built, so a device that cannot play its role is refused
before a plan runs. :func:`plan_devices` is the one way a plan gets its devices:
``femtospin run``, the queue server, replay and the demo all call it.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ._interfaces import (
    Attenuator,
    DelayStage,
    LockIn,
    Magnet,
    PowerMeter,
    RotationMount,
    Shutter,
    TemperatureController,
    TranslationStage,
)
from ._metadata import setup_of

# role → the interface its device satisfies; the order is the order a profile file lists them in
ROLE_INTERFACES = {
    "stage": DelayStage,
    "lockin": LockIn,
    "magnet": Magnet,
    "sample_rotation": RotationMount,
    "pump_qwp": RotationMount,
    "probe_qwp": RotationMount,
    "heater": TemperatureController,
    "spot": TranslationStage,
    "power_meter": PowerMeter,
    "attenuator": Attenuator,
    "shutter": Shutter,  # TR-MOKE: the static Kerr signal with the pump blocked
    "analyser": RotationMount,  # TR-MOKE: the analyser half-wave plate (volts-per-mrad calibration)
}
ROLES = tuple(ROLE_INTERFACES)
REQUIRED_ROLES = ("stage", "lockin")  # every other role a table may lack
OPTIONAL_ROLES = ("shutter", "analyser")  # a profile file may leave these out (tables from before TR-MOKE)


@runtime_checkable
class Clock(Protocol):
    """A table's clock, in seconds: a simulated one, accelerated, is advanced by the RunEngine's waits
    instead of passing."""

    accelerated: bool

    def now(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


class WallClock:
    """A real table's clock: monotonic wall time; nothing is skipped."""

    accelerated = False

    def now(self) -> float:
        return time.monotonic()

    def advance(self, seconds: float) -> None:
        pass


WALL_CLOCK = WallClock()


@dataclass
class Table:
    """The devices of one optical table by role, and what its start documents say about it.

    Each device given must satisfy its role's interface (:data:`ROLE_INTERFACES`);
    ``metadata`` holds the blocks of :mod:`femtospin.devices._metadata` (sample,
    detection, pump, laser) and any text the lab adds.
    """

    stage: DelayStage | None
    lockin: LockIn | None
    magnet: Magnet | None = None
    sample_rotation: RotationMount | None = None
    pump_qwp: RotationMount | None = None
    probe_qwp: RotationMount | None = None
    heater: TemperatureController | None = None
    spot: TranslationStage | None = None
    power_meter: PowerMeter | None = None
    attenuator: Attenuator | None = None
    shutter: Shutter | None = None
    analyser: RotationMount | None = None
    metadata: dict = field(default_factory=dict)
    clock: Clock | None = None  # simulated tables only: lets the RunEngine skip waits
    sim: object = None  # the simulator behind a simulated table (its ground truth), else None

    ROLES = ROLES
    OPTIONAL_ROLES = OPTIONAL_ROLES

    def __post_init__(self):
        for role, interface in ROLE_INTERFACES.items():
            device = getattr(self, role)
            if device is not None and not isinstance(device, interface):
                missing = [name for name in _members(interface) if not hasattr(device, name)]
                raise TypeError(f"role {role}: {getattr(device, 'name', device)!r} is not a {interface.__name__} "
                                f"(it lacks {', '.join(missing) or 'a member'})")

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
        """The blocks this table's start documents record (sample, detection, pump, laser, spots): what a
        plan needs to know about the analysis its data will get (see :func:`femtospin.plans.check_baseline`;
        an adaptive plan fits as the live analysis does)."""
        return setup_of(self.metadata)

    def devices(self) -> dict[str, object]:
        """Every device on this table by role."""
        return {role: dev for role in ROLES if (dev := getattr(self, role)) is not None}


def plan_devices(table: Table, plan) -> dict[str, object]:
    """The table's device for every role ``plan`` takes (``None`` where the table lacks the role), and the
    table's setup and clock if the plan takes them: the one way a plan gets its devices."""
    params = inspect.signature(plan).parameters
    kwargs = {name: getattr(table, name) for name in params if name in ROLE_INTERFACES}
    if "setup" in params:
        kwargs["setup"] = table.setup
    if "clock" in params:  # a plan that keeps to a table-time budget
        kwargs["clock"] = table.clock if table.clock is not None else WALL_CLOCK
    return kwargs


def _members(interface) -> list[str]:
    names = set(getattr(interface, "__annotations__", {}))
    names |= {k for k, v in vars(interface).items() if callable(v) and not k.startswith("_")}
    return sorted(names)
