"""``femtospin ls``, ``show UID`` and ``export UID``: browse the catalog of stored runs.

Each command first lets the ingest service catch up (:func:`wait_synced`), so the
runs just measured are listed, and names any local run file it cannot read.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np

from ..storage._catalog import CatalogError, connect, parse_catalog, probe, wait_synced
from ..storage._describe import delay_field, fit_brief, fit_line
from ..storage._storage import ANALYSIS_INFIX, checked_uid, data_directory, final_fits, read_documents, run_id

FORMATS = {"csv": ".csv", "nc": ".nc", "h5": ".h5"}
EXPORTED_READINGS = {"overload": "lockin_overload", "pump_power": "power_meter_power"}  # analyze column: event field


class UsageError(ValueError):
    """Bad input: exit 2 before anything is written."""


def catalog_option(parser) -> None:
    parser.add_argument("--catalog", metavar="URI",
                        help="'embedded' (default: a Tiled server over DATA_DIR/catalog), 'off', or the URI of "
                             "a lab's Tiled server; default $FEMTOSPIN_CATALOG")


def data_dir_option(parser) -> None:
    parser.add_argument("--data-dir", help="where runs are stored (default $FEMTOSPIN_DATA or ~/femtospin-data)")


def open_catalog(args, *, metadata_only: bool = False):
    """The catalog client for ``args.data_dir``/``args.catalog``, after the ingest service caught up."""
    data_dir = data_directory(args.data_dir)
    try:
        target = parse_catalog(args.catalog, data_dir)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if target is None:
        raise UsageError("--catalog off: these commands read the catalog")
    if not data_dir.is_dir():
        raise UsageError(f"no data directory {data_dir}")
    probe(target)  # a lab server that does not answer: one line now, and no service left waiting on it
    # the Tiled client's own retries (10 attempts over up to 45 s) would hide a server that went away meanwhile
    os.environ.setdefault("TILED_RETRY_ATTEMPTS", "2")
    os.environ.setdefault("TILED_RETRY_TIMEOUT", "10")
    status = wait_synced(target)
    for why in sorted(status.get("failed", {}).values()):
        print(f"warning: not in the catalog: {why}", file=sys.stderr)
    for why in status.get("damaged", []):
        print(f"warning: {why}", file=sys.stderr)
    if status.get("error"):
        print(f"warning: the catalog is unreachable ({status['error']}); {len(status['pending'])} run file(s) "
              "wait to be ingested", file=sys.stderr)
    return connect(target, status, metadata_only=metadata_only)


def _measured(client):
    from tiled.queries import KeyPresent

    return client.search(KeyPresent("start.analysis_of", exists=False))


def _date(text: str, end: bool = False) -> float:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if end and len(text) <= 10:  # a whole day
        when = when.replace(hour=23, minute=59, second=59, microsecond=999999)
    return when.timestamp()


def find_run(client, uid: str):
    """The measured run ``uid`` (a unique prefix is enough) in the catalog."""
    from tiled.queries import Like

    runs = _measured(client)
    if uid in runs:
        return runs[uid]
    matches = list(runs.search(Like("start.uid", f"{uid}%")).keys()) if len(uid) >= 4 else []
    if not matches:
        raise UsageError(f"no run {uid!r} in the catalog" + (" (give at least 4 characters)" if len(uid) < 4 else ""))
    if len(matches) > 1:
        raise UsageError(f"run id {uid!r} is ambiguous: {', '.join(m[:8] for m in matches)}")
    return runs[matches[0]]


def stored_fits(client, uid: str) -> tuple[list[dict], str | None]:
    """The final fits of run ``uid`` from its newest analysis run, and that run's report path."""
    from tiled.queries import Key

    analyses = sorted(client.search(Key("start.analysis_of") == uid).values(),
                      key=lambda r: r.metadata["start"]["time"])
    if not analyses:
        return [], None
    newest = analyses[-1]
    report = newest.metadata["start"].get("report")
    if "fit" not in newest:  # a single-delay series: no waveform fits
        return [], report
    fit = newest["fit"].read()
    return final_fits({k: fit[k].values for k in fit.data_vars}), report


