"""The ``femtospin run`` parser: every plan with its arguments and units, without importing the plans.

``femtospin run PLAN --help`` must answer at once, so this module imports neither bluesky nor
the plans (their signatures come from :mod:`._plan_table`); the run itself is in :mod:`._cmd_run`,
imported when a plan is actually run.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass

from ._cli import OneLineParser
from ._cmd_catalog import catalog_option, data_dir_option
from ._plan_table import REQUIRED, plain, plan_table

MAX_DURATION_S = 48 * 3600.0  # longer runs need --confirm-long
MAX_VALUES = 1_000_000  # a condition range longer than this is a typo (and would not fit a run anyway)


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


def _static_kerr(text: str) -> dict:
    """``rotation=0.05±0.001,ellipticity=0.03`` → ``{"rotation": 0.05, "ellipticity": 0.03, "stderr": {...}}``."""
    out: dict = {"stderr": {}}
    for item in _words(text):
        name, sep, value = item.partition("=")
        value, _, err = value.replace("+-", "±").partition("±")
        try:
            out[name.strip()] = float(value)
            if err:
                out["stderr"][name.strip()] = float(err)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(f"{item!r}: give QUANTITY=V or QUANTITY=V±E, e.g. rotation=0.05±0.001")
    return out


def _target(text: str) -> dict:
    """``tau_es_fs=0.5`` → ``{"tau_es_fs": 0.5}``: one fit parameter and the stderr to stop at."""
    name, sep, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        sep = ""
    if not sep or not name.strip() or not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: give PARAMETER=STDERR with a stderr > 0, e.g. tau_es_fs=0.5")
    return {name.strip(): number}


def _delays(text: str):
    """START:STOP:STEP or a comma list."""
    return ("range", _range(text)) if ":" in text else ("list", _floats(text))


def _values(text: str) -> list[float]:
    """A comma list, or START:STOP:STEP with STOP included (as ``--delays`` takes them): ``0:180:10``."""
    if ":" not in text:
        return _floats(text)
    lo, hi, step = _range(text)
    if not all(math.isfinite(v) for v in (lo, hi, step)) or step <= 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"{text!r}: START:STOP:STEP needs finite values, STEP > 0 and STOP ≥ START")
    n = math.floor((hi - lo) / step + 1e-9) + 1
    if n > MAX_VALUES:
        raise argparse.ArgumentTypeError(f"{text!r}: {n} values; at most {MAX_VALUES}")
    return [round(lo + i * step, 12) for i in range(n)]


@dataclass(frozen=True)
class Arg:
    parse: object
    units: str
    help: str
    flag: str | None = None  # the option's spelling when it is not the parameter's name


# Every plan argument the command line offers; a plan gets those its signature names.
ARGS = {
    "delays": Arg(_delays, "fs", "delays: START:STOP:STEP or a comma list (one value: a fixed delay)"),
    "magnetization": Arg(_ints, "", "magnetization signs, e.g. 1,-1"),
    "angles": Arg(_values, "deg", "angles: a comma list (0,180) or START:STOP:STEP (0:180:10)"),
    "helicities": Arg(_ints, "", "pump helicities: 1 (σ+), -1 (σ−), 0 (linear)"),
    "kerr": Arg(_words, "", "TR-MOKE quantities: rotation,ellipticity"),
    "states": Arg(_words, "", "spin-valve states: P,AP"),
    "temperatures": Arg(_values, "K", "sample temperatures: a comma list (300,350,400) or START:STOP:STEP"),
    "spots": Arg(_values, "mm", "spot positions of the translation stage: a comma list or START:STOP:STEP"),
    "fluences": Arg(_values, "mJ/cm²", "pump fluences: a comma list or START:STOP:STEP"),
    "repeats": Arg(_count, "", "passes over the inner conditions"),
    "interleave": Arg(str, "", "scan (a sweep per condition) or point (conditions cycled at each delay)"),
    "order": Arg(str, "", "abba (+ − − +, cancels linear drift) or cyclic (+ − + −)"),
    "fast": Arg(_words, "", "conditions cycled inside each repeat, e.g. magnetization,angle_deg "
                            "(default: the cheap ones; the others are outer loops)", flag="--inner"),
    "saturation_mT": Arg(float, "mT", "saturating field"),
    "field_mT": Arg(float, "mT", "measuring field (0 removes the Nernst part)"),
    "reverse_mT": Arg(float, "mT", "reverse field preparing AP (between the coercive fields)"),
    "static_kerr_V": Arg(_static_kerr, "V",
                         "typed-in static Kerr signals instead of measuring them: rotation=V[±E],ellipticity=V[±E]"),
    "static_reads": Arg(_count, "", "DC readings per static-Kerr setting"),
    "calibration_deg": Arg(float, "deg", "analyser half-wave-plate turn calibrating volts per mrad"),
    "ramp_K_per_min": Arg(float, "K/min", "heater ramp rate"),
    "max_field_mT": Arg(float, "mT", "largest field of the loop"),
    "step_mT": Arg(float, "mT", "field step"),
    "start_fs": Arg(float, "fs", "first delay"),
    "stop_fs": Arg(float, "fs", "last delay"),
    "step_fs": Arg(float, "fs", "delay step"),
    "fine_step_fs": Arg(float, "fs", "fine step around the peak"),
    "mode": Arg(str, "", "step (settle and read at each delay) or fly (continuous round trips, lock-in buffer)"),
    "sampling": Arg(str, "", "grid (measure the delays given) or adaptive (choose among them, batch by batch, "
                             "where the live fit learns most)"),
    "target": Arg(_target, "", "adaptive: stop when a fitted parameter's stderr reaches this, e.g. tau_es_fs=0.5"),
    "budget_s": Arg(float, "s", "adaptive: table time budget (default: the time of 8 passes over the delays)"),
    "batch": Arg(_count, "", "adaptive: delays chosen per batch"),
    "free": Arg(_words, "", "fit parameters the sample's literature values would hold fixed, fitted instead "
                            "(e.g. tau_ep_fs)"),
}


class _DeprecatedFast(argparse.Action):
    """``run --fast CONDITIONS``, the old spelling of ``--inner``: ``--fast`` means the simulated clock elsewhere."""

    def __call__(self, parser, namespace, values, option_string=None):
        print("warning: `femtospin run --fast CONDITIONS` is now `--inner CONDITIONS` (in `demo` and `replay`, "
              "--fast is the accelerated simulated clock)", file=sys.stderr)
        setattr(namespace, self.dest, values)


def debug_option(parser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks and library logs of a failure")


def metadata_options(parser) -> None:
    """--sample, --operator, --note: recorded in the run's start document on every table."""
    parser.add_argument("--sample", help="the sample: a stack such as 'CoFeB(5)|Pt(3)' or its name; recorded on "
                                         "every table, and on the simulated ones it also picks the physics "
                                         "(default: the profile's)")
    parser.add_argument("--operator", help="who measures (default: the profile's, else the login name)")
    parser.add_argument("--note", help="free text recorded with the run")


