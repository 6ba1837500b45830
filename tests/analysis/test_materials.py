"""The materials table decides model, component and fixed values, and the simulator is built from it."""

import pytest

from femtospin.analysis import MATERIALS, parse_stack, stack_physics
from femtospin.sim_devices import LIBRARY, get_sample


@pytest.mark.parametrize("stack, model, component, tau_ep", [
    ("CoFeB(5)|Pt(3)", "spin-voltage", "minus_angle", 420.0 / 1.2),  # Γ_ep of CoFeB|Pt ≈ 20 % larger
    ("CoFeB(5)", "spin-voltage", "plus_angle", 420.0),
    ("NiFe(9)|Pt(3)", "spin-voltage", "minus_angle", 500.0 / 1.2),
    ("Bi(20)|Co(5)", "spin-diffusion", "minus_angle", 400.0),
    ("YIG(3um)|Pt(5.5)", "sse", "minus_angle", None),
])
def test_each_stack_gets_its_model_component_and_literature_values(stack, model, component, tau_ep):
    p = stack_physics(stack)
    assert (p.model, p.component) == (model, component)
    if tau_ep is None:
        assert p.fixed == {}  # the spin Seebeck τ_e-ph is what is measured
    elif model == "spin-diffusion":  # Co's spin voltage and the Bi thickness are known; Bi's τ_s is fitted
        assert p.fixed == {"tau_ep_fs": pytest.approx(tau_ep), "R": 0.1, "tau_es_fs": 104.0, "thickness_nm": 20.0}
        assert p.photo == {"fixed": {"thickness_nm": 20.0}, "truth": {"tau_s_fs": 2000.0}}
        assert p.truth == {"tau_s_fs": 10.0}
    else:
        assert p.fixed == {"tau_ep_fs": pytest.approx(tau_ep), "R": 0.1}
    assert stack in p.source


def test_thickness_units_and_the_sign_of_the_spin_hall_angle():
    assert parse_stack("YIG(3um)|Pt(5.5)") == (("YIG", 3000.0), ("Pt", 5.5))
    assert parse_stack("CoFeB(5 nm)|Pt(3 nm)") == (("CoFeB", 5.0), ("Pt", 3.0))
    assert stack_physics("CoFeB(5)|Pt(3)").sign == 1
    assert stack_physics("CoFeB(5)|W(3)").sign == -1  # θ_SH < 0
    assert stack_physics("Pt(3)|CoFeB(5)").sign == -1  # reversed layer order


@pytest.mark.parametrize("stack, message", [
    ("CoFeB5|Pt3", "not Name\\(thickness\\)"),
    ("Unobtainium(5)|Pt(3)", "unknown material 'Unobtainium'"),
    ("CoFeB(5)|NiFe(3)", "2 magnetic"),
    ("YIG(3um)", "insulating ferrimagnet alone"),
    ("Pt(0)", "no thickness"),
])
def test_stacks_the_table_cannot_describe_are_refused_by_name(stack, message):
    with pytest.raises(ValueError, match=message):
        stack_physics(stack)


@pytest.mark.parametrize("name", [n for n in LIBRARY if "|" in n or n in ("CoFeB(5)", "CoFe(3)", "NiFe(9)")]
                         + ["Bi(20)|Co(5)"])
def test_the_simulator_generates_what_the_fits_hold_fixed(name):
    sample, p = get_sample(name), stack_physics(name)
    if p.model == "sse":
        assert sample.tau_seebeck_ep_fs == p.truth["tau_ep_fs"]
    elif p.model == "spin-diffusion":
        assert (sample.tau_es_fs, sample.tau_ep_fs, sample.R, sample.diffusion_nm, sample.tau_s_fs,
                sample.tau_s_photo_fs) == (p.fixed["tau_es_fs"], p.fixed["tau_ep_fs"], p.fixed["R"],
                                           p.fixed["thickness_nm"], p.truth["tau_s_fs"], p.photo["truth"]["tau_s_fs"])
    else:
        assert (sample.tau_es_fs, sample.tau_ep_fs, sample.R) == (p.truth["tau_es_fs"], p.fixed["tau_ep_fs"],
                                                                   p.fixed["R"])


def test_every_material_is_of_a_known_kind():
    assert {m.kind for m in MATERIALS.values()} <= {"ferromagnet", "insulating-ferromagnet", "normal-metal", "spacer"}
    assert all(m.spin_length_nm > 0 for m in MATERIALS.values() if m.kind == "spacer")
    assert all(m.tau_es_fs and m.tau_ep_fs and 0 < m.R <= 1 for m in MATERIALS.values() if m.kind == "ferromagnet")


def test_a_spacer_passes_part_of_the_spin_current_and_sits_between_magnet_and_metal():
    assert stack_physics("YIG(3um)|Cu(1.9)|Pt(5.5)").transmission == pytest.approx(1 / 6)
    assert stack_physics("YIG(3um)|Pt(5.5)").transmission == 1.0
    assert stack_physics("YIG(3um)|W(5.5)").sign == -1 and stack_physics("Pt(5.5)|YIG(3um)").sign == -1
    with pytest.raises(ValueError, match="a spacer \\(Cu\\) sits between the magnet and the normal metal"):
        stack_physics("Cu(1.9)|YIG(3um)|Pt(5.5)")
