"""``femtospin replay UID``: re-run a stored run's plan on the simulated table, or play its readings back.

``simulate`` (default) rebuilds the recorded plan with its recorded arguments,
sample, detection, pump and lock-in settings on the simulated table; the new run
is compared with the recorded one (overlay PNG, fitted parameters side by side).
``playback`` runs the same plan on devices serving the recorded readings
(:class:`femtospin.sim_devices.PlaybackTable`): the live analysis sees the
recorded data again and must reproduce the stored fit.
"""

from __future__ import annotations

import argparse
import inspect
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bluesky.utils import RunEngineInterrupted

from femtospin.devices import ROLES, Table, detection_of, laser_nominal_W, pump_of, table_blocks
from femtospin.plans import PARAMETER_OF_CONDITION, PLANS, PlanArgumentError, device_error
from femtospin.sim_devices import LIBRARY, Detection, PlaybackTable, Pump, apply_configuration, get_sample

from .._profiles import sim_profile
from .._session import Session, data_directory
from ..live._live import mean_waveforms
from ..storage._catalog import parse_catalog
from ..storage._describe import delay_field, fit_line, label
from ..storage._storage import StoredRun, load_run, run_id
from ._cmd_catalog import catalog_option, data_dir_option
from ._cmd_run import LIVE_TIMEOUT_S, plan_kwargs
from ._run_options import ARGS

MODES = ("simulate", "playback")
NOT_ARGUMENTS = ("md", "readables", "plan_name")  # plan parameters that are not measurement arguments


class ReplayError(ValueError):
    """The stored run cannot be replayed; nothing has run or been written."""


@dataclass
class Replay:
    """A prepared replay: the recorded run, the table to run on and the plan, validated."""

    run: StoredRun
    mode: str
    table: Table
    plan: object  # a Measurement


@dataclass
class ReplayResult:
    """What a replay produced, for printing and tests."""

    of: str  # the recorded run's uid
    mode: str
    uid: str  # the replay run's uid
    run_file: Path
    recorded_fits: list[dict]
    replay_fits: list[dict]
    waveforms: list[tuple[str, float, float]] = field(default_factory=list)  # (label, rms recorded, rms difference)
    figure: Path | None = None
    report: Path | None = None


def _configuration(run: StoredRun) -> dict:
    """Every device's recorded configuration: the baseline's (all devices), updated by the primary stream's."""
    conf = {}
    for stream in ("baseline", "primary"):
        if stream in run.streams:
            for device, values in run.config(stream).items():
                conf.setdefault(device, {}).update(values)
    return conf


def prepare(uid: str, data_dir=None, *, mode: str = "simulate", fast: bool | None = None,
            seed: int | None = None) -> Replay:
    """Load run ``uid``, build the table for ``mode`` and the recorded plan on it, validated, before anything runs.

    Parameters
    ----------
    uid : str
        The recorded run (a unique prefix is enough).
    data_dir : path, optional
        Where runs are stored (default $FEMTOSPIN_DATA or ~/femtospin-data).
    mode : {"simulate", "playback"}
    fast : bool, optional
        Simulate on the accelerated clock; default: as the recorded profile was (``sim:fast``).
    seed : int, optional
        Noise seed of the simulated table; default fresh noise, so the comparison is a real one.

    Raises
    ------
    ReplayError, PlanArgumentError, FileNotFoundError, ValueError
        No such run, a corrupt file, an unknown plan or sample, no recorded events,
        or recorded arguments the plan rejects.
    """
    if mode not in MODES:
        raise ReplayError(f"mode: {mode!r} is not one of {list(MODES)}")
    run = load_run(uid, data_directory(data_dir))
    for why in run.problems:
        print(f"warning: {why}", file=sys.stderr)
    start = run.start
    name = start.get("plan_name")
    if name not in PLANS:
        raise ReplayError(f"run {run.uid[:8]}: plan {name!r} is not one of the known plans {sorted(PLANS)}")
    if "primary" not in run.streams or not len(run.table("primary").get("seq_num", [])):
        raise ReplayError(f"run {run.uid[:8]}: no primary stream (no recorded events) to replay")
    configuration = _configuration(run)
    table = _playback_table(run, configuration) if mode == "playback" else _simulated_table(
        start, configuration, fast=fast, seed=seed)
    plan = _recorded_plan(PLANS[name], start, table, {"replay_of": run.uid, "replay_mode": mode})
    return Replay(run, mode, table, plan)


