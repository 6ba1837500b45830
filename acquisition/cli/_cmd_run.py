"""``femtospin run PLAN --profile P [args]``: any plan on any table, arguments with units."""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import traceback

from bluesky.utils import RunEngineInterrupted

from femtospin.devices import Table, plan_devices
from femtospin.plans import PLANS, PlanArgumentError, UnsafeTableError, delay_grid, device_error
from femtospin.sim_devices import get_sample

from .._profiles import SIM_PROFILES, load_profile
from .._session import Session, data_directory
from .._watch import RESUME_FACTOR
from ..live._live import warning_lines
from ..storage._catalog import parse_catalog
from ..storage._describe import fit_line
from ..storage._storage import check_data_directory
from ._cli import interrupted_by, os_error
from ._run_options import ARGS, MAX_DURATION_S

LIVE_TIMEOUT_S = 120.0  # the final fit of a long series still finishes well within this
EXIT_UNSAFE = 3  # make_safe could not bring a device back: someone has to go to the table
SAFE = "table left safe (field 0, heater at its safe setpoint, stage parked)"
LONG_RUN_S = 30 * 60.0  # a wall-clock run longer than this gets a warning before it starts


def plan_kwargs(plan, table: Table, args: argparse.Namespace) -> dict:
    """Keyword arguments for ``plan``: devices by role from the table, the rest from the command line."""
    kwargs = plan_devices(table, plan)
    for param in inspect.signature(plan).parameters.values():
        if param.name in ARGS and getattr(args, param.name, None) is not None:
            value = getattr(args, param.name)
            if param.name == "delays":
                kind, spec = value
                if kind == "range":
                    value = delay_grid(*spec, fine=args.fine)
                elif args.fine is not None:
                    raise PlanArgumentError("fine: only with delays given as START:STOP:STEP")
                else:
                    value = spec
            kwargs[param.name] = value
    return kwargs