def _run(args) -> int:
    from . import _cmd_run

    return _cmd_run.run(args)


def register(sub) -> None:
    run = sub.add_parser("run", help="run a measurement plan on a table",
                         description="Run a measurement plan on a table; `femtospin run PLAN --help` lists its "
                                     "arguments with units.")
    plans = run.add_subparsers(dest="plan", required=True, metavar="PLAN", parser_class=OneLineParser)
    for name, plan in plan_table().items():
        p = plans.add_parser(name, help=plan.summary, description=plain(plan.doc),
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--profile", default="sim", help="sim, sim:fast, sim-moke, sim-moke:fast, sim-spots, "
                                                        "sim-spots:fast or a profile file (default sim)")
        metadata_options(p)
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
        for param, default in plan.params:
            if param not in ARGS:
                continue
            arg = ARGS[param]
            required = default is REQUIRED
            units = f" [{arg.units}]" if arg.units else ""
            shown = "" if required or default in ((), None) else f" (default {default})"
            flag = arg.flag or f"--{param.replace('_', '-')}"
            p.add_argument(flag, dest=param, type=arg.parse, required=required,
                           metavar=param.upper() if arg.flag is None else flag[2:].upper(),
                           help=arg.help + units + shown)
            if arg.flag == "--inner":
                p.add_argument("--fast", dest=param, type=arg.parse, action=_DeprecatedFast, help=argparse.SUPPRESS)
        p.set_defaults(func=_run)
