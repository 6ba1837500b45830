"""Profile files: one YAML file per table saying which instrument plays which role.

::

    metadata: {table: lab-2 THz}           # goes into every start document
    visa_library: instruments.yaml@sim     # optional; relative paths resolve next to this file
    roles:
      stage:   {class: ESP300, address: "GPIB0::1::INSTR", axis: 1, time_zero_mm: 75.31, ...}
      lockin:  {class: SR830, address: "GPIB0::8::INSTR"}
      pump_qwp: null                       # not on this table

Every role of :class:`~femtospin.acquisition.Table` must be listed (``null`` when
the table lacks it). Roles with the same ``address`` share one connection and
its lock (axes of one ESP300, modules on one Elliptec bus). Any other key of an
entry sets the device's configuration signal of that name. Errors raise
:class:`ProfileError`: one line naming the file, the entry and the problem.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import serial
import yaml
from ophyd import Kind
from pymeasure.instruments.lakeshore.lakeshore3xx import LakeShore3xx

from femtospin.devices import (
    DEFAULT_PROBE_FWHM_FS,
    OPTIONAL_ROLES,
    ROLES,
    DelayLine,
    Electromagnet,
    HeaterController,
    LockInAmplifier,
    PumpPowerMeter,
    PumpShutter,
    RotationStage,
    SpotStage,
    Table,
    WaveplateAttenuator,
    eos_detection,
    moke_detection,
)
from femtospin.devices.drivers import SerialLine, apt, elliptec, sc10, smc100
from femtospin.devices.drivers.current_sources import Keithley2400Source, KepcoBOP
from femtospin.devices.drivers.lakeshore33x import MAX_SETPOINT_K, LakeShoreHeater
from femtospin.devices.drivers.lakeshore425 import Gaussmeter
from femtospin.devices.drivers.newport_esp import ESPAxis, ESPController
from femtospin.devices.drivers.srs import SR830LockIn, SR860LockIn
from femtospin.devices.drivers.thorlabs_pm import PM100


class ProfileError(ValueError):
    """A profile file is wrong; the message names the file, the entry and the problem."""


ROTATION = ("sample_rotation", "pump_qwp", "probe_qwp", "attenuator", "analyser")
ATTENUATOR_SETTINGS = ("max_fluence_mJcm2", "zero_deg")  # the half-wave plate's calibration
LINEAR = ("stage", "spot")


@dataclass(frozen=True)
class Model:
    """One instrument model: the roles it can play, how to open its connection, and its driver per role."""

    roles: tuple[str, ...]
    connect: Callable  # (address, context) -> connection shared by every role at that address
    driver: Callable  # (connection, entry, role) -> driver for the role's device
    options: tuple[str, ...] = ()  # entry keys the driver consumes


def _visa(cls):
    return lambda address, ctx: cls.open(address, visa_library=ctx["visa_library"])


def _serial(settings):
    return lambda address, ctx: SerialLine(address, serial_factory=ctx["serial_factory"],
                                           timeout=ctx["serial_timeout"], **settings)


def _esp_axis(controller, entry, role):
    return ESPAxis(controller, int(entry.get("axis", 1)), units="deg" if role in ROTATION else "mm")


def _apt_motor(line, entry, role):
    rotary = role in ROTATION
    counts = entry.get("counts_per_unit", apt.COUNTS_PER_UNIT.get(entry.get("stage", "K10CR1" if rotary else "")))
    if counts is None:
        raise KeyError("counts_per_unit (or a known 'stage': " + ", ".join(apt.COUNTS_PER_UNIT) + ")")
    travel = (0.0, 360.0) if rotary else tuple(entry["travel_mm"])
    return apt.AptMotor(line, counts, channel=int(entry.get("channel", 1)), units="deg" if rotary else "mm",
                        travel=travel)


def _lakeshore_connect(address, ctx):
    return LakeShore3xx(address, visa_library=ctx["visa_library"]), threading.RLock()


def _lakeshore_heater(connection, entry, role):
    inst, lock = connection
    return LakeShoreHeater(inst, output=int(entry.get("output", 1)), sensor=str(entry.get("sensor", "A")), lock=lock)


MODELS: dict[str, Model] = {
    "SR830": Model(("lockin",), _visa(SR830LockIn), lambda c, e, r: c),
    "SR860": Model(("lockin",), _visa(SR860LockIn), lambda c, e, r: c),
    "ESP300": Model(LINEAR + ROTATION, _visa(ESPController), _esp_axis, ("axis",)),
    "ESP301": Model(LINEAR + ROTATION, _visa(ESPController), _esp_axis, ("axis",)),
    "SMC100": Model(LINEAR, _serial(smc100.SERIAL_SETTINGS),
                    lambda line, e, r: smc100.SMC100(line, int(e.get("controller", 1))), ("controller",)),
    "APT": Model(LINEAR + ROTATION, _serial(apt.SERIAL_SETTINGS), _apt_motor,
                 ("channel", "counts_per_unit", "stage", "travel_mm")),
    "K10CR1": Model(ROTATION, _serial(apt.SERIAL_SETTINGS), _apt_motor, ("channel", "counts_per_unit")),
    "ELL14": Model(ROTATION, _serial(elliptec.SERIAL_SETTINGS),
                   lambda line, e, r: elliptec.ElliptecRotator(line, str(e.get("bus_address", "0"))),
                   ("bus_address",)),
    "KepcoBOP": Model(("magnet",), _visa(KepcoBOP), lambda c, e, r: c, ("gaussmeter",)),
    "Keithley2400": Model(("magnet",), _visa(Keithley2400Source), lambda c, e, r: c, ("gaussmeter",)),
    "LakeShore335": Model(("heater",), _lakeshore_connect, _lakeshore_heater, ("output", "sensor")),
    "LakeShore336": Model(("heater",), _lakeshore_connect, _lakeshore_heater, ("output", "sensor")),
    "PM100": Model(("power_meter",), _visa(PM100), lambda c, e, r: c),
    "SC10": Model(("shutter",), _serial(sc10.SERIAL_SETTINGS), lambda line, e, r: sc10.SC10Shutter(line)),
}


DEVICES = {"stage": DelayLine, "spot": SpotStage, "sample_rotation": RotationStage, "pump_qwp": RotationStage,
           "probe_qwp": RotationStage, "attenuator": RotationStage, "lockin": LockInAmplifier, "magnet": Electromagnet,
           "heater": HeaterController, "power_meter": PumpPowerMeter, "shutter": PumpShutter,
           "analyser": RotationStage}


def _config_names(device_cls) -> set[str]:
    return {name for name in device_cls.component_names
            if getattr(device_cls, name).kind & Kind.config}


MAX_PROFILE_BYTES = 256 * 1024  # a table's profile is a page of YAML
MAX_PROFILE_NODES = 10_000  # after YAML aliases are expanded: an alias bomb is refused, not stored


def _nodes(value, limit: int) -> int:
    """How many values ``value`` holds once aliases are expanded, counting no further than ``limit``."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def read_profile_file(path) -> tuple[dict, str]:
    """Read and check a profile file without opening any instrument.

    Everything that can be known from the file is checked here: YAML, size,
    the roles and their entries, the pyvisa backend. ``serve`` checks a profile
    this way before it starts, and :func:`load_profile_file` before it connects.

    Returns
    -------
    doc : dict
        The profile.
    visa_library : str
        The pyvisa backend it names (``""`` for pyvisa's default).

    Raises
    ------
    ProfileError
        One line: ``<file>: <entry>: <problem>``.
    """
    path = Path(path)

    def fail(entry: str, problem: str):
        raise ProfileError(f"{path}: {entry}: {problem}")

    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            raise ProfileError(f"{path}: {path.stat().st_size} bytes is not a profile (at most "
                               f"{MAX_PROFILE_BYTES // 1024} kB)")
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profile ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if _nodes(doc, MAX_PROFILE_NODES) > MAX_PROFILE_NODES:
        raise ProfileError(f"{path}: more than {MAX_PROFILE_NODES} values once its YAML aliases are expanded; "
                           "a profile names a table's instruments")
    if not isinstance(doc, dict) or not isinstance(doc.get("roles"), dict):
        fail("roles", "missing: the profile must map each role to its instrument")
    if not isinstance(doc.get("metadata") or {}, dict):
        fail("metadata", "must be a mapping, e.g. {table: lab-2 THz}")
    roles = doc["roles"]
    for role in roles:
        if role not in ROLES:
            fail(f"roles.{role}", f"unknown role; roles are {', '.join(ROLES)}")
    for role in ROLES:
        if role not in roles and role not in OPTIONAL_ROLES:
            fail(f"roles.{role}", "missing (write 'null' if the table has no such instrument)")
    profile_detection(doc.get("detection"), fail)
    visa_library = _visa_library(doc.get("visa_library", ""), path, fail)
    for role, entry in roles.items():
        if entry is None:
            continue
        _check_entry(f"roles.{role}", role, entry, fail)
        if role == "magnet" and "gaussmeter" in entry:
            gauss = entry["gaussmeter"]
            if not isinstance(gauss, dict) or gauss.get("class") != "LakeShore425":
                fail(f"roles.{role}.gaussmeter", "must be {class: LakeShore425, address: ...}")
            if not gauss.get("address"):
                fail(f"roles.{role}.gaussmeter", "missing address")
    return doc, visa_library


