"""A pump attenuator any table can build: a half-wave plate on a rotation mount before a polarizer.

The transmission follows Malus's law, T = cos²(2(θ − θ₀)), with θ₀ the plate
angle of full transmission; the fluence at full transmission is measured once
with the power meter and the spot size, and written in the table's profile.
"""

from __future__ import annotations

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal
from ophyd.utils import LimitError


class _FluenceReadback(Signal):
    """Fluence (mJ/cm²) from the mount's angle readback."""

    def get(self, **kwargs):
        att = self.parent
        theta = np.radians(att.mount.angle.get() - att.zero_deg.get())
        self._readback = att.max_fluence_mJcm2.get() * float(np.cos(2 * theta) ** 2)
        return self._readback

    def describe(self):
        self.get()
        desc = super().describe()
        desc[self.name]["units"] = "mJ/cm^2"
        return desc


class WaveplateAttenuator(Device):
    """Fluence control by composition: a rotation mount plus Malus's law.

    Parameters
    ----------
    mount : RotationMount
        The mount turning the half-wave plate.
    max_fluence_mJcm2 : float
        Fluence at the sample at full transmission.
    zero_deg : float
        Plate angle of full transmission.
    """

    fluence = Cpt(_FluenceReadback, value=0.0, kind=Kind.hinted)
    max_fluence_mJcm2 = Cpt(Signal, value=1.0, kind=Kind.config)
    zero_deg = Cpt(Signal, value=0.0, kind=Kind.config)

    def __init__(self, mount, *, max_fluence_mJcm2: float, zero_deg: float = 0.0, name: str, **kwargs):
        self.mount = mount
        super().__init__(name=name, **kwargs)
        self.max_fluence_mJcm2.put(float(max_fluence_mJcm2))
        self.zero_deg.put(float(zero_deg))

    def angle_for(self, fluence_mJcm2: float) -> float:
        """Plate angle (deg) giving ``fluence_mJcm2``; the branch between θ₀ and θ₀ + 45°."""
        top = self.max_fluence_mJcm2.get()
        if not 0 <= fluence_mJcm2 <= top:
            raise LimitError(f"{self.name}: fluence {fluence_mJcm2} mJ/cm² outside [0, {top:g}] mJ/cm²")
        return self.zero_deg.get() + float(np.degrees(0.5 * np.arccos(np.sqrt(fluence_mJcm2 / top))))

    def set(self, fluence_mJcm2: float):
        return self.mount.set(self.angle_for(float(fluence_mJcm2)))
