"""The ``femtospin`` command line."""

from __future__ import annotations

import argparse
import logging
import re
import sys

from . import _cmd_analysis, _cmd_catalog, _cmd_replay, _cmd_run, _serve
from ._catalog import parse_catalog
from ._session import data_directory


def _demo(args) -> int:
    from bluesky.utils import RunEngineInterrupted

    from ._demo import demo_session, measure_demo, summary

    try:
        catalog = parse_catalog(args.catalog, data_directory(args.data_dir))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    session, plan = demo_session(fast=args.fast, data_dir=args.data_dir, out_dir=args.out,
                                 progress=not args.no_progress, catalog=catalog)
    try:
        result = measure_demo(session, plan)
    except RunEngineInterrupted:
        return _cmd_run.interrupted(session)
    except Exception as exc:  # noqa: BLE001 — one line per failure, as `femtospin run`
        return _cmd_run.failed(session, exc, args.debug)
    print(summary(result))
    if catalog is not None:
        print(f"catalog:    ingested in the background; `femtospin show {result.uid[:8]}` once it is in")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _cmd_run.OneLineParser(prog="femtospin", description="Ultrafast spin-transport measurements.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="measure CoFeB(5)|Pt(3) at ±M × 0°/180° on the simulated table, fitted live")
    demo.add_argument("--fast", action="store_true", help="accelerated simulated clock (skips every wait)")
    _cmd_catalog.data_dir_option(demo)
    _cmd_catalog.catalog_option(demo)
    demo.add_argument("--out", help="where the report PNG goes (default: the data directory)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    _cmd_run.debug_option(demo)
    demo.set_defaults(func=_demo)
    _cmd_run.register(sub)
    _cmd_analysis.register(sub)
    _cmd_catalog.register(sub)
    _cmd_replay.register(sub)
    _serve.register(sub)
    return parser


def _attach_negative_values(argv: list[str]) -> list[str]:
    """``--delays -500:1500:20`` → ``--delays=-500:1500:20``: argparse would take the value for an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i].startswith("--") and "=" not in argv[i] and i + 1 < len(argv) and re.match(r"^-[\d.]", argv[i + 1]):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _library_logs(debug: bool) -> None:
    """Library log records (bluesky logs every aborted run with its traceback) only with ``--debug``.

    Without a handler Python prints warnings and errors with their tracebacks to
    stderr; a null handler on the root keeps them from the user, who gets one line.
    """
    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.WARNING)
    elif not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_attach_negative_values(sys.argv[1:] if argv is None else list(argv)))
    _library_logs(getattr(args, "debug", False))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
