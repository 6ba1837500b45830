"""The ``femtospin`` command line.

Only the module of the command being run is imported: the commands' dependencies (bluesky,
ophyd, lmfit, tiled, the queue server) cost seconds, and ``femtospin --help`` or ``femtospin ls``
should not wait for the ones they do not use.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import re
import signal
import sys
import threading
import warnings
import weakref

# command: (module that registers it, one-line help for the command list)
COMMANDS = {
    "demo": (None, "measure CoFeB(5)|Pt(3) at ±M × 0°/180° on the simulated table, fitted live"),
    "run": ("._run_options", "run a measurement plan on a table"),
    "analyze": ("._cmd_analysis", "deconvolve and fit a waveform file (long-format CSV)"),
    "fit-series": ("._cmd_analysis", "fit a series of scalar results (temperature, qwp, field, fluence)"),
    "ls": ("._cmd_catalog", "list stored runs (filter by sample, plan, date)"),
    "show": ("._cmd_catalog", "a run's metadata, conditions, fit results and report"),
    "export": ("._cmd_catalog", "write a run to CSV (analyze format), netCDF or HDF5"),
    "replay": ("._cmd_replay", "re-run a stored run's plan on the simulated table, or play its data back"),
    "serve": ("..remote._serve", "queue server for remote clients (bluesky-queueserver)"),
}

# commands that need an optional part of the install: (extra, the modules it provides)
EXTRAS = {"serve": ("queue", ("bluesky_queueserver", "bluesky_queueserver_api", "redis"))}


def missing_extra(command: str) -> str | None:
    """A one-line error if ``command`` needs an extra that is not installed, else None."""
    if command not in EXTRAS:
        return None
    extra, modules = EXTRAS[command]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return (f"error: `femtospin {command}` needs the {extra} extra ({', '.join(missing)} not installed): "
            f"pip install 'femtospin[{extra}]'")


def signal_label(signum: int | None) -> str:
    """``Ctrl-C`` for SIGINT, else the signal's name."""
    if signum == signal.SIGINT:
        return "Ctrl-C"
    return signal.Signals(signum).name if signum is not None else "an interruption"


class _Tolerant:
    """A stream that drops writes its terminal can no longer take (after SIGHUP the tty may be gone)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self):
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):
        return getattr(self._stream, name)


def tolerant_streams() -> None:
    if not isinstance(sys.stdout, _Tolerant):
        sys.stdout, sys.stderr = _Tolerant(sys.stdout), _Tolerant(sys.stderr)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP outside a run (libraries loading, the live fit finishing): Ctrl-C's path, its own name.

    During a run the session's own handlers take over (``_signals``) and abort it through its cleanup.
    """

    def __init__(self, signum: int):
        super().__init__(signal_label(signum))
        self.signum = signum


def _interrupt(signum, frame):
    if signum == signal.SIGHUP:
        tolerant_streams()
    raise Interrupted(signum)


def interrupted_by(exc: KeyboardInterrupt) -> tuple[str, int]:
    """The label and exit code (128 + the signal's number) of an interruption."""
    signum = getattr(exc, "signum", signal.SIGINT)
    return signal_label(signum), 128 + signum


# Workers that compute beside the command (the live analysis): each has close(timeout) -> stopped. The command
# line closes them before the process ends, since a thread still inside compiled code when the interpreter
# ends aborts the process ("terminate called without an active exception", exit 134).
background: weakref.WeakSet = weakref.WeakSet()
CLOSE_TIMEOUT_S = 10.0