def stored_series(client, uid: str) -> dict | None:
    """The series result of run ``uid`` from its newest analysis run (see ``acquisition/live/_live_series.py``)."""
    from tiled.queries import Key

    analyses = sorted(client.search(Key("start.analysis_of") == uid).values(),
                      key=lambda r: r.metadata["start"]["time"])
    if not analyses or "series" not in analyses[-1]:
        return None
    return json.loads(str(analyses[-1]["series"].read()["result_json"].values[-1]))


# --- ls -----------------------------------------------------------------------------------------------------------


def _ls(args) -> int:
    from tiled.queries import Key, Like

    since = _date(args.since) if args.since else None
    until = _date(args.until, end=True) if args.until else None
    runs = _measured(open_catalog(args, metadata_only=True))
    if args.sample:
        runs = runs.search(Like("start.sample.name", f"%{args.sample}%"))
    if args.plan:
        runs = runs.search(Key("start.plan_name") == args.plan)
    if since is not None:
        runs = runs.search(Key("start.time") >= since)
    if until is not None:
        runs = runs.search(Key("start.time") <= until)
    rows = sorted(((r.metadata["start"], r.metadata.get("stop") or {}) for r in runs.values()),
                  key=lambda sd: sd[0]["time"])
    data_dir = data_directory(args.data_dir)
    table = [("run", "started", "plan", "sample", "points", "status", "fit", "conditions")]
    for start, stop in rows:
        when = datetime.fromtimestamp(start["time"]).strftime("%Y-%m-%d %H:%M")
        points = (stop.get("num_events") or {}).get("primary", 0) if stop else "?"  # counted by the stop document
        tags = ", ".join(f"{c}" for c in start.get("conditions", []) if c != "repeat")
        if start.get("replay_of"):
            tags += f"  ({start.get('replay_mode')} replay of {start['replay_of'][:8]})"
        table.append((start["uid"][:8], when, start.get("plan_name", "?"), (start.get("sample") or {}).get("name", "?"),
                      str(points), stop.get("exit_status", "no stop") if stop else "no stop",
                      fit_brief(local_fits(data_dir, start["uid"])), tags))
    if rows:
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
        right = {4}  # points
        for r in table:
            cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
            print("  ".join([*cells, r[-1]]).rstrip())
    print(f"{len(rows)} run(s)", file=sys.stderr)
    return 0


def local_fits(data_dir: Path, uid: str) -> list[dict]:
    """The final fits of run ``uid`` from its newest analysis file in ``data_dir`` (the files the catalog is fed
    from, read without asking the catalog for data); [] when there is none here, e.g. a run from another
    computer in a lab's catalog."""
    try:
        uid = checked_uid(uid)  # the file name is built from it
    except ValueError:
        return []
    newest, fits = -1.0, []
    for path in data_dir.glob(f"{uid}{ANALYSIS_INFIX}*.jsonl"):
        try:
            docs, _ = read_documents(path)
        except (OSError, ValueError):
            continue
        start = next((d for n, d in docs if n == "start"), {})
        fit = {d["uid"] for n, d in docs if n == "descriptor" and d.get("name") == "fit"}
        events = [d["data"] for n, d in docs if n == "event" and d.get("descriptor") in fit]
        if start.get("time", 0) > newest and events:
            newest = start.get("time", 0)
            fits = final_fits({k: [e.get(k) for e in events] for k in events[0]})
    return fits


# --- show ---------------------------------------------------------------------------------------------------------


