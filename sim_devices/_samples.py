"""Sample library of the simulated table, with the parameters of physics.md §4.

The physics of each stack (τ_es, τ_ep, R, the spin Seebeck shape) comes from
the analysis's materials table, so the simulator and the fits can never
disagree. Amplitudes are lock-in volts at the reference fluence and 300 K.
Where physics.md gives a number it is used; the rest (marked "chosen") are
plausible values picked so that the published ratios hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from femtospin.analysis import D_BI_NM2_PER_FS, SSE_SHAPE, stack_physics

REFERENCE_FLUENCE_MJCM2 = 0.1
ROOM_K = 300.0


@dataclass(frozen=True)
class Layer:
    """One ferromagnetic layer of a spin valve for TR-MOKE (physics.md §4d, §4e)."""

    coercive_mT: float
    switching_width_mT: float | None = None  # spread of switching fields; default 10 % of coercive_mT
    A1: float = 0.04  # heat-diffusion plateau (chosen)
    A2: float = 0.12  # electron–phonon plateau (chosen)
    A3: float = 0.02  # state-filling spike (chosen)
    tau_m_fs: float = 100.0  # demagnetization time of Co (chosen, Dalla Longa-like)
    tau_e_fs: float = 500.0  # electron–phonon time (chosen)
    t0_diff_fs: float = 5000.0  # heat-diffusion time (chosen)
    accumulation: float = 0.01  # spin accumulation driven into this layer (normalized Kerr units, chosen)


@dataclass(frozen=True)
class Sample:
    """A thin-film sample and the parameters its simulated signals follow.

    ``model`` selects the spin-current source: ``"spin_voltage"`` (§4a),
    ``"spin_seebeck"`` (§4b) or ``"spin_valve"`` (TR-MOKE only, §4d–e).
    """

    name: str
    stack: str
    model: str = "spin_voltage"
    substrate: str = "glass 500 µm"
    cap: str = "glass 500 µm"
    tau_es_fs: float = 104.0
    tau_ep_fs: float = 420.0
    R: float = 0.1
    # THz emission parts (V). Under 180° turning the electric-dipole parts
    # (js, asymmetry, helicity, nernst) reverse and the magnetic dipole (demag) does not.
    js_amplitude: float = 0.0  # F|N spin current; sign = sign of θ_SH
    demag_amplitude: float = 0.0  # E_M ∝ dM/dt of F
    asymmetry_amplitude: float = 0.0  # spurious electric dipole of a single F layer
    helicity_amplitude: float = 0.0  # photo-spin current, odd in helicity
    # a layer the spin current diffuses through (Bi, §4c): thickness (nm, 0 for none) and its spin relaxation
    # for the demagnetization-driven and the photo-spin current
    diffusion_nm: float = 0.0
    tau_s_fs: float = 0.0
    tau_s_photo_fs: float = 0.0
    linear_qwp: tuple[float, float] = (0.0, 0.0)  # (L1, L2) pump-polarization terms (V)
    nernst_per_mT: float = 0.0  # ordinary Nernst part per mT of applied field
    background: float = 0.0  # M-independent, turning-even part (substrate rectification)
    tau_seebeck_ep_fs: float = SSE_SHAPE["tau_ep_fs"]  # §4b electron–phonon decay of YIG|Pt
    # magnetism and temperature
    coercive_mT: float = 3.0
    switching_width_mT: float = 0.5
    curie_K: float = 1000.0
    alpha: float = 0.5  # amplitude ∝ (T_C − T0)^α
    beta: float = 0.5  # bulk magnetization ∝ (T_C − T0)^β (mean field); YIG|Pt's spin current has α ≈ 2 instead
    max_temperature_K: float = 600.0
    # TR-MOKE
    kerr_rotation_V: float = 0.05  # static Kerr signals at saturation in lock-in volts (what normalizes)
    kerr_ellipticity_V: float = 0.03
    kerr_rotation_mrad: float = 0.5  # the static Kerr rotation itself (chosen, Co/Pt-like); sets the detector's V/mrad
    reflectance_V: float = 0.0  # M-even transient reflectance leaking through the detector's imbalance (V)
    reflectance_tau_fs: float = SSE_SHAPE["tau_ep_fs"]  # Pt: 310 fs decay of the reflectance (physics.md §4d)
    reflectance_offset: float = 0.2  # lattice-heating plateau relative to the decay (chosen)
    layers: tuple[Layer, ...] = ()

    @property
    def kerr_ellipticity_mrad(self) -> float:
        """Static Kerr ellipticity (mrad): the same detector sees both, so it follows the ratio of the volts."""
        return self.kerr_rotation_mrad * self.kerr_ellipticity_V / self.kerr_rotation_V

    @property
    def magnetic_layers(self) -> tuple[Layer, ...]:
        """The spin valve's layers, or the sample itself as one layer (no accumulation)."""
        return self.layers or (Layer(self.coercive_mT, self.switching_width_mT, tau_m_fs=self.tau_es_fs,
                                     accumulation=0.0),)

    def temperature_factor(self, temperature_K: float) -> float:
        """Amplitude relative to 300 K: ((T_C − T0)/(T_C − 300 K))^α, 0 above T_C."""
        return self._below_curie(temperature_K) ** self.alpha

    def bulk_magnetization(self, temperature_K: float) -> float:
        """Bulk magnetization relative to 300 K: ((T_C − T0)/(T_C − 300 K))^β, what a static Kerr signal follows."""
        return self._below_curie(temperature_K) ** self.beta

    def _below_curie(self, temperature_K: float) -> float:
        return float(np.clip((self.curie_K - temperature_K) / (self.curie_K - ROOM_K), 0, None))


