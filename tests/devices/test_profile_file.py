"""Profile files: the pyvisa-sim table runs ``delay_scan``; broken profiles fail at load in one line."""

from pathlib import Path

import pytest
import yaml
from bluesky import RunEngine

from femtospin.acquisition import load_profile
from femtospin.acquisition._profile_file import ProfileError, load_profile_file
from femtospin.devices import OPTIONAL_ROLES, ROLES, DelayLine, LockInAmplifier
from femtospin.plans import delay_scan

PROFILES = Path(__file__).resolve().parents[2] / "profiles"
SIM_VISA = PROFILES / "sim-visa.yaml"


def test_delay_scan_runs_on_the_pyvisa_sim_profile():
    table = load_profile(str(SIM_VISA))
    assert isinstance(table.stage, DelayLine) and isinstance(table.lockin, LockInAmplifier)
    docs = []
    RE = RunEngine({})
    RE(delay_scan(table.lockin, table.stage, [-100.0, 0.0, 150.0], magnet=table.magnet, magnetization=(1, -1)),
       lambda name, doc: docs.append((name, doc)))
    events = [doc["data"] for name, doc in docs if name == "event"]
    assert docs[-1][1]["exit_status"] == "success"
    assert [e["stage_delay"] for e in events] == pytest.approx([-100.0, 0.0, 150.0] * 2, abs=0.01)
    assert events[0]["lockin_x"] == 1.25e-6 and events[0]["lockin_y"] == -3.1e-7
    assert [e["magnetization"] for e in events] == [1, 1, 1, -1, -1, -1]
    # left safe: stage parked, magnet at zero
    assert table.stage.delay.get() == pytest.approx(table.stage.park_fs.get(), abs=0.01)
    assert table.magnet.current_A.get() == 0.0
    config = docs[1][1]["configuration"]["lockin"]["data"]  # the descriptor stores the lock-in settings
    assert config["lockin_time_constant"] == 1e-3 and config["lockin_slope_db"] == 24  # OFLT 4, OFSL 3


def _broken(tmp_path, edit):
    doc = yaml.safe_load(SIM_VISA.read_text())
    (tmp_path / "instruments.yaml").write_text((PROFILES / "sim-visa-instruments.yaml").read_text())
    doc["visa_library"] = "instruments.yaml@sim"  # pyvisa-sim's file lives beside the profile
    edit(doc)
    path = tmp_path / "table.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("edit, entry, problem", [
    (lambda d: d["roles"]["lockin"].update({"class": "SR850"}), "roles.lockin", "unknown class 'SR850'"),
    (lambda d: d["roles"]["lockin"].update({"class": "ESP300"}), "roles.lockin", "cannot be the lockin"),
    (lambda d: d["roles"]["magnet"].pop("address"), "roles.magnet", "missing address"),
    (lambda d: d["roles"]["stage"].update({"high_limit_fs": 600000}), "roles.stage.high_limit_fs",
     "outside the ESP300 travel [-100, 100] mm"),
    (lambda d: d["roles"]["magnet"].update({"max_current_A": 20}), "roles.magnet.max_current_A",
     "outside the KepcoBOP range (0, 12] A"),
    (lambda d: d["roles"]["magnet"].update({"max_field_mT": 400}), "roles.magnet.max_field_mT", "needs 16 A"),
    (lambda d: d["roles"]["heater"].update({"max_K": 2000}), "roles.heater.max_K", "setpoint range"),
    (lambda d: d["roles"]["spot"].update({"high_limit_mm": 30}), "roles.spot.high_limit_mm", "travel [0, 25]"),
    (lambda d: d["roles"]["stage"].update({"time_zero": 3}), "roles.stage.time_zero", "unknown setting"),
    (lambda d: d["roles"]["stage"].update({"park_fs": "far"}), "roles.stage.park_fs", "finite number"),
    (lambda d: d["roles"].pop("heater"), "roles.heater", "missing"),
    (lambda d: d["roles"].update({"laser": None}), "roles.laser", "unknown role"),
    (lambda d: d["roles"].update({"attenuator": {"class": "ESP301", "address": "GPIB0::2::INSTR", "axis": 3}}),
     "roles.attenuator", "missing max_fluence_mJcm2"),
    (lambda d: d["roles"]["lockin"].update({"address": "GPIB0::30::INSTR"}), "roles.lockin", "cannot connect"),
])
def test_broken_profile_names_file_entry_and_problem(tmp_path, edit, entry, problem):
    path = _broken(tmp_path, edit)
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {entry}: ")
    assert problem in message


@pytest.mark.parametrize("library, problem", [
    ("/etc/passwd", "give @ivi, @py, @sim or FILE.yaml@sim"),
    ("/etc/passwd@sim", "is not a .yaml file in the profile's folder"),
    ("../outside.yaml@sim", "is not a .yaml file in the profile's folder"),
    ("SECRET.yaml@sim", "is not a .yaml file in the profile's folder"),  # absolute, elsewhere
    ("instruments.yaml@py", "give @ivi, @py"),
    ("@evil", "give @ivi, @py"),
    ("missing.yaml@sim", "no pyvisa-sim file 'missing.yaml'"),
    (["@sim"], "give @ivi, @py"),
], ids=["file", "file-sim", "parent", "absolute", "file-py", "backend", "missing", "not-text"])
def test_visa_library_names_only_a_pyvisa_backend_and_never_quotes_a_file(tmp_path, library, problem):
    secret = tmp_path / "elsewhere" / "SECRET.yaml"
    secret.parent.mkdir()
    secret.write_text("resources: {}\ntoken: hunter2\n")
    (tmp_path / "outside.yaml").write_text("token: hunter2\n")
    table = tmp_path / "table"
    table.mkdir()
    library = str(secret) + "@sim" if library == "SECRET.yaml@sim" else library
    path = _broken(table, lambda d: d.update({"visa_library": library}))
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: visa_library: ") and problem in message and "\n" not in message
    assert "hunter2" not in message and "root:" not in message