def load_profile_file(path, *, serial_factory=serial.Serial, serial_timeout: float = 1.0) -> Table:
    """Check a profile file (:func:`read_profile_file`), connect its instruments and return the table.

    Parameters
    ----------
    path : str or Path
        The YAML file.
    serial_factory : callable
        Opens serial ports (``serial.Serial``; a fake port in tests).
    serial_timeout : float
        Read timeout of serial ports, in s.

    Raises
    ------
    ProfileError
        One line: ``<file>: <entry>: <problem>``.
    """
    path = Path(path)
    doc, visa_library = read_profile_file(path)

    def fail(entry: str, problem: str):
        raise ProfileError(f"{path}: {entry}: {problem}")

    detection = profile_detection(doc.get("detection"), fail)
    ctx = {"visa_library": visa_library, "serial_factory": serial_factory, "serial_timeout": serial_timeout}
    entries = {role: entry for role, entry in doc["roles"].items() if entry is not None}
    connections: dict[str, tuple[str, object]] = {}
    devices: dict[str, object] = dict.fromkeys(ROLES)
    for role, entry in entries.items():
        where = f"roles.{role}"
        cls, address = entry["class"], str(entry["address"])
        model = MODELS[cls]
        try:
            if address in connections:
                other, connection = connections[address]
                if other != cls:
                    fail(where, f"address {address} is already a {other}")
            else:
                connection = model.connect(address, ctx)
                connections[address] = (cls, connection)
            driver = model.driver(connection, entry, role)
            device = _build(role, driver, entry, ctx)
            device.read_configuration()  # the instrument must answer now, not in the middle of a run
            _check_limits(where, role, device, driver, cls, fail)
        except ProfileError:
            raise
        except KeyError as exc:
            fail(where, f"missing {exc.args[0]}")
        except Exception as exc:  # noqa: BLE001 - any connection failure becomes one clear line
            fail(where, f"cannot connect to {cls} at {address}: {type(exc).__name__}: {exc}".splitlines()[0])
        devices[role] = device
    metadata = {"profile": str(path), **(doc.get("metadata") or {}), "detection": detection}
    if detection["mode"] == "moke":
        for role in ("shutter", "analyser", "probe_qwp", "magnet"):
            if devices[role] is None:
                fail(f"roles.{role}", "a TR-MOKE table (detection: {mode: moke}) needs it for the static Kerr signal")
    return Table(**devices, metadata=metadata)


