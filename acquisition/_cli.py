"""The ``femtospin`` command line."""

from __future__ import annotations

import argparse
import re
import sys

from . import _cmd_analysis, _cmd_catalog, _cmd_replay, _cmd_run, _serve
from ._catalog import parse_catalog
from ._session import data_directory


def _demo(args) -> int:
    from ._demo import run_demo, summary

    try:
        catalog = parse_catalog(args.catalog, data_directory(args.data_dir))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = run_demo(fast=args.fast, data_dir=args.data_dir, out_dir=args.out, progress=not args.no_progress,
                      catalog=catalog)
    print(summary(result))
    if catalog is not None:
        print(f"catalog:    ingested in the background; `femtospin show {result.uid[:8]}` once it is in")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="femtospin", description="Ultrafast spin-transport measurements.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="measure CoFeB(5)|Pt(3) at ±M × 0°/180° on the simulated table, fitted live")
    demo.add_argument("--fast", action="store_true", help="accelerated simulated clock (skips every wait)")
    _cmd_catalog.data_dir_option(demo)
    _cmd_catalog.catalog_option(demo)
    demo.add_argument("--out", help="where the report PNG goes (default: the data directory)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_attach_negative_values(sys.argv[1:] if argv is None else list(argv)))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