def _show(args) -> int:
    client = open_catalog(args)
    run = find_run(client, args.uid)
    start, stop = run.metadata["start"], run.metadata.get("stop") or {}
    sample = start.get("sample") or {}
    began = datetime.fromtimestamp(start["time"])
    ended = f" – {datetime.fromtimestamp(stop['time']):%H:%M:%S}" if stop else ""
    lines = [
        f"run         {start['uid']}",
        f"plan        {start.get('plan_name')}  {_text(start.get('plan_args', {}))}",
        f"sample      {sample.get('name')}  ({sample.get('stack')}; substrate {sample.get('substrate')})",
        f"time        {began:%Y-%m-%d %H:%M:%S}{ended}  {stop.get('exit_status', 'no stop document')}"
        + (f" ({stop['reason']})" if stop.get("reason") else ""),
        f"operator    {start.get('operator')}   profile {start.get('profile')}",
        *([f"note        {start['note']}"] if start.get("note") else []),
        f"detection   {_text(start.get('detection', {}))}",
        f"points      {', '.join(f'{k}: {v}' for k, v in (stop.get('num_events') or {}).items())}",
    ]
    values = start.get("condition_values") or {}
    lines.append("conditions  " + ("; ".join(f"{c} = {', '.join(map(str, values.get(c, [])))}"
                                            for c in start.get("conditions", [])) or "none"))
    if start.get("replay_of"):
        lines.append(f"replay of   {start['replay_of']} ({start.get('replay_mode')})")
    fits, report = stored_fits(client, start["uid"])
    for f in fits:
        fitted = f.get("fit") is not None
        line = fit_line(f["group"], f.get("component"), f["fit"]["params"] if fitted else None, f.get("error", ""))
        lines.append(line + (f"  redchi={f['fit']['redchi']:.3g}" if fitted else ""))
    if not fits:
        lines.append("fit         none stored")
    if report:
        lines.append(f"report      {report}" + ("" if Path(report).exists() else "  (not written)"))
    print("\n".join(lines))
    return 0


def _text(d: dict) -> str:
    """A metadata dict on one line, as written (``…``, ``σ``, ``|``; JSON's ``\\u2026`` escapes are for files)."""
    return json.dumps(_brief(d), ensure_ascii=False)


def _brief(d: dict) -> dict:
    """A metadata dict with long lists shortened, for one line of ``show``."""
    out = {}
    for k, v in d.items():
        if isinstance(v, list) and len(v) > 6:
            out[k] = f"{len(v)} values {v[0]}…{v[-1]}"
        elif isinstance(v, dict):
            out[k] = _brief(v)
        else:
            out[k] = v
    return out


# --- export -------------------------------------------------------------------------------------------------------


def waveform_table(start: dict, primary) -> dict[str, np.ndarray]:
    """A run's primary stream in the ``femtospin analyze`` long format: delay_fs, signal, conditions,
    and the lock-in overload flag and pump power where the run recorded them."""
    table = {"delay_fs": np.asarray(primary[delay_field(start)]), "signal": np.asarray(primary["lockin_x"])}
    for c in start.get("conditions", []):
        table[c] = np.asarray(primary[c])
    for column, field in EXPORTED_READINGS.items():
        if field in primary:
            table[column] = np.asarray(primary[field]).astype(int if column == "overload" else float)
    return table


def _export(args) -> int:
    out = Path(args.out) if args.out else Path(f"{args.uid[:8]}{FORMATS[args.format]}")
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; choose --out or add --force")
    if args.series and args.format != "csv":
        raise UsageError("--series writes the fit-series CSV; leave --format at csv")
    client = open_catalog(args)
    run = find_run(client, args.uid)
    start = run.metadata["start"]
    if args.series:
        return _export_series(client, start, out)
    if "primary" not in run:
        raise UsageError(f"run {start['uid'][:8]} has no primary stream to export")
    primary = run["primary"].read()
    fits, _ = stored_fits(client, start["uid"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = exclusive_temp(out)  # a failed export never leaves a half file under the real name
    try:
        WRITERS[args.format](tmp, run, primary, fits)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)  # replaces a link planted at ``out`` itself, never what it points to
    print(f"exported run {start['uid'][:8]} ({primary.sizes.get('time', 0)} points) to {out}")
    sweep = (start.get("fly") or {}).get("filter")
    if sweep and args.format == "csv":  # the file cannot carry it, and a fit without it lags and is too sharp
        spec = ",".join(f"{k}={v:g}" for k, v in sweep.items())
        print(f"a fly run: analyze it with the lock-in filter along the sweep, `femtospin analyze {out} "
              f"--sweep-filter {spec}`")
    return 0


def _export_series(client, start: dict, out: Path) -> int:
    """The series points exactly as the live analysis fitted them, in the columns ``fit-series`` reads."""
    series = stored_series(client, start["uid"])
    if series is None:
        raise UsageError(f"run {start['uid'][:8]} ({start.get('plan_name')}) has no series result: only "
                         "temperature_series, fluence_series, field_loop and qwp_sweep runs have one")
    points = series["points"]
    columns = list(points)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = exclusive_temp(out)
    try:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(zip(*[points[c] for c in columns]))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    print(f"exported the {series['kind']} series of run {start['uid'][:8]} ({len(points[columns[0]])} points) to "
          f"{out}; `femtospin fit-series {series['kind']} {out}` fits it again")
    return 0


def exclusive_temp(target: Path) -> Path:
    """A new empty file beside ``target``, created exclusively (``O_EXCL``, a random name), to be renamed onto it.

    A fixed name (``OUT.part``) could be a link planted by someone else, and writing
    through it would overwrite the link's target. Its mode is that of a new file
    (0666 less the umask), not :func:`tempfile.mkstemp`'s 0600.
    """
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
    finally:
        os.close(fd)
    return Path(name)


def _write_csv(path: Path, run, primary, fits) -> None:
    table = waveform_table(run.metadata["start"], primary)
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(table) + "\n")
        for row in zip(*(v.tolist() for v in table.values())):
            f.write(",".join(repr(v) if isinstance(v, float) else str(v) for v in row) + "\n")