DETECTION_MODES = ("eos", "moke")
CHOP_FACTOR = math.sqrt(2) / math.pi  # lock-in X per volt of a square-wave-chopped DC change


def profile_detection(entry, fail) -> dict:
    """The table's detection as its start documents record it: ``{mode: eos, crystal: gap250}`` (the default)
    or ``{mode: moke, chop_factor: 0.4502}`` (balanced photodiodes; lock-in X per volt of a pump-chopped change
    of the DC difference on AUX input 1: √2/π for square-wave chopping and equal AC/DC gains)."""
    entry = {"mode": "eos"} if entry is None else entry
    if not isinstance(entry, dict) or entry.get("mode", "eos") not in DETECTION_MODES:
        fail("detection", "must be {mode: eos, crystal: gap250|znte1000} or {mode: moke, chop_factor: F}")
    if entry.get("mode", "eos") == "eos":
        from femtospin.analysis import DETECTORS
        crystal = entry.get("crystal", "gap250")
        polarizer = entry.get("polarizer_deg")
        if crystal not in DETECTORS or set(entry) - {"mode", "crystal", "probe_fwhm_fs", "polarizer_deg"} or (
                polarizer is not None and not (isinstance(polarizer, (int, float)) and math.isfinite(polarizer))):
            fail("detection", f"an EOS table takes crystal ({', '.join(DETECTORS)}), probe_fwhm_fs and "
                              "polarizer_deg (a THz polarizer's angle, finite)")
        return eos_detection(crystal, float(entry.get("probe_fwhm_fs", DEFAULT_PROBE_FWHM_FS)),
                             polarizer_deg=polarizer)
    chop = entry.get("chop_factor", CHOP_FACTOR)
    if set(entry) - {"mode", "chop_factor", "probe_fwhm_fs"} or not (
            isinstance(chop, (int, float)) and math.isfinite(chop) and chop > 0):
        fail("detection", "a TR-MOKE table takes chop_factor (finite, > 0) and probe_fwhm_fs")
    return moke_detection(float(chop), float(entry.get("probe_fwhm_fs", DEFAULT_PROBE_FWHM_FS)))