def _duration(seconds: float) -> str:
    h, rest = divmod(int(round(seconds)), 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def _uid(session: Session) -> str:
    return session.uids[-1] if session.uids else "(none started)"


def unsafe_error(exc: BaseException | None) -> UnsafeTableError | None:
    """The :class:`UnsafeTableError` behind ``exc``, if any: another failure may have come first or after."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UnsafeTableError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def interrupted(session: Session) -> int:
    """One line for a run a stop signal aborted; exit 128 + the signal's number (130 for Ctrl-C)."""
    where = f"; data: {session.writer.path(session.uids[-1])}" if session.uids else ""
    print(f"run {_uid(session)} aborted by {session.interrupted_by}; {SAFE}{where}", file=sys.stderr)
    return 128 + (session.signals.received or 2)


def failed(session: Session, exc: BaseException, debug: bool) -> int:
    """One line per unsafe device, one for the run and where its data is; exit 3 if the table is unsafe, else 1."""
    if debug:
        traceback.print_exception(exc)
    unsafe = unsafe_error(exc)
    for device in unsafe.devices if unsafe is not None else ():
        print(device, file=sys.stderr)
    if session.signals.received is not None:
        print(f"run {_uid(session)} aborted by {session.interrupted_by}", file=sys.stderr)
    else:
        cause = exc.__context__ if exc is unsafe else exc  # what failed before make_safe did
        what = (os_error(cause) if isinstance(cause, OSError) else device_error(cause)) if cause is not None \
            else "the table could not be made safe"
        print(f"run {_uid(session)} failed: {what}" + ("" if unsafe is not None else f"; {SAFE}"), file=sys.stderr)
    if session.uids:
        print(f"data recorded before the failure: {session.writer.path(session.uids[-1])}", file=sys.stderr)
    return EXIT_UNSAFE if unsafe is not None else 1


def check_laser_threshold(threshold_W: float, table: Table) -> None:
    """Finite, > 0, and low enough that the pump power measured now keeps the run going.

    A suspended run resumes above ``RESUME_FACTOR`` × threshold, so that must be
    below the power too; otherwise the run would wait for a laser that is on.
    """
    if not (math.isfinite(threshold_W) and threshold_W > 0):
        raise PlanArgumentError(f"laser-threshold: {threshold_W} W is outside the allowed range: finite and > 0 W")
    if table.power_meter is None:
        raise PlanArgumentError("laser-threshold: this table has no power meter")
    try:
        power = float(table.power_meter.power.get())
    except Exception as exc:  # noqa: BLE001 — a meter that does not answer: say so, nothing has moved
        raise PlanArgumentError(f"laser-threshold: cannot read the pump power: {device_error(exc)}") from None
    if not RESUME_FACTOR * threshold_W < power:
        raise PlanArgumentError(f"laser-threshold: {threshold_W:g} W must be below the measured pump power "
                                f"{power:.3g} W / {RESUME_FACTOR:g} = {power / RESUME_FACTOR:.3g} W "
                                f"(a suspended run resumes at {RESUME_FACTOR:g} × threshold)")


def check_duration(estimated_s: float, confirmed: bool) -> None:
    """Runs longer than :data:`MAX_DURATION_S` only with ``--confirm-long``: a typo is not a week of beam time."""
    if estimated_s > MAX_DURATION_S and not confirmed:
        raise PlanArgumentError(f"estimated duration {_duration(estimated_s)} is over the limit of "
                                f"{MAX_DURATION_S / 3600:g} h; check the arguments or add --confirm-long")


def sample_metadata(text: str) -> dict:
    """The start document's ``sample`` for ``--sample TEXT`` on a real table: the library's entry when TEXT
    names one (so the live analysis knows the stack), else TEXT as name and stack."""
    try:
        s = get_sample(text)
    except ValueError:
        return {"name": text, "stack": text, "substrate": None, "cap": None}
    return {"name": s.name, "stack": s.stack, "substrate": s.substrate, "cap": s.cap}


def apply_metadata(table: Table, sample: str | None, operator: str | None, note: str | None) -> None:
    """--sample/--operator/--note over the profile's own metadata (a profile file may set them as defaults)."""
    md = table.metadata
    if isinstance(md.get("sample"), str):  # a profile file's ``sample: CoFeB(5)|Pt(3)``
        md["sample"] = sample_metadata(md["sample"])
    if sample is not None and table.sim is None:  # the simulated table already describes its sample
        md["sample"] = sample_metadata(sample)
    for key, value in (("operator", operator), ("note", note)):
        if value is not None:
            md[key] = value


def _prepare(args):
    """Everything checked before anything moves or is written: the catalog, the table, the plan, its duration."""
    simulated = args.profile in SIM_PROFILES
    if args.seed is not None and not simulated:
        raise PlanArgumentError("--seed: only for the simulated profiles " + ", ".join(SIM_PROFILES))
    if args.lockin_tau is not None and not (math.isfinite(args.lockin_tau) and args.lockin_tau > 0):
        raise PlanArgumentError(f"lockin-tau: {args.lockin_tau} s is outside the allowed range: finite and > 0 s")
    catalog = parse_catalog(args.catalog, data_directory(args.data_dir))
    # on the simulator the sample also picks the physics; on a real table it is what the run records
    options = {k: v for k, v in (("sample", args.sample), ("seed", args.seed)) if v is not None and simulated}
    table = load_profile(args.profile, **options)
    apply_metadata(table, args.sample, args.operator, args.note)
    if args.laser_threshold is not None:
        check_laser_threshold(args.laser_threshold, table)
    tau = table.lockin.time_constant.get()
    plan = PLANS[args.plan]
    try:
        if args.lockin_tau is not None:
            table.lockin.time_constant.put(args.lockin_tau)
        measurement = plan(**plan_kwargs(plan, table, args))
        check_duration(measurement.estimated_s, args.confirm_long)
        check_data_directory(data_directory(args.data_dir), measurement.md.get("num_points", 0))
    except Exception:
        if args.lockin_tau is not None:  # a refused run leaves the lock-in as it found it
            table.lockin.time_constant.put(tau)
        raise
    return catalog, table, measurement


def duration_lines(plan: str, measurement, table: Table) -> list[str]:
    """The estimate, and a warning before a run that holds the table (wall clock) for longer than LONG_RUN_S."""
    accelerated = table.clock is not None and table.clock.accelerated
    adaptive = (measurement.md.get("sampling") or {}).get("mode") == "adaptive"
    at_most = "at most " if adaptive else ""  # an adaptive design stops at its target, within its budget
    lines = [f"{plan}: {at_most}{measurement.md.get('num_points', '?')} points, estimated duration "
             f"{at_most}{_duration(measurement.estimated_s)}" + (" of simulated time" if accelerated else "")]
    if not accelerated and measurement.estimated_s > LONG_RUN_S:
        hint = "; --profile sim:fast skips the waits" if table.sim is not None else ""
        lines.append(f"warning: a long run: about {_duration(measurement.estimated_s)} of wall-clock time "
                     f"(Ctrl-C stops it and leaves the table safe{hint})")
    return lines


def run(args) -> int:
    try:
        catalog, table, measurement = _prepare(args)
    except (PlanArgumentError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    session = Session(table, args.data_dir, progress=not args.no_progress, laser_threshold_W=args.laser_threshold,
                      live=True, catalog=catalog)
    for line in duration_lines(args.plan, measurement, table):
        print(line, file=sys.stderr if line.startswith("warning") else sys.stdout)
    try:
        uids = session.run(measurement)
        for uid in uids:
            print(f"run uid: {uid}")
            print(f"data:    {session.writer.path(uid)}")
        _results(args, session, table, catalog)
        for line in measurement.outcome:  # an adaptive design: why it stopped
            print(line)
    except RunEngineInterrupted:
        return interrupted(session)
    except KeyboardInterrupt as exc:  # outside the RunEngine's hold: before the run began, or after it ended
        return interrupted_outside(session, exc)
    except Exception as exc:  # noqa: BLE001 — any failure: say what and where the data is, exit non-zero
        return failed(session, exc, args.debug)
    return 0


def interrupted_outside(session: Session, exc: KeyboardInterrupt) -> int:
    """One line for a stop signal while no run held the table: nothing started, or the run is stored whole."""
    label, code = interrupted_by(exc)
    if not session.uids:
        print(f"interrupted by {label} before the run started; nothing moved", file=sys.stderr)
    else:
        print(f"interrupted by {label} after the run: run {_uid(session)} is stored whole in "
              f"{session.writer.path(_uid(session))}; its live fit and report are not finished", file=sys.stderr)
    return code


def _results(args, session: Session, table: Table, catalog) -> None:
    """What the run measured: the live fits, the report, where the catalog has it."""
    if session.live.active and session.live.wait(LIVE_TIMEOUT_S):
        for r in session.live.state.results:
            fitted = r.result is not None and r.result.fit is not None
            print(fit_line(r.group, r.result.component if fitted else None, r.result.fit.params if fitted else None,
                           r.error))
            for line in warning_lines(r.group, r.result):
                print(line)
        for line in session.live.state.summary:  # TR-MOKE: the static Kerr signals and the spin accumulation
            print(line)
        print(f"report:  {session.live.state.report}")
    if catalog is not None:
        print("catalog: ingested in the background (`femtospin ls`, `femtospin show UID`)")
    if args.plan == "find_time_zero":
        print(f"time zero: stage at {table.stage.time_zero_mm.get():.6f} mm (write it into the profile)")