def _netcdf_safe(ds):
    """netCDF has no booleans: store them as 0/1 bytes."""
    return ds.assign({k: v.astype("int8") for k, v in ds.data_vars.items() if v.dtype == bool})


CONDITION_UNITS = {"angle_deg": "deg", "temperature_K": "K", "spot_mm": "mm", "fluence_mJcm2": "mJ/cm²",
                   "pump_qwp_deg": "deg", "magnet_field": "mT"}


def gridded(start: dict, primary, data_keys: dict):
    """The primary stream on a grid: one dimension per condition (sorted values) and the planned delay last, each
    variable with its units; None when conditions × delay do not identify every point (a field loop's two
    branches), which then stays along time.

    The delay coordinate is the planned grid (``plan_args["delays"]``); each point's encoder readback is kept
    as the delay field's variable (1 µm of stage is 6.7 fs, so readbacks are not the plan's values).
    """
    import xarray as xr

    field = delay_field(start)
    conds = [c for c in start.get("conditions", []) if c in primary and c != field]
    readback = np.asarray(primary[field].values, float)
    planned = (start.get("plan_args") or {}).get("delays")
    if field == "stage_delay" and planned:
        grid = np.unique(np.asarray(planned, float))
        index = _nearest(grid, readback)
    else:
        grid, index = np.unique(np.round(readback, 1), return_inverse=True)
    values = {c: np.unique(primary[c].values) for c in conds}
    shape = (*(values[c].size for c in conds), grid.size)
    cell = np.ravel_multi_index((*(np.searchsorted(values[c], primary[c].values) for c in conds), index), shape)
    if np.unique(cell).size != cell.size:
        return None
    dims = (*conds, "delay_fs")
    out = {}
    for name, var in [*primary.data_vars.items(), ("time", primary["time"])]:
        if name in conds or var.ndim != 1:
            continue
        column = np.asarray(var.values)
        if column.dtype.kind not in "biuf":
            continue
        array = np.full(shape, np.nan)
        array.flat[cell] = column.astype(float)  # a cell never measured is NaN
        units = (data_keys.get(name) or {}).get("units") or ("s" if name == "time" else "")
        attrs = {"units": units} if units else {}
        if name == "time":  # not "s since 1970-01-01": readers would turn it into dates at their own precision
            attrs["long_name"] = "when the point was measured, seconds since 1970-01-01 UTC"
        out[name] = (dims, array, attrs)
    coords = {"delay_fs": ("delay_fs", grid, {"units": "fs", "long_name": "planned pump-probe delay"}),
              **{c: (c, values[c], {"units": CONDITION_UNITS[c]} if c in CONDITION_UNITS else {}) for c in conds}}
    return xr.Dataset(out, coords=coords)


