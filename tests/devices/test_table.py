"""The table contract: roles typed by their interfaces, checked when a table is built; one way to a plan's devices."""

import time
from dataclasses import fields

import pytest
from ophyd import Device

from femtospin.acquisition import load_profile
from femtospin.devices import (
    OPTIONAL_ROLES,
    REQUIRED_ROLES,
    ROLE_INTERFACES,
    ROLES,
    WALL_CLOCK,
    Clock,
    Table,
    plan_devices,
)
from femtospin.plans import PLANS, field_loop, thz_emission


def test_the_roles_are_the_tables_fields_in_order():
    assert [f.name for f in fields(Table)][: len(ROLES)] == list(ROLES) == list(ROLE_INTERFACES)
    assert set(REQUIRED_ROLES) | set(OPTIONAL_ROLES) <= set(ROLES)


@pytest.mark.parametrize("profile", ["sim:fast", "sim-moke:fast", "sim-spots:fast"])
def test_every_simulated_device_satisfies_its_roles_interface(profile):
    table = load_profile(profile)
    for role, device in table.devices().items():
        assert isinstance(device, ROLE_INTERFACES[role]), role


def test_a_device_that_cannot_play_its_role_is_refused_naming_what_it_lacks():
    table = load_profile("sim:fast")
    with pytest.raises(TypeError, match=r"role magnet: 'plain' is not a Magnet \(it lacks field, max_field_mT, set\)"):
        Table(stage=table.stage, lockin=table.lockin, magnet=Device(name="plain"))
    with pytest.raises(TypeError, match="role stage: .* is not a DelayStage"):
        Table(stage=table.lockin, lockin=table.lockin)


def test_a_plan_gets_the_devices_of_its_roles_and_the_setup_if_it_takes_one():
    table = load_profile("sim:fast")
    given = plan_devices(table, thz_emission)
    assert given["stage"] is table.stage and given["magnet"] is table.magnet and given["setup"] == table.setup
    assert "attenuator" in given and "shutter" not in given  # only the roles the plan takes
    moke = plan_devices(table, PLANS["moke_scan"])
    assert moke["shutter"] is None  # a role this table lacks: None, so the plan can say what is missing
    loop = plan_devices(table, field_loop)
    assert set(loop) == {"lockin", "stage", "magnet", "power_meter"}
    for name, plan in PLANS.items():  # every plan's device arguments are roles
        assert set(plan_devices(table, plan)) - {"setup", "clock"} <= set(ROLES), name


def test_a_plan_that_keeps_a_budget_gets_the_tables_clock_or_the_wall_clock():
    table = load_profile("sim:fast")
    assert plan_devices(table, thz_emission)["clock"] is table.clock
    assert "clock" not in plan_devices(table, field_loop)
    real = Table(stage=table.stage, lockin=table.lockin)
    clock = plan_devices(real, thz_emission)["clock"]
    assert clock is WALL_CLOCK and not clock.accelerated and isinstance(clock, Clock)
    before = clock.now()
    time.sleep(0.01)  # an event ordering, not a duration: the wall clock moves forward
    assert clock.now() > before


def test_the_detection_block_is_read_back_as_it_was_written():
    from femtospin.acquisition import sim_profile
    from femtospin.devices import detection_of, eos_detection
    from femtospin.sim_devices import Detection

    table = sim_profile("Bi(100)|Co(5)", fast=True, detection=Detection(detector="znte1000", polarizer_deg=90.0))
    read = detection_of(table.metadata)
    assert (read.mode, read.crystal, read.polarizer_deg, read.transfer) == ("eos", "znte1000", 90.0, None)
    measured = detection_of({"detection": eos_detection(transfer=([0.0, 1.0], [1.0, 0.5]))})
    assert measured.crystal == "gap250" and measured.transfer[1].tolist() == [1.0, 0.5]
    assert detection_of({}) == type(read)()  # a run that recorded nothing: the defaults