def _physics(name: str) -> dict:
    """τ_es, τ_ep and R of a stack from the materials table (what the fits hold fixed is what is simulated)."""
    p = stack_physics(name)
    if p.model == "sse":
        return {"tau_seebeck_ep_fs": p.truth["tau_ep_fs"]}
    if p.model == "spin-diffusion":
        return {"tau_es_fs": p.fixed["tau_es_fs"], "tau_ep_fs": p.fixed["tau_ep_fs"], "R": p.fixed["R"],
                "diffusion_nm": p.fixed["thickness_nm"], "tau_s_fs": p.truth["tau_s_fs"],
                "tau_s_photo_fs": p.photo["truth"]["tau_s_fs"]}
    return {"tau_es_fs": p.truth["tau_es_fs"], "tau_ep_fs": p.fixed["tau_ep_fs"], "R": p.fixed["R"]}


_CoFeB_Pt = Sample(
    "CoFeB(5)|Pt(3)", "CoFeB(5 nm)|Pt(3 nm)", **_physics("CoFeB(5)|Pt(3)"), reflectance_V=2e-4,
    js_amplitude=2e-3, demag_amplitude=2e-5, nernst_per_mT=2e-6, background=2e-5,
    coercive_mT=2.0, curie_K=1000.0,
)
_CoFeB = Sample(
    "CoFeB(5)", "CoFeB(5 nm)", **_physics("CoFeB(5)"),
    demag_amplitude=2e-5, asymmetry_amplitude=1.5e-5, background=2e-5, coercive_mT=2.0,
)

_YIG_Pt = Sample(
    "YIG(3um)|Pt(5.5)", "YIG(3 µm)|Pt(5.5 nm)", model="spin_seebeck", **_physics("YIG(3um)|Pt(5.5)"),
    substrate="GGG 500 µm", cap="GGG 500 µm",
    js_amplitude=3e-4, nernst_per_mT=3e-7, background=5e-6,
    coercive_mT=1.0, switching_width_mT=0.2, curie_K=550.0, alpha=2.0, max_temperature_K=600.0,
)


def _spin_seebeck_variant(name: str, stack: str) -> Sample:
    """YIG|Pt's spin Seebeck current in another stack: its sign (θ_SH, layer order) and spacers from the table."""
    p = stack_physics(name)
    return replace(_YIG_Pt, name=name, stack=stack, **_physics(name),
                   js_amplitude=_YIG_Pt.js_amplitude * p.sign * p.transmission)