@pytest.mark.parametrize("library", ["@sim", "instruments.yaml@sim", "INSTRUMENTS@sim"])
def test_visa_library_accepts_a_backend_or_a_pyvisa_sim_file_beside_the_profile(tmp_path, library):
    library = str(tmp_path / "instruments.yaml") + "@sim" if library == "INSTRUMENTS@sim" else library
    if library == "@sim":  # pyvisa-sim's default resources have no such instruments: the backend is accepted
        with pytest.raises(ProfileError, match="cannot connect"):
            load_profile_file(_broken(tmp_path, lambda d: d.update({"visa_library": library})))
    else:
        assert load_profile_file(_broken(tmp_path, lambda d: d.update({"visa_library": library}))).lockin is not None


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile_file(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("roles: [unclosed")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile_file(bad)


def test_absent_role_is_none(tmp_path):
    table = load_profile_file(_broken(tmp_path, lambda d: d["roles"].update({"pump_qwp": None})))
    assert table.pump_qwp is None and table.probe_qwp is not None
    assert table.metadata["table"] == "pyvisa-sim rehearsal table"


def test_roles_at_one_address_share_the_connection_and_its_lock():
    table = load_profile_file(SIM_VISA)
    assert table.stage.axis.controller is table.spot.axis.controller
    assert table.sample_rotation.axis.controller is table.probe_qwp.axis.controller
    assert table.stage.axis.controller is not table.sample_rotation.axis.controller


def test_example_profile_passes_the_checks_made_before_connecting():
    from femtospin.acquisition._profile_file import _check_entry

    doc = yaml.safe_load((PROFILES / "example.yaml").read_text())
    assert set(doc["roles"]) == set(ROLES) - set(OPTIONAL_ROLES)  # the TR-MOKE roles may be left out
    problems = []
    for role, entry in doc["roles"].items():
        _check_entry(f"roles.{role}", role, entry, lambda where, problem: problems.append((where, problem)))
    assert problems == []


def test_attenuator_is_a_waveplate_on_a_rotation_axis(tmp_path):
    def edit(d):
        d["roles"]["probe_qwp"] = None
        d["roles"]["attenuator"] = {"class": "ESP301", "address": "GPIB0::2::INSTR", "axis": 3,
                                    "max_fluence_mJcm2": 1.5, "zero_deg": 0.0, "poll_s": 0.001, "timeout_s": 2}

    table = load_profile_file(_broken(tmp_path, edit))
    assert table.attenuator.max_fluence_mJcm2.get() == 1.5
    assert table.attenuator.angle_for(1.5 / 4) == pytest.approx(30.0)  # cos²(2·30°) = 1/4
    assert table.attenuator.mount.name == "attenuator_mount"


def _moke_profile(tmp_path, edit=lambda d: None):
    def moke(d):
        d["detection"] = {"mode": "moke", "chop_factor": 0.45}
        d["roles"]["pump_qwp"] = None
        d["roles"]["analyser"] = {"class": "ESP301", "address": "GPIB0::2::INSTR", "axis": 2, "poll_s": 0.001,
                                  "timeout_s": 2}
        d["roles"]["shutter"] = {"class": "SC10", "address": "/dev/ttyUSB7", "switch_s": 0.0}
        edit(d)

    return _broken(tmp_path, moke)


def test_a_moke_profile_names_its_detection_and_probe_side_devices(tmp_path):
    from femtospin.devices import PumpShutter, RotationStage

    from .conftest import FakeSC10

    table = load_profile_file(_moke_profile(tmp_path), serial_factory=lambda *a, **k: FakeSC10(*a, **k))
    assert table.metadata["detection"]["mode"] == "moke" and table.metadata["detection"]["chop_factor"] == 0.45
    assert table.setup["detection"] == table.metadata["detection"]  # what the plans check
    assert isinstance(table.shutter, PumpShutter) and isinstance(table.analyser, RotationStage)
    table.shutter.set(1).wait(5)
    assert table.shutter.open.get() == 1


def test_an_eos_profile_records_its_crystal_by_default():
    table = load_profile(str(SIM_VISA))
    assert table.metadata["detection"] == {"mode": "eos", "crystal": "gap250", "probe_fwhm_fs": 20.0}


@pytest.mark.parametrize("edit, entry, problem", [
    (lambda d: d["roles"].update({"shutter": None}), "roles.shutter",
     "a TR-MOKE table (detection: {mode: moke}) needs"),
    (lambda d: d.update({"detection": {"mode": "faraday"}}), "detection", "must be {mode: eos"),
    (lambda d: d.update({"detection": {"mode": "moke", "chop_factor": -1}}), "detection", "chop_factor (finite, > 0)"),
    (lambda d: d["roles"].update({"shutter": {"class": "SR830", "address": "x"}}), "roles.shutter",
     "cannot be the shutter; use one of SC10"),
])
def test_a_broken_moke_profile_is_one_line(tmp_path, edit, entry, problem):
    from .conftest import FakeSC10

    with pytest.raises(ProfileError) as err:
        load_profile_file(_moke_profile(tmp_path, edit), serial_factory=lambda *a, **k: FakeSC10(*a, **k))
    assert f": {entry}: " in str(err.value) and problem in str(err.value)