def _close_background() -> bool:
    """Ask every background worker to stop; True when all have."""
    return all([worker.close(CLOSE_TIMEOUT_S) for worker in list(background)])


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line naming the argument (the full usage is in ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _demo(args) -> int:
    from bluesky.utils import RunEngineInterrupted

    from ..storage._catalog import parse_catalog
    from ..storage._storage import data_directory
    from . import _cmd_run
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


def _register_demo(sub) -> None:
    from . import _cmd_catalog

    demo = sub.add_parser("demo", help=COMMANDS["demo"][1])
    demo.add_argument("--fast", action="store_true", help="accelerated simulated clock (skips every wait)")
    _cmd_catalog.data_dir_option(demo)
    _cmd_catalog.catalog_option(demo)
    demo.add_argument("--out", help="where the report PNG goes (default: the data directory)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with ``command`` (default: every command) fully registered and the others as stubs."""
    parser = OneLineParser(prog="femtospin", description="Ultrafast spin-transport measurements.")
    sub = parser.add_subparsers(dest="command", required=True)
    wanted = [command] if command in COMMANDS else list(COMMANDS) if command is None else []
    modules = dict.fromkeys(COMMANDS[c][0] for c in wanted)
    for module in modules:
        if module is None:
            _register_demo(sub)
        else:
            importlib.import_module(module, __package__).register(sub)
    for command_parser in sub.choices.values():  # every command takes --debug, for the net in _guarded
        if "--debug" not in command_parser._option_string_actions and command_parser._subparsers is None:
            command_parser.add_argument("--debug", action="store_true",
                                        help="show tracebacks and library logs of a failure")
    for name, (_, text) in COMMANDS.items():
        if name not in sub.choices:  # listed in the help, never parsed: a stub costs nothing to import
            sub.add_parser(name, help=text, add_help=False)
    return parser


def _command(argv: list[str]) -> str | None:
    """The command named on the line (the first word that is not an option), or "" for none."""
    return next((a for a in argv if not a.startswith("-")), "")


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
    """Library log records and warnings (bluesky logs every aborted run with its traceback) only with ``--debug``.

    Without a handler Python prints warnings and errors with their tracebacks to
    stderr; a null handler on the root keeps them from the user, who gets one line.
    """
    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.WARNING)
        return
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())
    warnings.simplefilter("ignore")  # numerical libraries' warnings: femtospin prints what they mean for the result


def os_error(exc: OSError) -> str:
    """``[Errno 28] No space left on device: '/data/x.jsonl'`` → ``/data/x.jsonl: no space left on device``."""
    what = (exc.strerror or str(exc)).rstrip(".")
    what = what[:1].lower() + what[1:]
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' → '.join(names)}: {what}" if names else what


def _guarded(args) -> int:
    """The command, with any failure it did not report itself as one line (``--debug``: the traceback).

    Commands report what they expect (bad input, an unsafe table, an aborted
    run); this is the net under them, so that no traceback reaches a user.
    """
    name = f"femtospin {args.command}"
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        label, code = interrupted_by(exc)
        print(f"{name}: interrupted by {label}", file=sys.stderr)
        return code
    except Exception as exc:  # noqa: BLE001 — the net: one line, or the traceback with --debug
        if args.debug:
            raise
        if isinstance(exc, OSError):
            print(f"{name}: error: {os_error(exc)}", file=sys.stderr)
            return 2
        if isinstance(exc, UnicodeDecodeError):
            print(f"{name}: error: a file is not UTF-8 text ({exc.reason} at byte {exc.start})", file=sys.stderr)
            return 2
        text = str(exc).splitlines()[0] if str(exc) else ""
        print(f"{name}: internal error: {type(exc).__name__}{': ' + text if text else ''} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = _attach_negative_values(sys.argv[1:] if argv is None else list(argv))
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _interrupt)
    try:
        args = build_parser(_command(argv)).parse_args(argv)
    except KeyboardInterrupt as exc:  # while the command's libraries load: nothing has started
        label, code = interrupted_by(exc)
        print(f"femtospin: interrupted by {label} before anything started", file=sys.stderr)
        return code
    if (error := missing_extra(args.command)) is not None:
        print(error, file=sys.stderr)
        return 2
    args.debug = getattr(args, "debug", False)
    _library_logs(args.debug)
    try:
        return _guarded(args)
    finally:
        _close_background()


def entry() -> None:
    """The ``femtospin`` program: :func:`main`, then an exit no background worker can turn into an abort."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    if not _close_background():  # one is still inside a fit: end without waiting for it at shutdown
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    sys.exit(main())