VISA_BACKENDS = ("ivi", "ni", "py", "sim")  # pyvisa's: NI/IVI VISA, pyvisa-py, pyvisa-sim
VISA_HELP = "give @ivi, @py, @sim or FILE.yaml@sim (a pyvisa-sim file in the profile's folder)"


def _visa_library(spec, profile: Path, fail) -> str:
    """The pyvisa backend a profile names: ``@py``, ``@sim``, … or ``file.yaml@sim`` with the pyvisa-sim file
    in the profile's folder (a relative name resolves there).

    Only a backend, never any other file: pyvisa would parse it and its errors would quote it.
    """
    if spec in ("", None):
        return ""
    if not isinstance(spec, str) or "@" not in spec:
        fail("visa_library", VISA_HELP)
    file, backend = spec.rsplit("@", 1)
    if backend not in VISA_BACKENDS or (file and backend != "sim"):
        fail("visa_library", VISA_HELP)
    if not file:
        return spec
    folder = profile.resolve().parent
    resolved = (folder / file).resolve()  # an absolute name stays itself
    if resolved.parent != folder or resolved.suffix not in (".yaml", ".yml"):
        fail("visa_library", f"{file!r} is not a .yaml file in the profile's folder; {VISA_HELP}")
    if not resolved.is_file():
        fail("visa_library", f"no pyvisa-sim file {resolved.name!r} in {folder}")
    return f"{resolved}@sim"


