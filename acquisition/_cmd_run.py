"""``femtospin run PLAN --profile P [args]``: any plan on any table, arguments with units."""

from __future__ import annotations

import argparse
import inspect
import math
import sys
import traceback
from dataclasses import dataclass

from bluesky.utils import RunEngineInterrupted

from femtospin.plans import PLANS, PlanArgumentError, UnsafeTableError, delay_grid, device_error

from ._catalog import parse_catalog
from ._cli import OneLineParser, interrupted_by, os_error
from ._cmd_catalog import catalog_option, data_dir_option
from ._describe import fit_line
from ._live import warning_lines
from ._profiles import Table, load_profile
from ._session import Session, data_directory
from ._storage import check_data_directory
from ._watch import RESUME_FACTOR

LIVE_TIMEOUT_S = 120.0  # the final fit of a long series still finishes well within this
MAX_DURATION_S = 48 * 3600.0  # longer runs need --confirm-long
EXIT_UNSAFE = 3  # make_safe could not bring a device back: someone has to go to the table
SAFE = "table left safe (field 0, heater at its safe setpoint, stage parked)"

def _words(text: str) -> list[str]:
    """A comma list with at least one entry: an empty one would silently mean the plan's default."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least one value")
    return words


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in _words(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def _ints(text: str) -> list[int]:
    values = _floats(text)
    if any(not math.isfinite(v) or v != int(v) for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers, e.g. 1,-1")
    return [int(v) for v in values]


def _count(text: str) -> int:
    """A whole number ≥ 1 (repeats)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number ≥ 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number ≥ 1")
    return value