def _simulated_table(start: dict, configuration: dict, *, fast: bool | None, seed: int | None) -> Table:
    """The simulated table with the recorded sample, detection and pump, and the recorded lock-in settings."""
    sample = simulated_sample(start)
    recorded = detection_of(start)
    transfer = recorded.transfer
    detection = Detection(mode=recorded.mode, detector=recorded.crystal, probe_fwhm_fs=recorded.probe_fwhm_fs,
                          transfer=(tuple(transfer[0]), tuple(transfer[1])) if transfer is not None else None,
                          polarizer_deg=recorded.polarizer_deg)
    pump = pump_of(start)
    pump = Pump(fwhm_fs=pump.get("fwhm_fs", Pump.fwhm_fs), fluence_mJcm2=pump.get("fluence_mJcm2", Pump.fluence_mJcm2),
                power_W=laser_nominal_W(start) or Pump.power_W)
    if fast is None:
        fast = str(start.get("profile")).endswith(":fast")  # sim:fast, sim-moke:fast
    table = sim_profile(sample, fast=fast, seed=seed, detection=detection, pump=pump)
    # the lock-in settings shape the measurement (settling, noise bandwidth, overload); the stage calibration and
    # limits stay the simulator's own, since they describe the simulated table, not the recorded one
    apply_configuration({"lockin": table.lockin}, configuration)
    return table


def simulated_sample(start: dict) -> str:
    """The library sample that stands in for the recorded one: its name, else its stack (a real table's run
    records the sample as given with ``--sample``).

    Raises
    ------
    ReplayError
        Neither is a sample the simulator knows, naming both and what to do instead.
    """
    recorded = start.get("sample") or {}
    if not recorded.get("name") and not recorded.get("stack"):
        raise ReplayError("the run records no sample to simulate; `femtospin replay --playback` plays its "
                          "readings back instead")
    for candidate in filter(None, (recorded.get("name"), recorded.get("stack"))):
        try:
            return get_sample(candidate).name
        except ValueError:
            continue
    raise ReplayError(f"cannot simulate sample {recorded.get('name')!r} (stack {recorded.get('stack')!r}): the "
                      f"simulator knows {', '.join(LIBRARY)} and Bi(x)|Co(5); `femtospin replay --playback` plays "
                      "the recorded readings back instead")


def not_simulated(start: dict) -> list[str]:
    """What a simulated replay of this run cannot reproduce, one line each (nothing for a run on ``sim``)."""
    lines = []
    profile = start.get("profile")
    if profile not in ("sim", "sim:fast", None):
        lines.append(f"not simulated: the instruments of {profile}: the simulator's stage (its calibration, "
                     "limits, backlash), magnet, heater, mounts and power meter stand in for them; only the recorded "
                     "lock-in settings are applied")
    recorded = start.get("sample") or {}
    name = simulated_sample(start)
    if name != recorded.get("name"):
        lines.append(f"not simulated: sample {recorded.get('name')!r} itself; simulated as the library's {name} "
                     "(its literature parameters, not this sample's)")
    if not start.get("detection"):
        lines.append(f"not recorded, so not simulated: the detection; simulated with {Detection.detector}, "
                     f"probe {Detection.probe_fwhm_fs:g} fs")
    if not start.get("pump"):
        lines.append(f"not recorded, so not simulated: the pump; simulated with {Pump.fwhm_fs:g} fs, "
                     f"{Pump.fluence_mJcm2:g} mJ/cm²")
    return lines


def _playback_table(run: StoredRun, configuration: dict) -> Table:
    """A table of playback devices serving the run's recorded readings."""
    start = run.start
    delays = (start.get("plan_args") or {}).get("delays")
    if delays is None:  # e.g. find_time_zero: its fine grid follows from the data, not from its arguments
        raise ReplayError(f"{start['plan_name']}: playback needs the recorded delay grid (plan_args 'delays'), "
                          "which this run does not have")
    columns = run.table("primary")
    playback = PlaybackTable({k: v for k, v in columns.items() if k not in ("seq_num", "time")},
                             start.get("conditions") or [], configuration, delays=delays,
                             delay_field=delay_field(start))
    return Table(**playback.devices, metadata={"profile": "playback", **table_blocks(start)}, clock=playback.clock)


def _recorded_plan(plan, start: dict, table: Table, md: dict):
    """``plan`` called with the recorded arguments (``plan_args``), devices by role from ``table``.

    Arguments the command line does not offer (``static_kerr_V``) come from
    ``plan_args`` or, where the plan records them as metadata, from the start
    document; a plan passing ``**kwargs`` on to :func:`thz_emission` gets every
    recorded argument it does not name.
    """
    # runs stored before plans recorded their arguments under the parameter names used condition names
    recorded = {PARAMETER_OF_CONDITION.get(k, k): v for k, v in (start.get("plan_args") or {}).items()}
    args = argparse.Namespace(fine=None, **{k: v for k, v in recorded.items() if k in ARGS})
    if "delays" in recorded:
        args.delays = ("list", recorded["delays"])
    kwargs = plan_kwargs(plan, table, args)
    params = inspect.signature(plan).parameters
    for name, param in params.items():
        if name in kwargs or name in ROLES or name in NOT_ARGUMENTS or param.kind == param.VAR_KEYWORD:
            continue
        if name in recorded:
            kwargs[name] = recorded[name]
        elif name in start:
            kwargs[name] = start[name]
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs.update({k: v for k, v in recorded.items() if k not in kwargs and k not in params})
    return plan(**kwargs, md=md)