LIBRARY: dict[str, Sample] = {
    s.name: s
    for s in (
        _CoFeB_Pt,
        _CoFeB,
        replace(_CoFeB_Pt, name="CoFeB(5)|W(3)", stack="CoFeB(5 nm)|W(3 nm)", **_physics("CoFeB(5)|W(3)"),
                js_amplitude=-1.6e-3,
                nernst_per_mT=-1.5e-6),
        replace(_CoFeB_Pt, name="CoFe(3)|Pt(3)", stack="CoFe(3 nm)|Pt(3 nm)", **_physics("CoFe(3)|Pt(3)"),
                js_amplitude=1.5e-3, coercive_mT=3.0, curie_K=1200.0),
        replace(_CoFeB, name="CoFe(3)", stack="CoFe(3 nm)", **_physics("CoFe(3)"), coercive_mT=3.0,
                curie_K=1200.0),
        # NiFe decays about 50 % more slowly than CoFeB
        replace(_CoFeB_Pt, name="NiFe(9)|Pt(3)", stack="NiFe(9 nm)|Pt(3 nm)", **_physics("NiFe(9)|Pt(3)"),
                js_amplitude=1.0e-3, coercive_mT=0.5, switching_width_mT=0.1,
                curie_K=850.0),
        replace(_CoFeB, name="NiFe(9)", stack="NiFe(9 nm)", **_physics("NiFe(9)"),
                coercive_mT=0.5, switching_width_mT=0.1, curie_K=850.0),
        _YIG_Pt,
        _spin_seebeck_variant("YIG(3um)|W(5.5)", "YIG(3 µm)|W(5.5 nm)"),  # θ_SH < 0: reversed
        _spin_seebeck_variant("Pt(5.5)|YIG(3um)", "Pt(5.5 nm)|YIG(3 µm)"),  # reversed order: reversed
        _spin_seebeck_variant("YIG(3um)|Cu(1.9)|Pt(5.5)", "YIG(3 µm)|Cu(1.9 nm)|Pt(5.5 nm)"),  # ≈ 6× smaller
        Sample(
            "Co/Pt spin valve", "Pt(3)|Co(1)|Pt(4)|Co(1)|Pt(3) [nm]", model="spin_valve",
            tau_es_fs=100.0, tau_ep_fs=350.0, coercive_mT=8.0,
            layers=(Layer(coercive_mT=8.0, accumulation=0.012), Layer(coercive_mT=40.0, accumulation=0.006)),
        ),
    )
}

_BI_CO = re.compile(r"^Bi\((?P<x>[0-9.]+)\)\|Co\(5\)$")


def bi_co(x_nm: float) -> Sample:
    """Bi(x)|Co(5): demagnetization-driven spin current (odd in M) plus photo-spin current (odd in helicity).

    Both diffuse through the Bi (§4c); each part grows with Bi thickness as the layer's
    steady-state gain tanh(x / 2λ), λ = √(D·τ_s) its spin diffusion length.
    """
    if not 0 < x_nm <= 1000:
        raise ValueError(f"Bi thickness x must be in (0, 1000] nm, got {x_nm}")
    name = f"Bi({x_nm:g})|Co(5)"
    physics = _physics(name)
    lam_demag, lam_photo = (np.sqrt(D_BI_NM2_PER_FS * physics[k]) for k in ("tau_s_fs", "tau_s_photo_fs"))
    return Sample(
        name, f"Bi({x_nm:g} nm)|Co(5 nm)", **physics,
        js_amplitude=8e-4 * float(np.tanh(x_nm / (2 * lam_demag))),
        helicity_amplitude=5e-4 * float(np.tanh(x_nm / (2 * lam_photo))),
        linear_qwp=(4e-5, 2e-5), demag_amplitude=2e-5, background=2e-5,
        coercive_mT=5.0, curie_K=1300.0,
    )


def get_sample(name: str) -> Sample:
    """Sample from the library by name; ``Bi(x)|Co(5)`` takes any thickness x in nm."""
    if name in LIBRARY:
        return LIBRARY[name]
    m = _BI_CO.match(name)
    if m:
        return bi_co(float(m["x"]))
    raise ValueError(f"unknown sample {name!r}; known: {', '.join(LIBRARY)}, Bi(x)|Co(5)")


SPOT_REGIONS_MM = ((0.0, 10.0), (15.0, 25.0))  # F|N, then its ferromagnet alone, on one substrate


def spot_map(name: str) -> tuple[tuple[float, float, Sample], ...]:
    """An F|N stack and its ferromagnet alone on one substrate, by translation-stage position (mm).

    The ferromagnet is the stack's first layer (``CoFeB(5)|Pt(3)`` → ``CoFeB(5)``),
    deposited through the same mask, so the two spots compare the F|N spin
    current (S−) with the ferromagnet's own demagnetization field (S+, ≈ 100×
    smaller). Between and beyond the regions the beam meets bare substrate.
    """
    f_n = get_sample(name)
    ferromagnet = name.split("|")[0]
    if "|" not in name or ferromagnet not in LIBRARY:
        raise ValueError(f"sample {name!r} has no ferromagnet-alone spot; spot maps hold an F|N stack whose "
                         f"ferromagnet is in the library: "
                         f"{', '.join(k for k in LIBRARY if '|' in k and k.split('|')[0] in LIBRARY)}")
    (a, b), (c, d) = SPOT_REGIONS_MM
    return (a, b, f_n), (c, d, LIBRARY[ferromagnet])