def _seed(text: str) -> int:
    """A noise seed: a whole number ≥ 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the noise seed is a whole number ≥ 0")
    return value


def _range(text: str) -> tuple[float, float, float]:
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: give START:STOP:STEP")
    try:
        lo, hi, step = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: START:STOP:STEP must be numbers") from None
    return lo, hi, step


def _delays(text: str):
    """START:STOP:STEP or a comma list."""
    return ("range", _range(text)) if ":" in text else ("list", _floats(text))


@dataclass(frozen=True)
class Arg:
    parse: object
    units: str
    help: str


# Every plan argument the command line offers; a plan gets those its signature names.
ARGS = {
    "delays": Arg(_delays, "fs", "delays: START:STOP:STEP or a comma list (one value: a fixed delay)"),
    "magnetization": Arg(_ints, "", "magnetization signs, e.g. 1,-1"),
    "angles": Arg(_floats, "deg", "angles, e.g. 0,180"),
    "helicities": Arg(_ints, "", "pump helicities: 1 (σ+), -1 (σ−), 0 (linear)"),
    "kerr": Arg(_words, "", "TR-MOKE quantities: rotation,ellipticity"),
    "states": Arg(_words, "", "spin-valve states: P,AP"),
    "temperatures": Arg(_floats, "K", "sample temperatures"),
    "spots": Arg(_floats, "mm", "spot positions of the translation stage"),
    "fluences": Arg(_floats, "mJ/cm²", "pump fluences"),
    "repeats": Arg(_count, "", "passes over the fast conditions"),
    "interleave": Arg(str, "", "scan (a sweep per condition) or point (conditions cycled at each delay)"),
    "order": Arg(str, "", "abba (+ − − +, cancels linear drift) or cyclic (+ − + −)"),
    "fast": Arg(_words, "", "conditions interleaved inside each repeat"),
    "saturation_mT": Arg(float, "mT", "saturating field"),
    "field_mT": Arg(float, "mT", "measuring field (0 removes the Nernst part)"),
    "reverse_mT": Arg(float, "mT", "reverse field preparing AP (between the coercive fields)"),
    "ramp_K_per_min": Arg(float, "K/min", "heater ramp rate"),
    "max_field_mT": Arg(float, "mT", "largest field of the loop"),
    "step_mT": Arg(float, "mT", "field step"),
    "start_fs": Arg(float, "fs", "first delay"),
    "stop_fs": Arg(float, "fs", "last delay"),
    "step_fs": Arg(float, "fs", "delay step"),
    "fine_step_fs": Arg(float, "fs", "fine step around the peak"),
    "mode": Arg(str, "", "step (settle and read at each delay) or fly (continuous round trips, lock-in buffer)"),
}


def _options(plan) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(plan).parameters.values() if p.name in ARGS]


def _summary(plan) -> str:
    return (plan.__doc__ or "").strip().splitlines()[0]


def register(sub) -> None:
    run = sub.add_parser("run", help="run a measurement plan on a table",
                         description="Run a measurement plan on a table; `femtospin run PLAN --help` lists its "
                                     "arguments with units.")
    plans = run.add_subparsers(dest="plan", required=True, metavar="PLAN", parser_class=OneLineParser)
    for name, plan in PLANS.items():
        p = plans.add_parser(name, help=_summary(plan), description=inspect.getdoc(plan),
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--profile", default="sim", help="sim, sim:fast or a profile file (default sim)")
        p.add_argument("--sample", help="simulated profiles only: the sample in the beam")
        p.add_argument("--seed", type=_seed, help="simulated profiles only: noise seed (≥ 0)")
        p.add_argument("--lockin-tau", type=float, metavar="S", help="lock-in time constant (s) for this run")
        p.add_argument("--fine", type=_range, metavar="LO:HI:STEP", help="finer delay grid near time zero (fs)")
        data_dir_option(p)
        catalog_option(p)
        p.add_argument("--laser-threshold", type=float, metavar="W", help="suspend below this pump power (W)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--confirm-long", action="store_true",
                       help=f"run even if the estimated duration is over {MAX_DURATION_S / 3600:g} h")
        debug_option(p)
        for param in _options(plan):
            arg = ARGS[param.name]
            required = param.default is inspect.Parameter.empty
            units = f" [{arg.units}]" if arg.units else ""
            default = "" if required or param.default in ((), None) else f" (default {param.default})"
            p.add_argument(f"--{param.name.replace('_', '-')}", dest=param.name, type=arg.parse, required=required,
                           metavar=param.name.upper(), help=arg.help + units + default)
        p.set_defaults(func=_run, plan_function=plan)


def plan_kwargs(plan, table: Table, args: argparse.Namespace) -> dict:
    """Keyword arguments for ``plan``: devices by role from the table, the rest from the command line."""
    kwargs = table.role_kwargs(plan)
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


def debug_option(parser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks and library logs of a failure")


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
    print(f"run {_uid(session)} aborted by {session.interrupted_by}; {SAFE}", file=sys.stderr)
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


def _prepare(args):
    """Everything checked before anything moves or is written: the catalog, the table, the plan, its duration."""
    options = {k: v for k, v in (("sample", args.sample), ("seed", args.seed)) if v is not None}
    if options and not args.profile.startswith("sim"):
        raise PlanArgumentError("--sample/--seed: only for the simulated profiles sim and sim:fast")
    if args.lockin_tau is not None and not (math.isfinite(args.lockin_tau) and args.lockin_tau > 0):
        raise PlanArgumentError(f"lockin-tau: {args.lockin_tau} s is outside the allowed range: finite and > 0 s")
    catalog = parse_catalog(args.catalog, data_directory(args.data_dir))
    table = load_profile(args.profile, **options)
    if args.laser_threshold is not None:
        check_laser_threshold(args.laser_threshold, table)
    tau = table.lockin.time_constant.get()
    try:
        if args.lockin_tau is not None:
            table.lockin.time_constant.put(args.lockin_tau)
        measurement = args.plan_function(**plan_kwargs(args.plan_function, table, args))
        check_duration(measurement.estimated_s, args.confirm_long)
        check_data_directory(data_directory(args.data_dir), measurement.md.get("num_points", 0))
    except Exception:
        if args.lockin_tau is not None:  # a refused run leaves the lock-in as it found it
            table.lockin.time_constant.put(tau)
        raise
    return catalog, table, measurement


def _run(args) -> int:
    try:
        catalog, table, measurement = _prepare(args)
    except (PlanArgumentError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    session = Session(table, args.data_dir, progress=not args.no_progress, laser_threshold_W=args.laser_threshold,
                      live=True, catalog=catalog)
    print(f"{args.plan}: {measurement.md.get('num_points', '?')} points, "
          f"estimated duration {_duration(measurement.estimated_s)}"
          + (" of simulated time" if table.clock is not None and table.clock.accelerated else ""))
    try:
        uids = session.run(measurement)
        for uid in uids:
            print(f"run uid: {uid}")
            print(f"data:    {session.writer.path(uid)}")
        _results(args, session, table, catalog)
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
        print(f"report:  {session.live.state.report}")
    if catalog is not None:
        print("catalog: ingested in the background (`femtospin ls`, `femtospin show UID`)")
    if args.plan == "find_time_zero":
        print(f"time zero: stage at {table.stage.time_zero_mm.get():.6f} mm (write it into the profile)")