def run_replay(replay: Replay, data_dir=None, *, out_dir=None, progress: bool = False, catalog=None) -> ReplayResult:
    """Run a prepared replay into ``data_dir`` with the live analysis, then compare it with the recorded run."""
    session = Session(replay.table, data_dir, progress=progress, live=True, report_dir=out_dir, catalog=catalog)
    (uid,) = session.run(replay.plan)
    if session.live.active and not session.live.wait(LIVE_TIMEOUT_S):
        raise RuntimeError(f"the live fit of run {uid} did not finish within {LIVE_TIMEOUT_S:g} s")
    new = load_run(uid, session.data_dir)
    recorded = replay.run
    result = ReplayResult(recorded.uid, replay.mode, uid, new.path, recorded.fits(), new.fits(),
                          report=session.live.state.report if session.live.active else None)
    waves = [_waveforms(recorded), _waveforms(new)]
    for key, (d, x) in waves[0].items():
        if key in waves[1]:
            d2, x2 = waves[1][key]
            diff = x - np.interp(d, d2, x2)  # a real run's encoder grid need not match the simulator's
            result.waveforms.append((label(dict(zip(_conditions(recorded.start), key))) or "all",
                                     float(np.sqrt(np.mean(x**2))), float(np.sqrt(np.mean(diff**2)))))
    result.figure = _overlay(result, waves, _conditions(recorded.start),
                             Path(out_dir) if out_dir is not None else session.data_dir)
    return result


def _conditions(start: dict) -> list[str]:
    return [c for c in start.get("conditions") or [] if c != "repeat"]  # repeats are averaged


def _waveforms(run: StoredRun) -> dict:
    columns = run.table("primary")
    conds = _conditions(run.start)
    rows = {"delay": columns[delay_field(run.start)], "signal": columns["lockin_x"], **{c: columns[c] for c in conds}}
    return mean_waveforms(rows, conds)


def _fitted(fit: dict) -> bool:
    return bool(fit.get("fit", {}).get("params"))


def fit_pairs(result: ReplayResult) -> list[tuple[dict, dict]]:
    """(recorded, replayed) fits of the same group, where both were fitted."""
    replayed = {_group_key(f["group"]): f for f in result.replay_fits}
    pairs = [(a, replayed.get(_group_key(a["group"]))) for a in result.recorded_fits]
    return [(a, b) for a, b in pairs if _fitted(a) and b is not None and _fitted(b)]


def _overlay(result: ReplayResult, waves: list[dict], conds: list[str], directory: Path) -> Path:
    """Recorded against replayed: mean waveforms per condition and, when both runs were fitted, the fitted component."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pairs = fit_pairs(result)
    fig = Figure(figsize=(11 if pairs else 6, 4.5), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2 if pairs else 1, squeeze=False)[0]
    for i, (key, (d, x)) in enumerate(waves[0].items()):
        name = label(dict(zip(conds, key))) or "signal"
        axes[0].plot(d, x * 1e3, color=f"C{i % 10}", lw=1, label=f"{name} recorded")
        if key in waves[1]:
            d2, x2 = waves[1][key]
            axes[0].plot(d2, x2 * 1e3, color=f"C{i % 10}", lw=1, ls="--", label=f"{name} {result.mode}")
    axes[0].set(xlabel="delay (fs)", ylabel="lock-in X (mV)",
                title=f"waveforms: recorded (solid), {result.mode} (dashed)")
    if len(waves[0]) <= 6:
        axes[0].legend(fontsize=6)
    for i, (a, b) in enumerate(pairs):
        for fit, ls, who in ((a, "-", "recorded"), (b, "--", result.mode)):
            comp = fit["components"][fit["component"]]
            axes[1].plot(comp["delay_fs"], np.asarray(comp["value"], float) * 1e3, color=f"C{i % 10}", ls=ls,
                         lw=1, label=f"{label(fit['group']) or fit['component']} {who}")
        axes[1].set(xlabel="delay (fs)", ylabel="signal (mV)", title=f"fitted component {a['component']}")
        axes[1].legend(fontsize=6)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"replay_{result.uid[:8]}_of_{result.of[:8]}.png"
    fig.savefig(path, dpi=110)
    return path


def comparison(result: ReplayResult) -> list[str]:
    """The printed comparison: each group's fits, then the parameters side by side, or the waveforms only."""
    lines = []
    fitted = fit_pairs(result)
    for a, b in fitted:
        lines.append(fit_line(a["group"], a["component"], a["fit"]["params"]).replace("fit", "fit recorded", 1))
        lines.append(fit_line(b["group"], b["component"], b["fit"]["params"]).replace("fit", f"fit {result.mode}", 1))
        lines.append(f"  {'parameter':20s} {'recorded':>22s} {result.mode:>22s} {'difference':>22s}")
        for name, p in a["fit"]["params"].items():
            q = b["fit"]["params"].get(name)
            if q is None or not p["vary"]:
                continue
            diff = q["value"] - p["value"]
            sigma = math.hypot(p["stderr"] or 0.0, q["stderr"] or 0.0)
            note = f" ({abs(diff) / sigma:.1f}σ)" if sigma > 0 and result.mode == "simulate" else ""
            lines.append(f"  {name:20s} {_pm(p):>22s} {_pm(q):>22s} {f'{diff:+.3g}{note}':>22s}")
    if not fitted:
        why = "the recorded run has no stored fit" if not any(_fitted(f) for f in result.recorded_fits) else \
            f"the {result.mode} run has no fit"
        lines.append(f"no fit to compare ({why}): comparing the raw waveforms only")
    for name, rms, diff in result.waveforms:
        lines.append(f"waveform {name}: rms {rms:.3g} V, rms of recorded − {result.mode} {diff:.3g} V")
    if result.mode == "playback" and fitted:
        worst = max_fit_difference(result)
        lines.append(f"playback vs stored fit: largest relative difference of a parameter {worst:.2g}"
                     + (" (reproduced)" if worst <= 1e-9 else " (NOT reproduced)"))
    return lines