def _check_entry(where: str, role: str, entry, fail) -> None:
    if not isinstance(entry, dict):
        fail(where, "must be a mapping with 'class' and 'address'")
    cls = entry.get("class")
    fitting = sorted(name for name, model in MODELS.items() if role in model.roles)
    if cls not in MODELS:
        fail(where, f"unknown class {cls!r}; for {role} use one of {', '.join(fitting)}")
    if role not in MODELS[cls].roles:
        fail(where, f"class {cls} cannot be the {role}; use one of {', '.join(fitting)}")
    if not entry.get("address"):
        fail(where, f"missing address of the {cls}")
    allowed = _config_names(DEVICES[role]) | set(MODELS[cls].options) | {"class", "address"}
    if role == "attenuator":
        allowed |= set(ATTENUATOR_SETTINGS)
        if "max_fluence_mJcm2" not in entry:
            fail(where, "missing max_fluence_mJcm2 (the fluence at full transmission, from the power meter)")
    for key in entry:
        if key not in allowed:
            fail(f"{where}.{key}", f"unknown setting for {role}; settings are {', '.join(sorted(allowed))}")
    for key, value in entry.items():
        if key.endswith(("_fs", "_mm", "_K", "_mT", "_A", "_s", "_deg", "_per_mm", "_per_A", "_mJcm2")) and not (
                isinstance(value, (int, float)) and math.isfinite(value)):
            fail(f"{where}.{key}", f"must be a finite number, got {value!r}")


def _build(role: str, driver, entry: dict, ctx: dict):
    options = set(MODELS[entry["class"]].options) | {"class", "address"}
    if role == "magnet":
        gauss = entry.get("gaussmeter")
        meter = Gaussmeter.open(str(gauss["address"]), visa_library=ctx["visa_library"]) if gauss else None
        device = Electromagnet(driver, meter, name=role)
        driver.enable()
    elif role == "attenuator":
        mount = DEVICES[role](driver, name="attenuator_mount")
        for key, value in entry.items():
            if key not in options and key not in ATTENUATOR_SETTINGS:
                getattr(mount, key).put(value)
        return WaveplateAttenuator(mount, max_fluence_mJcm2=entry["max_fluence_mJcm2"],
                                   zero_deg=entry.get("zero_deg", 0.0), name=role)
    else:
        device = DEVICES[role](driver, name=role)
    for key, value in entry.items():
        if key not in options:
            getattr(device, key).put(value)
    return device


def _check_limits(where: str, role: str, device, driver, cls: str, fail) -> None:
    """Profile limits must lie inside what the instrument can do."""
    if role == "stage":
        lo, hi = driver.travel()
        for key in ("low_limit_fs", "high_limit_fs", "park_fs"):
            mm = device.to_mm(getattr(device, key).get())
            if not lo <= mm <= hi:
                fail(f"{where}.{key}", f"{getattr(device, key).get():g} fs is at {mm:.3f} mm, outside the "
                     f"{cls} travel [{lo:g}, {hi:g}] mm")
        if not device.low_limit_fs.get() < device.high_limit_fs.get():
            fail(f"{where}.low_limit_fs", "must be below high_limit_fs")
    elif role == "spot":
        lo, hi = driver.travel()
        for key in ("low_limit_mm", "high_limit_mm"):
            if not lo <= getattr(device, key).get() <= hi:
                fail(f"{where}.{key}", f"{getattr(device, key).get():g} mm is outside the {cls} travel "
                     f"[{lo:g}, {hi:g}] mm")
    elif role == "magnet":
        if not 0 < device.max_current_A.get() <= driver.max_current_A:
            fail(f"{where}.max_current_A", f"{device.max_current_A.get():g} A is outside the {cls} range "
                 f"(0, {driver.max_current_A:g}] A")
        needed = max(abs(device.current_for(s * device.max_field_mT.get())) for s in (1, -1))
        if needed > device.max_current_A.get():
            fail(f"{where}.max_field_mT", f"{device.max_field_mT.get():g} mT needs {needed:.4g} A, beyond "
                 f"max_current_A = {device.max_current_A.get():g} A")
    elif role == "heater":
        if not 0 < device.max_K.get() <= MAX_SETPOINT_K:
            fail(f"{where}.max_K", f"{device.max_K.get():g} K is outside the {cls} setpoint range "
                 f"(0, {MAX_SETPOINT_K:g}] K")
        if not 0 < device.safe_K.get() <= device.max_K.get():
            fail(f"{where}.safe_K", f"{device.safe_K.get():g} K must lie in (0, max_K]")
