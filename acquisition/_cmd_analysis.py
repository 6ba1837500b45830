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

CONDITION_COLUMNS = analysis.CONDITIONS
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
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
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
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise InputError(f"--json {path}: directory {Path(path).resolve().parent} does not exist")


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


def _run(func, args) -> int:
    try:
        return func(args)
    except (InputError, ValueError) as exc:
        print(f"femtospin {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _analyze(args) -> int:
    _check_output(args.json)
    data = read_csv(args.waveforms, ("delay_fs", "signal"), CONDITION_COLUMNS)
    transfer = analysis.load_transfer(args.transfer) if args.transfer else None
    conditions = {k: data[k] for k in CONDITION_COLUMNS if k in data}
    try:
        result = analysis.analyze(data["delay_fs"], data["signal"], conditions or None, detector=args.detector,
                                  transfer=transfer, model=args.model, fix=parse_fix(args.fix),
                                  component=args.component, probe_fwhm_fs=args.probe_fwhm_fs)
    except ValueError as exc:
        raise InputError(f"{args.waveforms}: {exc}") from None
    payload = result.to_dict()
    if args.json:
        write_json_atomic(args.json, payload)
    print(f"component {result.component}, resolution {result.resolution_fs:.1f} fs, t0 {result.t0_fs:.2f} fs")
    if result.fit is not None:
        print(f"fit {result.fit.model}: redchi {result.fit.redchi:.3f}")
        for name, p in result.fit.params.items():
            print(f"  {name:20s} {p['value']:.6g} ± {p['stderr']:.2g}{'' if p['vary'] else ' (fixed)'}")
    if args.json:
        print(f"written: {args.json}")
    return 0


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
    print(f"fit {args.kind}: redchi {result.redchi:.3f}")
    for name, p in result.params.items():
        print(f"  {name:14s} {p['value']:.6g} ± {p['stderr']:.2g}")
    if "linearity" in result.extra:
        lin = result.extra["linearity"]
        print(f"  linearity: p = {lin['p_value']:.3g} ({'linear' if lin['linear'] else 'NOT linear'})")
    if args.json:
        print(f"written: {args.json}")
    return 0


def register(subparsers) -> None:
    """Add the ``analyze`` and ``fit-series`` subcommands to the ``femtospin`` parser."""
    p = subparsers.add_parser("analyze", help="deconvolve and fit a waveform file (long-format CSV)",
                              description="Columns delay_fs, signal and optionally magnetization, angle_deg, "
                                          "helicity. Writes the design.md analyze JSON with --json.")
    p.add_argument("waveforms", help="CSV file: delay_fs, signal[, magnetization, angle_deg, helicity]")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--transfer", help="measured h(t): CSV with time_fs, h on the data's step")
    src.add_argument("--detector", default="gap250", choices=sorted(analysis.DETECTORS),
                     help="detector model for h (default gap250)")
    p.add_argument("--model", default="spin-voltage", choices=["spin-voltage", "sse", "exp-offset", "none"])
    p.add_argument("--fix", action="append", metavar="NAME=VALUE", help="fix a fit parameter (repeatable)")
    p.add_argument("--component", choices=analysis.COMPONENTS,
                   help="component to fit (default: minus_angle, odd_M, odd_helicity or mean, the first the "
                        "conditions allow); an explicit one that the data cannot form is an error")
    p.add_argument("--probe-fwhm-fs", type=float, default=20.0, help="probe duration for the detector model")
    p.add_argument("--json", metavar="OUT", help="write the result here")
    p.set_defaults(func=lambda a: _run(_analyze, a))

    s = subparsers.add_parser("fit-series", help="fit a series of scalar results (temperature, qwp, field, fluence)")
    s.add_argument("kind", choices=sorted(SERIES))
    s.add_argument("data", help="CSV file, columns per design.md (stderr optional)")
    s.add_argument("--json", metavar="OUT", help="write the result here")
    s.set_defaults(func=lambda a: _run(_fit_series, a))
