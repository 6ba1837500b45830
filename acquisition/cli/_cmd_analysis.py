"""``femtospin analyze`` and ``femtospin fit-series``: offline analysis of CSV files (design.md contracts).

Everything is read and validated before any output is written; the JSON is
written to a temporary file next to the target and renamed into place, so a
failed run never leaves a partial file. Errors go to stderr as one line naming
the file, column and row, with exit code 2.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from femtospin import analysis

from ._cli import os_error

CONDITION_COLUMNS = analysis.CONDITIONS
EXTRA_COLUMNS = ("repeat", "overload", "pump_power")  # sweep index, lock-in overload flag, reference for drift
SERIES = {
    "temperature": (("temperature_K", "amplitude"), analysis.fit_temperature),
    "qwp": (("qwp_deg", "signal"), analysis.fit_qwp),
    "field": (("field_mT", "signal"), analysis.fit_field),
    "fluence": (("fluence_mJcm2", "amplitude"), analysis.fit_fluence),
}


class InputError(ValueError):
    """A problem with the user's input, reported as one line."""


def read_csv(path: str | Path, required: tuple[str, ...], optional: tuple[str, ...] = (),
             text: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Read named columns of a CSV file with a header row.

    Numeric columns must hold finite numbers; ``text`` columns are kept as strings.

    Raises
    ------
    InputError
        Naming the file, and the missing column or the row and column of a bad value.
    """
    path = Path(path)
    try:
        with path.open(newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise InputError(f"{path}: file is empty") from None
            rows = [r for r in reader if any(c.strip() for c in r)]
    except OSError as exc:
        raise InputError(f"cannot read {os_error(exc)}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}")
    if not rows:
        raise InputError(f"{path}: no data rows")
    out = {}
    for name in (*required, *optional):
        if name not in header:
            continue
        j = header.index(name)
        values = []
        for i, row in enumerate(rows, start=2):  # line 1 is the header
            cell = row[j].strip() if j < len(row) else ""
            if name in text:
                values.append(cell)
                continue
            try:
                v = float(cell)
            except ValueError:
                raise InputError(f"{path}: line {i}, column {name!r}: {cell!r} is not a number") from None
            if not math.isfinite(v):
                raise InputError(f"{path}: line {i}, column {name!r}: value is {cell} (NaN or infinite)")
            values.append(v)
        out[name] = np.array(values, dtype=object if name in text else float)
    return out


def write_json_atomic(path: str | Path, payload: dict) -> None:
    """Write JSON to ``path`` through a temporary file and a rename: never a partial file."""
    path = Path(path)
    text = json.dumps(payload, indent=1, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_output(path: str | None) -> None:
    """Where --json goes, checked before any work: a file name in a folder that exists."""
    if path is None:
        return
    target = Path(path).expanduser()
    if target.is_dir():
        raise InputError(f"--json {path}: is a directory; give a file name, e.g. {target / 'result.json'}")
    folder = target.resolve().parent
    if not folder.is_dir():
        raise InputError(f"--json {path}: directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):  # also says no for a read-only file system
        raise InputError(f"--json {path}: cannot write in {folder} (read-only or no permission)")


def parse_fix(items: list[str]) -> dict[str, float]:
    fix = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            fix[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip() or not math.isfinite(fix.get(name.strip(), math.nan)):
            raise InputError(f"--fix {item!r}: expected NAME=VALUE with a finite number")
    return fix


def parse_sweep_filter(text: str | None) -> dict | None:
    """``--sweep-filter lag_fs=…,order=…[,up_fraction=…,bin_fs=…]``: a fly run's lock-in filter along the sweep."""
    if text is None:
        return None
    fields = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            fields[name.strip()] = int(value) if name.strip() == "order" else float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InputError(f"--sweep-filter {text!r}: expected lag_fs=…,order=…[,up_fraction=…,bin_fs=…]")
    try:
        return analysis.SweepFilter(**fields).to_dict()
    except TypeError:
        raise InputError(f"--sweep-filter {text!r}: fields are lag_fs, order, up_fraction, bin_fs") from None
    except ValueError as exc:
        raise InputError(f"--sweep-filter: {exc}") from None


def _run(func, args) -> int:
    try:
        return func(args)
    except (InputError, ValueError) as exc:
        print(f"femtospin {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _analyze(args) -> int:
    if getattr(args, "mode", "eos") == "moke":  # TR-MOKE: its own columns, models and static Kerr signals
        from ._cmd_moke import analyze_moke_file

        return analyze_moke_file(args)
    for flag, given in (("--static", args.static), ("--run", args.run)):
        if given:
            raise InputError(f"{flag}: only with --mode moke")
    _check_output(args.json)
    fix = parse_fix(args.fix)
    sweep = parse_sweep_filter(args.sweep_filter)
    try:
        analysis.check_probe_fwhm(args.probe_fwhm_fs)
    except ValueError as exc:
        raise InputError(f"--probe-fwhm-fs: {exc}") from None
    if args.sample:
        try:
            analysis.stack_physics(args.sample)
        except ValueError as exc:
            raise InputError(f"--sample: {exc}") from None
    data = read_csv(args.waveforms, ("delay_fs", "signal"), (*CONDITION_COLUMNS, *EXTRA_COLUMNS))
    if args.reference_level is not None and "pump_power" not in data:  # nothing to normalize: say so, not ignore
        raise InputError(f"--reference-level: {args.waveforms} has no pump_power column to normalize by")
    try:
        transfer = analysis.load_transfer(args.transfer) if args.transfer else None
    except OSError as exc:
        raise InputError(f"--transfer: {os_error(exc)}") from None
    except ValueError as exc:
        raise InputError(f"--transfer: {exc}") from None
    conditions = {k: data[k] for k in CONDITION_COLUMNS if k in data}
    try:
        result = analysis.analyze(data["delay_fs"], data["signal"], conditions or None, repeat=data.get("repeat"),
                                  overload=data.get("overload"), reference=data.get("pump_power"),
                                  reference_level=args.reference_level, sample=args.sample,
                                  detector=args.detector, transfer=transfer, model=args.model, fix=fix,
                                  free=tuple(args.free or ()), component=args.component,
                                  probe_fwhm_fs=args.probe_fwhm_fs, sweep=sweep)
    except ValueError as exc:
        raise InputError(f"{args.waveforms}: {exc}") from None
    return report(args.json, result.to_dict(), summary(result))


def report(json_path: str | None, payload: dict, lines: list[str]) -> int:
    """Write the JSON (when asked), print the summary lines and where the JSON went."""
    if json_path:
        write_json_atomic(json_path, payload)
    for line in lines:
        print(line)
    if json_path:
        print(f"written: {json_path}")
    return 0


def summary(result: analysis.AnalysisResult) -> list[str]:
    """What a physicist reads first: component, resolution, goodness of fit, parameters with their origin, warnings."""
    noise = result.noise
    lines = [grid_line(result),
             f"component {result.component}, resolution {result.resolution_fs:.1f} fs (causal estimator), "
             f"t0 {result.t0_fs:.2f} fs",
             f"noise ({noise.method}, {noise.n_sweeps} sweep(s)): sigma_alpha {noise.sigma_alpha:.3g}, "
             f"sigma_beta {noise.sigma_beta:.3g}, sigma_tau {noise.sigma_tau_fs:.3g} fs"]
    if result.fit is not None:
        f = result.fit
        lines.append(f"fit {f.model}: redchi {f.redchi:.3f} (chi2 {f.chi2:.1f} / {f.dof} dof, p = {f.p_value:.3g})")
        for name, p in f.params.items():
            origin = "" if p["vary"] else f"  fixed: {p.get('source', '')}"
            lines.append(f"  {name:20s} {p['value']:.6g} ± {p['stderr']:.2g}{origin}")
    lines.extend(f"warning: {w}" for w in result.warnings)
    return lines


def grid_line(result: analysis.AnalysisResult) -> str:
    """The delays the component was formed on, and the internal grid they were analysed on.

    Any grid analyses (fine near t0, coarse elsewhere, readbacks that differ
    between sweeps); the line says which steps were found, so a grid that is not
    what the user meant shows.
    """
    d = result.delay_fs
    steps = np.round(np.diff(d), 1)
    uniform = steps.max() - steps.min() <= 0.1 * np.median(steps)  # encoder readbacks scatter a little
    span = f"{np.median(steps):g} fs" if uniform else f"{steps.min():g}–{steps.max():g} fs (non-uniform)"
    dt = result.deconvolution.delay_fs[1] - result.deconvolution.delay_fs[0]
    return f"delays: {d.size} from {d[0]:.0f} to {d[-1]:.0f} fs, steps {span}; analysed on a {dt:g} fs grid"


def _fit_series(args) -> int:
    _check_output(args.json)
    columns, func = SERIES[args.kind]
    extra = ("branch",) if args.kind == "field" else ()
    data = read_csv(args.data, (*columns, *extra), ("stderr",), text=extra)
    x, y = data[columns[0]], data[columns[1]]
    stderr = data.get("stderr")
    if stderr is not None and not np.all(stderr > 0):
        row = int(np.argmin(stderr > 0)) + 2
        raise InputError(f"{args.data}: line {row}, column 'stderr': must be > 0")
    try:
        result = func(x, y, data["branch"], stderr) if args.kind == "field" else func(x, y, stderr)
    except ValueError as exc:
        raise InputError(f"{args.data}: {exc}") from None
    payload = {"fit": result.to_dict()}
    if args.json:
        write_json_atomic(args.json, payload)
    if result.extra["stderr_source"] == "given":
        print(f"fit {args.kind}: redchi {result.redchi:.3f} (chi2 {result.chi2:.1f} / {result.dof} dof, "
              f"p = {result.p_value:.3g})")
    else:
        print(f"fit {args.kind}: errors from the scatter about the fit ({args.data} has no stderr column); "
              "without given errors the fit cannot be judged (no redchi)")
    for name, p in result.params.items():
        error = f"± {p['stderr']:.2g}" if math.isfinite(p["stderr"]) else f"not determined: {p['why']}"
        print(f"  {name:14s} {p['value']:.6g} {error}")
    if "linearity" in result.extra:
        lin = result.extra["linearity"]
        print(f"  linearity: p = {lin['p_value']:.3g} ({'linear' if lin['linear'] else 'NOT linear'})")
    if args.json:
        print(f"written: {args.json}")
    return 0


def register(subparsers) -> None:
    """Add the ``analyze`` and ``fit-series`` subcommands to the ``femtospin`` parser."""
    p = subparsers.add_parser("analyze", help="deconvolve and fit a waveform file (long-format CSV)",
                              description="Columns delay_fs, signal and optionally magnetization (+1/-1), "
                                          "angle_deg (0/180), helicity (+1/-1/0), repeat (sweep index), overload "
                                          "(0/1: left out) and pump_power (the signal is normalized to it). "
                                          "Delays need not be uniform. Writes the JSON of docs/analysis.md "
                                          "with --json.")
    p.add_argument("waveforms", help="CSV file: delay_fs, signal[, magnetization, angle_deg, helicity, repeat, "
                                     "overload, pump_power]")
    p.add_argument("--sample", metavar="STACK",
                   help="sample stack, e.g. CoFeB(5)|Pt(3), CoFeB(5), YIG(3um)|Pt(5.5): decides the model, the "
                        "component and the literature values held fixed; without it every model parameter is fitted")
    p.add_argument("--free", action="append", metavar="NAME", help="fit a parameter the sample would hold fixed")
    p.add_argument("--reference-level", type=float, metavar="W",
                   help="pump power the signal is normalized to (default: the median of pump_power)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--transfer", help="measured h(t): CSV with time_fs, h on the data's step")
    src.add_argument("--detector", default="gap250", choices=sorted(analysis.DETECTORS),
                     help="detector model for h (default gap250)")
    p.add_argument("--model", choices=[*analysis.EOS_MODELS, "three-temperature"],
                   help="default: the sample's model, else spin-voltage; --mode moke: three-temperature (−ΔM/M) "
                        "or exp-offset (transient reflectance)")
    p.add_argument("--mode", choices=["eos", "moke"], default="eos",
                   help="eos: THz emission (default); moke: TR-MOKE, columns delay_fs, signal, kerr, state, "
                        "magnetization, repeat, overload, pump_power")
    p.add_argument("--static", action="append", metavar="Q=V±E",
                   help="--mode moke: static Kerr signal typed in, rotation=V±E and ellipticity=V±E (lock-in V)")
    p.add_argument("--run", metavar="UID", help="--mode moke: the static Kerr signals (and the live analysis's "
                                                "options) from this stored run")
    p.add_argument("--data-dir", help="with --run: where runs are stored (default $FEMTOSPIN_DATA or "
                                      "~/femtospin-data)")
    p.add_argument("--fix", action="append", metavar="NAME=VALUE", help="fix a fit parameter (repeatable)")
    p.add_argument("--component", choices=analysis.COMPONENTS,
                   help="component to fit (default: the sample's, else minus_angle, odd_M, odd_helicity or mean, "
                        "the first the conditions allow); an explicit one that the data cannot form is an error")
    p.add_argument("--probe-fwhm-fs", type=float, default=20.0, help="probe duration for the detector model")
    p.add_argument("--sweep-filter", metavar="lag_fs=…,order=…", help="a fly run's lock-in filter along the sweep "
                   "(lag_fs=…,order=…[,up_fraction=…,bin_fs=…], as `femtospin export` prints it), part of the model")
    p.add_argument("--json", metavar="OUT", help="write the result here")
    p.set_defaults(func=lambda a: _run(_analyze, a))

    s = subparsers.add_parser("fit-series", help="fit a series of scalar results (temperature, qwp, field, fluence)")
    s.add_argument("kind", choices=sorted(SERIES))
    s.add_argument("data", help="CSV file: temperature_K,amplitude | qwp_deg,signal | field_mT,signal,branch | "
                                "fluence_mJcm2,amplitude; stderr optional (docs/analysis.md)")
    s.add_argument("--json", metavar="OUT", help="write the result here")
    s.set_defaults(func=lambda a: _run(_fit_series, a))