def _nearest(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the nearest point of the sorted ``grid`` for each value."""
    if grid.size == 1:
        return np.zeros(values.size, int)
    right = np.searchsorted(grid, values).clip(1, grid.size - 1)
    left = right - 1
    return np.where(np.abs(values - grid[left]) <= np.abs(values - grid[right]), left, right)


def _primary_layout(run, primary):
    """(dataset, layout): gridded by condition × delay where possible, else the stream as recorded."""
    md = run.metadata
    grid = gridded(md["start"], primary, run["primary"].metadata.get("data_keys") or {})
    return (grid, "conditions × delay") if grid is not None else (_netcdf_safe(primary), "time")


def _write_nc(path: Path, run, primary, fits) -> None:
    md = run.metadata
    ds, layout = _primary_layout(run, primary)
    ds.attrs = {"uid": md["start"]["uid"], "plan_name": md["start"].get("plan_name", ""),
                "sample": (md["start"].get("sample") or {}).get("name", ""), "layout": layout,
                "start_json": json.dumps(md["start"]), "stop_json": json.dumps(md.get("stop") or {}),
                "fits_json": json.dumps(fits), "delay_field": delay_field(md["start"]), "signal_field": "lockin_x"}
    ds.to_netcdf(path, engine="h5netcdf")
    for stream in run:
        if stream != "primary":
            _netcdf_safe(run[stream].read()).to_netcdf(path, mode="a", group=stream, engine="h5netcdf")


def _write_h5(path: Path, run, primary, fits) -> None:
    import h5py

    md = run.metadata
    with h5py.File(path, "w") as f:
        f.attrs["uid"] = md["start"]["uid"]
        f.attrs["start_json"] = json.dumps(md["start"])
        f.attrs["stop_json"] = json.dumps(md.get("stop") or {})
        f.attrs["fits_json"] = json.dumps(fits)
        for stream in run:
            ds, layout = _primary_layout(run, primary) if stream == "primary" else (run[stream].read(), "time")
            group = f.create_group(stream)
            group.attrs["layout"] = layout
            for name in (*ds.coords, *ds.data_vars):
                values = ds[name].values
                if values.dtype.kind == "U":
                    values = values.astype(object)
                    dataset = group.create_dataset(name, data=values, dtype=h5py.string_dtype())
                else:
                    dataset = group.create_dataset(name, data=values)
                dataset.attrs["dims"] = ",".join(ds[name].dims)
                if ds[name].attrs.get("units"):
                    dataset.attrs["units"] = ds[name].attrs["units"]


WRITERS = {"csv": _write_csv, "nc": _write_nc, "h5": _write_h5}


# --- registration -------------------------------------------------------------------------------------------------


def _guarded(func):
    import httpx

    def run(args) -> int:
        try:
            return func(args)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except (CatalogError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except httpx.HTTPError as exc:  # the server went away or refused mid-command
            print(f"error: the catalog failed to answer: {exc}", file=sys.stderr)
            return 1

    return run


def register(sub) -> None:
    ls = sub.add_parser("ls", help="list stored runs (filter by sample, plan, date)")
    ls.add_argument("--sample", help="runs whose sample name contains this")
    ls.add_argument("--plan", help="runs of this plan")
    ls.add_argument("--since", metavar="DATE", help="runs started on or after DATE (YYYY-MM-DD[THH:MM])")
    ls.add_argument("--until", metavar="DATE", help="runs started on or before DATE")
    show = sub.add_parser("show", help="a run's metadata, conditions, fit results and report")
    show.add_argument("uid", type=run_id, help="run id (a unique prefix of at least 4 characters)")
    export = sub.add_parser("export", help="write a run to CSV (analyze format), netCDF or HDF5")
    export.add_argument("uid", type=run_id, help="run id (a unique prefix of at least 4 characters)")
    export.add_argument("--format", choices=sorted(FORMATS), default="csv", help="csv (default), nc or h5")
    export.add_argument("--out", help="output file (default UID8.FORMAT in the current directory)")
    export.add_argument("--force", action="store_true", help="replace an existing output file")
    export.add_argument("--series", action="store_true",
                        help="the run's series points (temperature, fluence, field, QWP) as fit-series reads them")
    for parser, func in ((ls, _ls), (show, _show), (export, _export)):
        data_dir_option(parser)
        catalog_option(parser)
        parser.set_defaults(func=_guarded(func))
