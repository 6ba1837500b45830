"""The materials table: which physics a sample stack carries and the literature values a fit holds fixed.

Pure data, read by the fits (``analyze(sample=…)``, ``femtospin analyze --sample``)
and by the simulator's sample library, so the two can never disagree.

A stack is written layer by layer from the substrate side, ``Name(thickness)``
joined by ``|``: ``CoFeB(5)|Pt(3)``, ``CoFeB(5)``, ``YIG(3um)|Pt(5.5)``,
``Bi(20)|Co(5)``. Thickness is in nm unless it carries a unit. The rules
(physics.md §3–4 in the user docs, ``docs/physics.md``):

* a metallic ferromagnet F alone radiates its demagnetization, E ∝ dM/dt: the
  spin-voltage shape, read from S+ of the 0°/180° pair (S− is a spurious
  structural dipole);
* F|N with a normal metal (or Bi) carries a spin current j_s, read from S−;
  Γ_ep of the stack is that of F times the factor of N (CoFeB|Pt ≈ 1.2);
* an insulating ferrimagnet (YIG) under a metal: the spin Seebeck current
  follows the metal's electron temperature; its τ_e-ph is what is measured,
  so nothing is held fixed.

Literature values held fixed: τ_ep and R of the spin-voltage model ("Fit
practice: Γ_es, amplitude and time zero free; Γ_ep and R fixed"). ``tau_es_fs``
is never fixed; its value here is what the simulator generates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

R_METAL = 0.1  # electronic / total heat capacity of a 3d metal near 300 K


@dataclass(frozen=True)
class Material:
    """One layer material.

    Attributes
    ----------
    name : str
    kind : {"ferromagnet", "insulating-ferromagnet", "normal-metal", "spacer"}
    tau_es_fs, tau_ep_fs, R : float or None
        Ferromagnets: electron–spin and electron–phonon times alone, heat-capacity ratio.
    spin_hall_sign : int
        Normal metals: sign of θ_SH (reverses the emitted field).
    gamma_ep_factor : float
        Normal metals: Γ_ep of F|N over Γ_ep of F alone.
    spin_length_nm : float or None
        Spacers: the length over which a spin current crossing them decays, exp(−d/ℓ).
    tau_s_fs : (float, float) or None
        Normal metals where the spin current diffuses (§4c): spin relaxation felt by
        the current the ferromagnet's demagnetization injects, and by the photo-spin
        current (about two orders of magnitude apart).
    """

    name: str
    kind: str
    tau_es_fs: float | None = None
    tau_ep_fs: float | None = None
    R: float | None = None
    spin_hall_sign: int = 0
    gamma_ep_factor: float = 1.0
    tau_s_fs: tuple[float, float] | None = None
    spin_length_nm: float | None = None


MATERIALS: dict[str, Material] = {m.name: m for m in (
    Material("CoFeB", "ferromagnet", 104.0, 420.0, R_METAL),
    Material("CoFe", "ferromagnet", 90.0, 420.0, R_METAL),
    Material("NiFe", "ferromagnet", 156.0, 500.0, R_METAL),  # decays ≈ 50 % more slowly than CoFeB
    Material("Co", "ferromagnet", 104.0, 400.0, R_METAL),
    Material("YIG", "insulating-ferromagnet"),
    # Cu(1.9 nm) between YIG and Pt makes the spin Seebeck signal ≈ 6× smaller: ℓ = 1.9 nm / ln 6
    Material("Cu", "spacer", spin_length_nm=1.9 / math.log(6.0)),
    Material("Pt", "normal-metal", spin_hall_sign=+1, gamma_ep_factor=1.2),
    Material("W", "normal-metal", spin_hall_sign=-1, gamma_ep_factor=1.2),
    # τ_s chosen two hundredfold apart: the photo-spin waveform's bandwidth is then about half (§4c)
    Material("Bi", "normal-metal", spin_hall_sign=+1, gamma_ep_factor=1.0, tau_s_fs=(10.0, 2000.0)),
)}

# spin Seebeck stacks: the electron-temperature shape the simulator generates (τ_e-ph 310 ± 70 fs published)
SSE_SHAPE = {"tau_th_fs": 45.0, "tau_ep_fs": 310.0, "offset": 0.25}

_LAYER = re.compile(r"^\s*(?P<name>[A-Za-z]+)\s*\(\s*(?P<thick>[0-9.]+)\s*(?P<unit>nm|um|µm)?\s*\)\s*$")


@dataclass(frozen=True)
class StackPhysics:
    """What the materials table says about one stack.

    Attributes
    ----------
    stack : str
        The stack as written.
    layers : tuple of (str, float)
        Material and thickness in nm, substrate side first.
    model : str
        Fit model: ``spin-voltage`` or ``sse``.
    component : str
        The symmetry component that carries the physics.
    fixed : dict
        Literature values the fit holds fixed by default.
    truth : dict
        Values the simulator generates for parameters that are fitted.
    sign : int
        Sign of the emitted field relative to CoFeB|Pt (θ_SH, layer order).
    transmission : float
        Fraction of the spin current that crosses the spacers between the magnet and N (1 without).
    photo : dict
        A layer where spin diffuses (Bi): the ``photo-spin`` model of the helicity-odd
        part, its fixed values and its truth, ``{"fixed": …, "truth": …}``; else empty.
    """

    stack: str
    layers: tuple[tuple[str, float], ...]
    model: str
    component: str
    fixed: dict = field(default_factory=dict)
    truth: dict = field(default_factory=dict)
    sign: int = 1
    transmission: float = 1.0
    photo: dict = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"materials table, sample {self.stack}"


def parse_stack(stack: str) -> tuple[tuple[str, float], ...]:
    """Layers of ``Name(thickness)|…`` as (material, nm), with a clear error for anything else."""
    layers = []
    for part in stack.split("|"):
        m = _LAYER.match(part)
        if m is None:
            raise ValueError(f"sample {stack!r}: layer {part.strip()!r} is not Name(thickness), "
                             f"e.g. CoFeB(5)|Pt(3)")
        if m["name"] not in MATERIALS:
            raise ValueError(f"sample {stack!r}: unknown material {m['name']!r}; known: {', '.join(MATERIALS)}")
        thick = float(m["thick"]) * (1e3 if m["unit"] in ("um", "µm") else 1.0)
        if not thick > 0:
            raise ValueError(f"sample {stack!r}: layer {part.strip()!r} has no thickness")
        layers.append((m["name"], thick))
    return tuple(layers)


def stack_physics(stack: str) -> StackPhysics:
    """Model, component and fixed literature values of a sample stack.

    Parameters
    ----------
    stack : str
        E.g. ``CoFeB(5)|Pt(3)``, ``CoFeB(5)``, ``NiFe(9)|Pt(3)``, ``YIG(3um)|Pt(5.5)``, ``Pt(5.5)|YIG(3um)``,
        ``YIG(3um)|Cu(1.9)|Pt(5.5)``, ``Bi(20)|Co(5)``.

    Returns
    -------
    StackPhysics

    Raises
    ------
    ValueError
        For a stack the table cannot describe, naming the layer.
    """
    layers = parse_stack(stack)
    mats = [MATERIALS[name] for name, _ in layers]
    ferro = [m for m in mats if m.kind == "ferromagnet"]
    insulating = [m for m in mats if m.kind == "insulating-ferromagnet"]
    normal = [m for m in mats if m.kind == "normal-metal"]
    spacers = [(m, d) for m, (_, d) in zip(mats, layers) if m.kind == "spacer"]
    if len(ferro) + len(insulating) != 1 or len(normal) > 1:
        raise ValueError(f"sample {stack!r}: the table describes one ferromagnet, alone or with one normal "
                         f"metal; this stack has {len(ferro) + len(insulating)} magnetic and {len(normal)} "
                         f"normal layers")
    magnet = (ferro or insulating)[0]
    if spacers and not (normal and all(
            min(mats.index(magnet), mats.index(normal[0])) < mats.index(m) < max(mats.index(magnet),
                                                                                 mats.index(normal[0]))
            for m, _ in spacers)):
        raise ValueError(f"sample {stack!r}: a spacer ({spacers[0][0].name}) sits between the magnet and the "
                         "normal metal, e.g. YIG(3um)|Cu(1.9)|Pt(5.5)")
    transmission = math.prod(math.exp(-d / m.spin_length_nm) for m, d in spacers)
    if insulating:
        if not normal:
            raise ValueError(f"sample {stack!r}: an insulating ferrimagnet alone emits no spin current")
        order = 1 if mats.index(insulating[0]) < mats.index(normal[0]) else -1
        return StackPhysics(stack, layers, "sse", "minus_angle", {}, dict(SSE_SHAPE),
                            normal[0].spin_hall_sign * order, transmission)
    f = ferro[0]
    truth = {"tau_es_fs": f.tau_es_fs}
    if not normal:
        return StackPhysics(stack, layers, "spin-voltage", "plus_angle", {"tau_ep_fs": f.tau_ep_fs, "R": f.R},
                            truth, 1)
    n = normal[0]
    order = 1 if mats.index(f) < mats.index(n) else -1  # N|F reverses the current's direction
    fixed = {"tau_ep_fs": f.tau_ep_fs / n.gamma_ep_factor, "R": f.R}
    if n.tau_s_fs is None:
        return StackPhysics(stack, layers, "spin-voltage", "minus_angle", fixed, truth, n.spin_hall_sign * order,
                            transmission)
    # the current diffuses through N (Bi): the ferromagnet's spin voltage is known, N's relaxation is fitted
    thickness = layers[mats.index(n)][1]
    demag, photo = n.tau_s_fs
    return StackPhysics(stack, layers, "spin-diffusion", "minus_angle",
                        {**fixed, "tau_es_fs": f.tau_es_fs, "thickness_nm": thickness},
                        {"tau_s_fs": demag}, n.spin_hall_sign * order, transmission,
                        photo={"fixed": {"thickness_nm": thickness}, "truth": {"tau_s_fs": photo}})
