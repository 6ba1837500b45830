"""Newport ESP300/ESP301 motion controller axes over pymeasure.

Each axis is one :class:`ESPAxis`; the axes of one controller share its
pymeasure instrument and lock. Errors come from ``TB?``, which returns the
controller's own message (``<code>, <timestamp>, <MESSAGE>``).
"""

from __future__ import annotations

from pymeasure.instruments.newport import ESP300

from ._errors import InstrumentError
from ._visa import LockedInstrument


class ESPController(LockedInstrument):
    """One ESP300/ESP301 and the lock every axis on it takes."""

    model = ESP300

    def check_errors(self) -> None:
        """Read the error buffer with ``TB?`` until it is empty; raise the first message."""
        messages = []
        with self.lock:
            for _ in range(10):  # the buffer holds at most 10 errors
                code, _, message = (part.strip() for part in self.inst.ask("TB?").split(",", 2))
                if int(code) == 0:
                    break
                messages.append(f"{message} (code {code})")
        if messages:
            raise InstrumentError(f"{self.name}: " + "; ".join(messages))


class ESPAxis:
    """One axis: position in the axis' units (mm or deg), ``PA`` moves, ``MD?`` completion."""

    def __init__(self, controller: ESPController, number: int, units: str = "mm"):
        if not 1 <= int(number) <= 3:
            raise ValueError(f"ESP300 axis must be 1–3, got {number}")
        self.controller, self.number, self.units = controller, int(number), units
        self.axis = {1: controller.inst.x, 2: controller.inst.y, 3: controller.inst.phi}[self.number]
        self.name = f"{controller.name} axis {number}"

    def position(self) -> float:
        with self.controller.lock:
            return float(self.axis.position)

    def move_to(self, position: float) -> None:
        with self.controller.lock:
            # not pymeasure's "PA%g": six significant digits are 1 µm (6.7 fs) at 100 mm
            self.axis.write(f"PA{position:.6f}")
            self.controller.check_errors()

    def is_moving(self) -> bool:
        with self.controller.lock:
            return not self.axis.motion_done

    def velocity(self) -> float:
        """``VA?``: the velocity of the next moves (units/s)."""
        with self.controller.lock:
            return float(self.axis.ask("VA?"))

    def set_velocity(self, units_per_s: float) -> None:
        """``VA``: moves after this run at ``units_per_s`` once accelerated (fly scans)."""
        with self.controller.lock:
            self.axis.write(f"VA{units_per_s:.6f}")
            self.controller.check_errors()

    def stop(self) -> None:
        with self.controller.lock:
            self.axis.write("ST")

    def home(self) -> None:
        with self.controller.lock:
            self.axis.home(1)

    def travel(self) -> tuple[float, float]:
        """The controller's software limits ``SL?``/``SR?``."""
        with self.controller.lock:
            return float(self.axis.left_limit), float(self.axis.right_limit)

    def check_errors(self) -> None:
        self.controller.check_errors()
