"""Live analysis: condition-resolved waveforms as events arrive, fits off the RunEngine's thread.

Three parts, one job each. :class:`LiveAnalysis` is the RunEngine callback: on
each primary event it only appends a row (microseconds). When the conditions
change (a sweep of one condition is complete) or the run stops, it hands a
snapshot to the :class:`Refitter`, a worker thread that keeps only the newest
snapshot when it falls behind (coalescing) and runs
:func:`femtospin.analysis.analyze` on every group of slow conditions
(temperature, spot, fluence, …). The :class:`AnalysisStore` writes the results as
a run of their own, ``analysis_of`` the measured run, into the same data
directory, so reading the run back gives its fits (:meth:`StoredRun.fits`), and
at the end a report PNG per run.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from event_model import compose_run

from femtospin import analysis
from femtospin.devices import laser_nominal_W
from femtospin.plans import DESIGN_STREAM, analysis_options, group_options

from ..cli._cli import background
from ..storage._describe import condition_groups, delay_field, label
from ..storage._storage import RunWriter, checked_uid
from ._live_moke import MokeStrategy, is_moke, summary_lines, write_moke_report
from ._live_series import SeriesResult, plot_series, series_kind, series_lines, series_result

SYMMETRY = ("magnetization", "angle_deg", "helicity")  # conditions the components are formed from
LIVE_READINGS = {"overload": "lockin_overload", "power": "power_meter_power"}  # row: event field
ARGUMENT = {"repeat": "repeat", "overload": "overload", "power": "reference"}  # row: analyze() argument
WRAP = 72  # characters per line of the report's text panel: wider would squeeze the plots
MIN_DELAYS = 16
PREVIOUS_RUN_TIMEOUT_S = 60.0


@dataclass
class GroupResult:
    group: dict
    n_points: int
    result: analysis.AnalysisResult | None
    error: str = ""


@dataclass
class _Snapshot:
    rows: dict[str, np.ndarray]
    final: bool


@dataclass
class LiveState:
    """What the live analysis knows about the current run (read by the report and live figure)."""

    start: dict = field(default_factory=dict)
    results: list[GroupResult] = field(default_factory=list)
    fits_done: int = 0
    rows: dict = field(default_factory=dict)  # the data of the latest refit
    conditions: list = field(default_factory=list)
    finished_at: float | None = None
    report: Path | None = None
    error: str = ""
    series: SeriesResult | None = None  # a series plan's result, at the end of the run
    design: list = field(default_factory=list)  # an adaptive design: why it stopped (one line per slow value)

    @property
    def summary(self) -> list[str]:
        """Lines printed after the fit lines (TR-MOKE: static Kerr signals, spin accumulation; a series' fit)."""
        return summary_lines(self.results) + series_lines(self.series)


def complete_rows(delay: np.ndarray, keys: list[tuple]) -> np.ndarray:
    """Rows the symmetry components can use so far.

    The condition sets kept form a full product (+M/−M × 0°/180° only once all
    four exist: the newest sets are left out until then), and of those only the
    delays every kept set has measured (a sweep in progress is left out).
    """
    order = list(dict.fromkeys(keys))  # condition sets in the order they were first measured
    while order and len(order) < int(np.prod([len({k[i] for k in order}) for i in range(len(order[0]))])):
        order.pop()
    kept = set(order)
    rounded = np.round(delay, 3)
    sets: dict[tuple, set] = {}
    for d, k in zip(rounded, keys):
        if k in kept:
            sets.setdefault(k, set()).add(d)
    common = set.intersection(*sets.values()) if sets else set()
    return np.array([k in kept and d in common for d, k in zip(rounded, keys)], bool)


class Refitter:
    """The worker: fits the newest snapshot of a run's rows, one fit at a time, on a thread of its own.

    A snapshot handed over while a fit runs replaces any older one still waiting
    (refits coalesce: a slow fit never makes a backlog), but the final snapshot is
    never dropped. Each fit's results go to ``on_fit``; the worker ends after the
    final one, or when closed.
    """

    def __init__(self, on_fit):
        self.on_fit = on_fit  # (snapshot) -> bool: True once the run is finished; reports its own failures
        self.requests = 0  # snapshots handed over (tests compare with fits_done: coalescing)
        self._cv = threading.Condition()
        self._pending: _Snapshot | None = None
        self._done = threading.Event()
        self._done.set()
        self._closing = False

    def start(self) -> None:
        self._done.clear()
        self._closing = False
        threading.Thread(target=self._work, name="live-analysis", daemon=True).start()

    def submit(self, snapshot: _Snapshot) -> None:
        with self._cv:
            self.requests += 1
            if self._pending is None or not self._pending.final:  # the final snapshot is never dropped
                self._pending = snapshot
            self._cv.notify()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        with self._cv:
            self._closing = True
            self._cv.notify()
        return self._done.wait(timeout)

    @property
    def closing(self) -> bool:
        return self._closing

    def _work(self) -> None:
        try:
            while True:
                with self._cv:
                    while self._pending is None and not self._closing:
                        self._cv.wait()
                    if self._closing:
                        return
                    snap, self._pending = self._pending, None
                if self.on_fit(snap):
                    return
        finally:
            self._done.set()  # even if on_fit raised: the next run must never wait on this one


class AnalysisStore:
    """The live analysis's output: one analysis run per measured run (its fits, at the end its series and stop
    document), beside the measured runs, and the report PNG."""

    def __init__(self, writer: RunWriter, report_dir: Path, report: bool):
        self.writer, self.report_dir, self.report = writer, report_dir, report
        self._bundle = None

    def begin(self) -> None:
        self._bundle = None

    def append(self, state: LiveState, options: dict, results: list[GroupResult], final: bool) -> None:
        """Append one refit to the analysis run (started at the first refit, stopped with the final one)."""
        raw = state.start
        if self._bundle is None:
            # the report path is recorded up front, so the catalog can say where it is
            report = str(report_path(self.report_dir, raw["uid"]).resolve()) if self.report else None
            run = compose_run(metadata={"plan_name": "live_analysis", "analysis_of": raw["uid"],
                                        "sample": raw.get("sample"), "report": report, "options": {
                                            k: v for k, v in options.items() if k != "transfer"}})
            self.writer("start", run.start_doc)
            self._bundle = (run, None)
        run, desc = self._bundle
        if results and desc is None:  # a single-delay series has no waveform fits, only its series
            keys = {"group": "string", "n_points": "integer", "final": "boolean", "error": "string",
                    "result_json": "string"}
            desc = run.compose_descriptor(name="fit", data_keys={
                k: {"source": "femtospin.live", "dtype": v, "shape": []} for k, v in keys.items()})
            self.writer("descriptor", desc.descriptor_doc)
            self._bundle = (run, desc)
        if final and state.series is not None:
            series = run.compose_descriptor(name="series", data_keys={
                "result_json": {"source": "femtospin.live", "dtype": "string", "shape": []}})
            self.writer("descriptor", series.descriptor_doc)
            data = {"result_json": json.dumps(state.series.to_dict())}
            self.writer("event", series.compose_event(data=data, timestamps=dict.fromkeys(data, time.time())))
        now = time.time()
        for r in results:
            data = {"group": json.dumps(r.group), "n_points": r.n_points, "final": final, "error": r.error,
                    "result_json": json.dumps(r.result.to_dict()) if r.result is not None else ""}
            self.writer("event", desc.compose_event(data=data, timestamps=dict.fromkeys(data, now)))
        if final:
            self.writer("stop", run.compose_stop(exit_status="success"))

    def write_report(self, state: LiveState, moke: bool) -> Path | None:
        if not self.report:
            return None
        return (write_moke_report if moke else write_report)(state, self.report_dir)


class LiveAnalysis:
    """RunEngine callback fitting each scan while it is measured: it appends rows, its :class:`Refitter` fits
    them and its :class:`AnalysisStore` stores the fits.

    Parameters
    ----------
    data_dir : path
        Where the analysis runs (and reports) are written, beside the measured runs.
    signal : str
        Event field of the lock-in signal.
    report : bool
        Write a report PNG at the end of each run.
    analyze : callable
        The analysis (``femtospin.analysis.analyze`` signature); replaceable in tests.
    """

    def __init__(self, data_dir, *, signal: str = "lockin_x", report: bool = True, analyze=analysis.analyze,
                 report_dir=None):
        self.data_dir = Path(data_dir)
        self.report_dir = Path(report_dir) if report_dir is not None else self.data_dir
        self.signal, self.report, self._analyze = signal, report, analyze
        self.state = LiveState()
        self._store = AnalysisStore(RunWriter(self.data_dir), self.report_dir, report)
        self._worker = Refitter(self._refit)
        background.add(self)

    @property
    def requests(self) -> int:
        return self._worker.requests

    # ------------------------------------------------------- RunEngine side: append, never block
    def __call__(self, name: str, doc: dict) -> None:
        getattr(self, f"_{name}", lambda doc: None)(doc)

    def _start(self, doc):
        # the previous run's final fit (under a second) must not mix with this run's state
        self._worker.wait(PREVIOUS_RUN_TIMEOUT_S)
        self._moke = MokeStrategy(doc) if is_moke(doc) else None
        self._options = self._moke.options if self._moke is not None else analysis_options(doc)
        self._delay_field = delay_field(doc)
        self._conditions = [c for c in doc.get("conditions", []) if c != "repeat"]
        self._sweeps = "repeat" in doc.get("conditions", [])
        self._primary = self._design = None
        self._readings: dict[str, str] = {}
        self._rows: dict[str, list] = {k: [] for k in ("delay", "signal", *self._conditions)}
        self._last_key = None
        self.state = LiveState(start=doc)
        delays = (doc.get("plan_args") or {}).get("delays") or []
        series = series_kind(doc)
        # single-delay series (field loop, QWP sweep) have no waveform to fit, only their series at the end
        self._series_only = self._moke is None and series is not None and len(set(delays)) < MIN_DELAYS
        self._live = self._moke.live if self._moke is not None else (self._series_only or (
            self._options is not None and len(set(delays)) >= MIN_DELAYS))  # waveforms, not single delays
        if self._live:
            self._store.begin()
            self._worker.start()

    def _descriptor(self, doc):
        if self._moke is not None:
            self._moke.descriptor(doc)
        if doc.get("name") == DESIGN_STREAM:
            self._design = doc["uid"]
        if doc.get("name") == "primary":
            self._primary = doc["uid"]
            # the sweep index, the overload flag and the pump power, where this run records them
            wanted = {"repeat": "repeat" if self._sweeps else None, **LIVE_READINGS}
            self._readings = {k: f for k, f in wanted.items() if f and f in doc.get("data_keys", {})}
            for k in self._readings:
                self._rows[k] = []

    def _event(self, doc):
        if self._live and self._moke is not None and self._moke.event(doc):
            return
        if doc["descriptor"] == self._design and doc["data"].get("design_stop"):
            self.state.design.append(doc["data"]["design_stop"])
            return
        if not self._live or doc["descriptor"] != self._primary:
            return
        data = doc["data"]
        key = tuple(data[c] for c in self._conditions)
        if self._last_key is not None and key != self._last_key:
            self._submit(final=False)  # a sweep of one condition is complete
        self._last_key = key
        self._rows["delay"].append(data[self._delay_field])
        self._rows["signal"].append(data[self.signal])
        for c in self._conditions:
            self._rows[c].append(data[c])
        for k, f in self._readings.items():
            self._rows[k].append(data[f])

    def _stop(self, doc):
        if self._live:
            self._submit(final=True)

    def _submit(self, final: bool) -> None:
        if self._series_only and not final:
            return  # nothing to refit before the series is complete
        self._worker.submit(_Snapshot({k: np.asarray(v) for k, v in self._rows.items()}, final))

    @property
    def active(self) -> bool:
        """Whether the current (or last) run is being analyzed."""
        return getattr(self, "_live", False)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the final fit of the current run is available (True) or ``timeout`` passes."""
        return self._worker.wait(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop refitting: a fit in progress finishes, nothing more is fitted or stored. True once stopped.

        The command line calls this before it exits: the interpreter must not end
        while the worker is inside compiled code (a thread ended there aborts the process).
        """
        return self._worker.close(timeout)

    # ---------------------------------------------------------- worker side: fit, then store
    def _refit(self, snap: _Snapshot) -> bool:
        """One refit of the worker; True once the run's final fit is stored and reported (or failed)."""
        try:
            results = [] if self._series_only else self._fit(snap)
            if self._worker.closing:
                return True
            self.state.results, self.state.rows, self.state.conditions = results, snap.rows, self._conditions
            if snap.final:
                self.state.series = series_result(self.state.start, results, snap.rows)
            self.state.fits_done += 1
            self._store.append(self.state, self._options, results, snap.final)
            if snap.final:
                self.state.report = self._store.write_report(self.state, self._moke is not None)
                self.state.finished_at = time.monotonic()
            return snap.final
        except Exception as exc:  # noqa: BLE001 — storage or report failed: say so, never hang the next run
            self.state.error = f"live analysis stopped: {type(exc).__name__}: {exc}"
            return True

    def _fit(self, snap: _Snapshot) -> list[GroupResult]:
        rows = snap.rows
        if self._moke is not None:
            return self._moke.fit(rows, self._conditions)
        if rows["delay"].size == 0:
            return []
        slow = [c for c in self._conditions if c not in SYMMETRY]
        fast = [c for c in self._conditions if c in SYMMETRY]
        results = []
        for group, sel in condition_groups(rows, slow):
            keys = list(zip(*(rows[c][sel].tolist() for c in fast))) if fast else [()] * int(sel.sum())
            keep = complete_rows(rows["delay"][sel], keys)
            d, s = rows["delay"][sel][keep], rows["signal"][sel][keep]
            conds = {c: rows[c][sel][keep] for c in fast}
            extra = {ARGUMENT[k]: rows[k][sel][keep] for k in self._readings}
            try:
                res = self._analyze(d, s, conds or None, **extra, **group_options(self.state.start, group,
                                                                                   self._options))
                results.append(GroupResult(group, int(d.size), res))
            except Exception as exc:  # noqa: BLE001 — a fit that cannot run yet is reported, never raised
                results.append(GroupResult(group, int(d.size), None, f"{type(exc).__name__}: {exc}"))
        return results


def warning_lines(group: dict, result: analysis.AnalysisResult | None) -> list[str]:
    """``warning: …`` lines of one fit (a group's label first where there are slow conditions)."""
    if result is None:
        return []
    head = label(group)
    return [f"warning: {head + ': ' if head else ''}{w}" for w in result.warnings]


def report_path(directory: Path, uid: str) -> Path:
    """Where the report PNG of run ``uid`` goes: built from the validated uid, inside ``directory``."""
    return Path(directory) / f"report_{checked_uid(uid)[:8]}.png"


def mean_waveforms(rows: dict, conditions: list) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """Mean of ``rows["signal"]`` per delay (rounded to 0.1 fs) for each set of ``conditions``, in measuring order.

    ``rows`` holds ``delay``, ``signal`` and one array per condition; repeats of a
    delay are averaged. Returns ``{condition values: (delays, mean signal)}``.
    """
    keys = list(zip(*(rows[c].tolist() for c in conditions))) if conditions else [()] * rows["delay"].size
    out = {}
    for key in dict.fromkeys(keys):
        sel = np.array([k == key for k in keys])
        d, x = np.round(rows["delay"][sel], 1), rows["signal"][sel]
        grid = np.unique(d)
        out[key] = (grid, np.array([x[d == g].mean() for g in grid]))
    return out


def write_report(state: LiveState, directory: Path) -> Path | None:
    """The run's report PNG.

    Raw waveforms, symmetry components, j_s with its noise band and resolution,
    the fit with its residuals, and a text panel: the fitted parameters, the
    fixed ones and where each value came from, redchi with its p-value, how the
    noise was measured, and the analysis's warnings.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    done = [r for r in state.results if r.result is not None]
    if not done:
        return _write_series_report(state, directory) if state.series is not None else None
    start = state.start
    series = state.series is not None
    fig = Figure(figsize=(12, 15 if series else 11), constrained_layout=True)
    FigureCanvasAgg(fig)
    layout = [["raw", "comp"], ["js", "table"], ["fit", "table"], ["resid", "table"]]
    heights = [1.0, 1.0, 1.0, 0.45]
    if series:  # the series panel: each point's fitted amplitude against the series' variable, fit, residuals
        layout, heights = layout + [["series", "series_resid"]], heights + [1.0]
    axes = fig.subplot_mosaic(layout, height_ratios=heights)
    main = done[0].result
    _plot_waveforms(axes, state, main)
    _plot_spin_current(axes["js"], done, main)
    _plot_fit(axes["fit"], axes["resid"], main)
    if series:
        plot_series(axes["series"], axes["series_resid"], state.series)
    axes["table"].axis("off")
    text = [part for line in report_lines(state) + series_lines(state.series)
            for part in textwrap.wrap(line, WRAP, subsequent_indent="  ") or [""]]
    axes["table"].text(0, 1, "\n".join(text), va="top", family="monospace", fontsize=7.5)
    return _save(fig, directory, start["uid"])


def _write_series_report(state: LiveState, directory: Path) -> Path:
    """A single-delay series (field loop, QWP sweep): the series, its fit and residuals, and the fit's lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 6), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplot_mosaic([["series", "table"], ["resid", "table"]], height_ratios=[1.0, 0.4])
    plot_series(axes["series"], axes["resid"], state.series)
    axes["table"].axis("off")
    text = [part for line in series_lines(state.series) for part in textwrap.wrap(line, WRAP, subsequent_indent="  ")]
    axes["table"].text(0, 1, "\n".join(text), va="top", family="monospace", fontsize=7.5)
    return _save(fig, directory, state.start["uid"])


def _save(fig, directory: Path, uid: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = report_path(directory, uid)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    return path


def _plot_waveforms(axes, state: LiveState, main: analysis.AnalysisResult) -> None:
    rows, conds = state.rows, state.conditions
    waveforms = mean_waveforms(rows, conds)
    for key, (grid, mean) in waveforms.items():
        axes["raw"].plot(grid, mean * 1e3, lw=0.8, label=label(dict(zip(conds, key))) or "all")
    over = np.asarray(rows.get("overload", []), bool)
    if over.any():  # clipped readings are in the means above but not in any fit: show where they are
        axes["raw"].plot(rows["delay"][over], rows["signal"][over] * 1e3, "rx", ms=4,
                         label=f"overloaded ({int(over.sum())}, left out)")
    axes["raw"].set(xlabel="delay (fs)", ylabel="lock-in X (mV)", title="raw waveforms by condition")
    if len(waveforms) <= 12:
        axes["raw"].legend(fontsize=6)
    for name, comp in main.components.items():
        axes["comp"].plot(comp.delay_fs, comp.value * 1e3, label=name, lw=1)
    axes["comp"].set(xlabel="delay (fs)", ylabel="signal (mV)", title="symmetry components")
    axes["comp"].legend(fontsize=7)


def _plot_spin_current(ax, done: list[GroupResult], main: analysis.AnalysisResult) -> None:
    """j_s of every group, normalized to its peak, with its ±1σ noise band."""
    for r in done:
        dec = r.result.deconvolution
        scale = np.abs(dec.field).max() or 1.0
        line, = ax.plot(dec.delay_fs, dec.field / scale, label=label(r.group) or "j_s", lw=1)
        band = np.nan_to_num(dec.stderr) / scale
        ax.fill_between(dec.delay_fs, dec.field / scale - band, dec.field / scale + band, color=line.get_color(),
                        alpha=0.3, lw=0, label=f"±1σ noise (≤ {band.max():.1%} of peak)")
    ax.set(xlabel="delay (fs)", ylabel="E ∝ j_s (norm.)",
           title=f"deconvolved spin current ± 1σ noise, resolution {main.resolution_fs:.0f} fs FWHM")
    ax.legend(fontsize=7)


def _plot_fit(ax, resid, main: analysis.AnalysisResult) -> None:
    comp = main.components[main.component]
    fit = main.fit
    if fit is not None:
        ax.errorbar(comp.delay_fs, comp.value * 1e3, yerr=np.nan_to_num(comp.stderr) * 1e3, fmt=".", ms=2, lw=0.5,
                    label=main.component)
        ax.plot(comp.delay_fs, fit.best_fit * 1e3, "k-", lw=1, label=f"{fit.model} fit")
        resid.plot(comp.delay_fs, (comp.value - fit.best_fit) / fit.sigma, ".", ms=2)
        ax.set_title(f"forward-model fit: redchi {fit.redchi:.2f}, p = {fit.p_value:.2g}")
    else:
        ax.set_title("no model fitted")
    ax.set(ylabel="signal (mV)")
    ax.legend(fontsize=7)
    resid.set(xlabel="delay (fs)", ylabel="residual / σ")
    resid.axhline(0, color="0.6", lw=0.8)


def report_lines(state: LiveState) -> list[str]:
    """The report's text panel: per group the fitted parameters and goodness of fit; the fixed values by
    their origin and the noise (the same for every group: from the first); every warning, once."""
    start = state.start
    lines = [f"{(start.get('sample') or {}).get('name', '?')} — {start.get('plan_name')} {start['uid'][:8]}", ""]
    warnings: dict[str, None] = {}
    first = None
    for r in state.results:
        head = label(r.group)
        if r.result is None:
            lines.append(f"{head}: {r.error}" if head else r.error)
            continue
        first = first or r.result
        fit = r.result.fit
        lines.append(f"{head + ': ' if head else ''}{r.result.component}, "
                     f"{fit.model if fit is not None else 'no model'}")
        if fit is not None:
            lines += [f"  {name:20s} {p['value']:.4g} ± {p['stderr']:.2g}" for name, p in fit.params.items()
                      if p["vary"]]
            lines.append(f"  redchi {fit.redchi:.3g} (chi2 {fit.chi2:.1f} / {fit.dof} dof, p = {fit.p_value:.2g})")
        prefix = f"{head}: " if head and len(state.results) > 1 else ""
        warnings.update(dict.fromkeys(prefix + w for w in r.result.warnings))
    if first is not None:
        lines += ["", *fixed_lines(first), "", *noise_lines(first, start)]
    for stop in state.design:
        lines += ["", *textwrap.wrap(f"adaptive design: {stop}", WRAP, subsequent_indent="  ")]
    if warnings:
        lines += ["", "warnings"]
        for w in warnings:
            lines += textwrap.wrap(w, WRAP, initial_indent="• ", subsequent_indent="  ")
    return lines


def fixed_lines(result: analysis.AnalysisResult) -> list[str]:
    """The parameters held fixed, grouped by where their value came from."""
    if result.fit is None:
        return []
    by_source: dict[str, list[str]] = {}
    for name, p in result.fit.params.items():
        if not p["vary"]:
            by_source.setdefault(p.get("source") or "unknown", []).append(f"{name} = {p['value']:.4g}")
    return [line for source, values in by_source.items() for line in (f"fixed by {source}:", "  " + ", ".join(values))]


def noise_lines(result: analysis.AnalysisResult, start: dict) -> list[str]:
    """How the noise the fit is weighted with was measured, the deconvolution's resolution, the power level."""
    noise = result.noise
    lines = [f"noise from {noise.method} ({noise.n_sweeps} sweep{'s' if noise.n_sweeps != 1 else ''}): "
             f"σ_α {noise.sigma_alpha:.2g} V, σ_β {noise.sigma_beta:.2g}, σ_τ {noise.sigma_tau_fs:.2g} fs",
             f"j_s resolution {result.resolution_fs:.0f} fs FWHM (causal estimator)"]
    sw = getattr(result, "sweep", None)
    if sw is not None:
        lines.append(f"fly: lock-in filter along the sweep modelled ({sw['rms_fs']:.0f} fs rms, lag cancelled by "
                     f"up + down sweeps); errors widened for the bins' correlated noise")
    if result.reference is not None:
        ref = result.reference
        nominal = laser_nominal_W(start)
        origin = "the laser's nominal power" if ref["source"] == "given" and ref["level"] == nominal else ref["source"]
        lines.append(f"signal normalized to the pump power at {ref['level']:.3g} W ({origin}); "
                     f"the power varied {ref['relative_rms']:.1%} rms")
    return lines


def display_available() -> bool:
    """A screen to draw on: an X or Wayland display and an interactive matplotlib backend."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import matplotlib

    return matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "ps", "cairo", "template")


class LiveFigure:
    """On-screen figure of the live analysis: waveforms by condition and the latest fit, redrawn as fits arrive.

    A RunEngine callback subscribed after :class:`LiveAnalysis`; it draws only when
    a new fit is available, from the thread matplotlib needs (bluesky's Qt
    teleporter when the backend is Qt).
    """

    def __init__(self, live: LiveAnalysis, figure=None):
        from bluesky.callbacks.mpl_plotting import QtAwareCallback

        self.live = live
        if figure is None:
            import matplotlib.pyplot as plt

            figure = plt.figure("femtospin live", figsize=(9, 4.5))
        self.figure = figure
        self.raw, self.fit = figure.subplots(1, 2)
        self._shown = -1
        outer = self

        class _Callback(QtAwareCallback):
            def event(self, doc):
                if outer.live.state.fits_done != outer._shown:
                    outer.refresh()

            def stop(self, doc):
                outer._shown = -1

        self._callback = _Callback()

    def __call__(self, name, doc):
        return self._callback(name, doc)

    def refresh(self) -> None:
        """Redraw from the newest fit."""
        state = self.live.state
        self._shown = state.fits_done
        rows, conds = state.rows, state.conditions
        if not rows or rows["delay"].size == 0:
            return
        self.raw.clear()
        keys = list(zip(*(rows[c].tolist() for c in conds))) if conds else [()] * rows["delay"].size
        for key in dict.fromkeys(keys):
            sel = np.array([k == key for k in keys])
            order = np.argsort(rows["delay"][sel])
            self.raw.plot(rows["delay"][sel][order], rows["signal"][sel][order] * 1e3, lw=0.8,
                          label=label(dict(zip(conds, key))) or "signal")
        self.raw.set(xlabel="delay (fs)", ylabel="lock-in X (mV)", title="measured so far")
        self.raw.legend(fontsize=6)
        self.fit.clear()
        done = [r for r in state.results if r.result is not None and r.result.fit is not None]
        if done:
            res = done[-1].result
            comp = res.components[res.component]
            self.fit.plot(comp.delay_fs, comp.value * 1e3, ".", ms=2, label=res.component)
            self.fit.plot(comp.delay_fs, res.fit.best_fit * 1e3, "k-", lw=1, label=res.fit.model)
            varying = [(n, p) for n, p in res.fit.params.items() if p["vary"] and n != "amplitude"]
            self.fit.set_title("  ".join(f"{n} = {p['value']:.4g} ± {p['stderr']:.2g}" for n, p in varying[:2]),
                               fontsize=8)
            self.fit.legend(fontsize=6)
        self.fit.set(xlabel="delay (fs)", ylabel="mV")
        self.figure.canvas.draw_idle()