def _group_key(group: dict) -> tuple:
    return tuple(sorted(group.items()))


def max_fit_difference(result: ReplayResult) -> float:
    """Largest |replay − recorded| / max(|recorded|, tiny) over every fitted parameter of every group."""
    worst = 0.0
    for a, b in fit_pairs(result):
        for name, p in a["fit"]["params"].items():
            q = b["fit"]["params"][name]
            worst = max(worst, abs(q["value"] - p["value"]) / max(abs(p["value"]), 1e-300))
    return worst


def _pm(p: dict) -> str:
    return f"{p['value']:.5g} ± {p['stderr']:.2g}" if p["stderr"] is not None else f"{p['value']:.5g}"


def register(sub) -> None:
    p = sub.add_parser("replay", help="re-run a stored run's plan on the simulated table, or play its data back",
                       description="Re-run the recorded plan with its recorded arguments and sample on the simulated "
                                   "table and compare (overlay PNG, fitted parameters side by side), or with "
                                   "--playback run it on devices serving the recorded readings, which reproduces "
                                   "the stored fit.")
    p.add_argument("uid", type=run_id, help="the stored run (a unique uid prefix is enough)")
    data_dir_option(p)
    catalog_option(p)
    p.add_argument("--playback", action="store_true", help="serve the recorded readings instead of simulating")
    p.add_argument("--fast", action="store_true",
                   help="accelerated simulated clock (default: the recorded profile's clock, sim:fast → fast)")
    p.add_argument("--seed", type=int, help="noise seed of the simulated table (default: fresh noise)")
    p.add_argument("--out", help="where the overlay and report PNGs go (default: the data directory)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_replay)


def _replay(args) -> int:
    mode = "playback" if args.playback else "simulate"
    try:
        catalog = parse_catalog(args.catalog, data_directory(args.data_dir))
        replay = prepare(args.uid, args.data_dir, mode=mode, fast=True if args.fast else None, seed=args.seed)
    except (ReplayError, PlanArgumentError, FileNotFoundError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    start = replay.run.start
    print(f"replay of {replay.run.uid} ({start['plan_name']}, {(start.get('sample') or {}).get('name', '?')}): "
          f"{mode}" + (" on the accelerated clock" if replay.table.clock.accelerated and mode == "simulate" else ""))
    if mode == "simulate":
        for line in not_simulated(start):
            print(line)
    try:
        result = run_replay(replay, args.data_dir, out_dir=args.out, progress=not args.no_progress, catalog=catalog)
    except RunEngineInterrupted:
        print("interrupted: replay aborted, table left safe", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 — say what failed (a playback request off the record names it)
        print(f"replay failed: {device_error(exc)}", file=sys.stderr)
        return 1
    print(f"run uid: {result.uid}")
    print(f"data:    {result.run_file}")
    print("\n".join(comparison(result)))
    print(f"overlay: {result.figure}")
    if result.report is not None:
        print(f"report:  {result.report}")
    return 0
