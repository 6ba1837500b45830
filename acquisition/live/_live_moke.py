"""The TR-MOKE side of the live analysis: which runs it takes, how it fits them, what it prints and draws.

:class:`~femtospin.acquisition.live._live.LiveAnalysis` collects the rows of every run the
same way; for a TR-MOKE run (its start document's detection is ``moke``, or it is
a ``static_kerr`` run) it hands them to :class:`MokeStrategy`, which forms the static
Kerr signals from the run's ``static_kerr`` stream (or the typed-in value of its
start document), fits −ΔM/M (three-temperature) with
:func:`femtospin.analysis.analyze_moke` and the spin accumulation of both layers,
and says so in lines and a report PNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from femtospin import analysis
from femtospin.devices import detection_of, laser_nominal_W, pump_of

from ..storage._describe import condition_groups, label

CHOP_DEFAULT = math.sqrt(2) / math.pi  # square-wave chopping, equal AC and DC gains
FAST = ("kerr", "state", "magnetization")  # conditions one fit is formed from; the others are groups
STATIC_FIELDS = {"kerr": "static_kerr", "magnetization": "static_magnetization", "offset_deg": "analyser_offset_deg",
                 "dc_V": "lockin_aux_in", "phase": "static_phase", "power": "power_meter_power"}


def is_moke(start: dict) -> bool:
    """A TR-MOKE run: measured on a MOKE table, or a static Kerr measurement."""
    return (detection_of(start).mode == "moke" or start.get("plan_name") in ("moke_scan",
                                                                                               "static_kerr"))


@dataclass
class StaticOnly:
    """The result of a run that measured only the static Kerr signal."""

    static: dict
    warnings: list = field(default_factory=list)
    fit = None
    component = "static Kerr"

    def to_dict(self) -> dict:
        return analysis.json_safe({"mode": "moke", "static_kerr": {q: s.to_dict() for q, s in self.static.items()},
                          "warnings": self.warnings})


class MokeStrategy:
    """How the live analysis treats a TR-MOKE run (built from its start document)."""

    def __init__(self, start: dict):
        self.start = start
        self.static_rows: dict[str, list] = {k: [] for k in STATIC_FIELDS}
        self.static_descriptor: str | None = None
        self.fwhm = float(pump_of(start).get("fwhm_fs") or analysis.DEFAULT_FWHM_FS)
        self.nominal = laser_nominal_W(start)
        recorded = start.get("static_kerr") or {}
        self.chop = recorded.get("chop_factor") or detection_of(start).chop_factor
        self.options = {"mode": "moke", "resolution_fwhm_fs": self.fwhm, "chop_factor": self.chop,
                        "reference_level": self.nominal}

    @property
    def live(self) -> bool:
        """Static-Kerr runs are analysed whatever their delays; scans need a waveform's worth."""
        if self.start.get("plan_name") == "static_kerr":
            return True
        delays = (self.start.get("plan_args") or {}).get("delays") or []
        return len(set(delays)) >= analysis.MIN_DELAYS

    # -------------------------------------------------------------- documents
    def descriptor(self, doc: dict) -> None:
        if doc.get("name") == "static_kerr":
            self.static_descriptor = doc["uid"]

    def event(self, doc: dict) -> bool:
        """Take a static-Kerr reading; True if the event was one."""
        if doc["descriptor"] != self.static_descriptor:
            return False
        data = doc["data"]
        for k, f in STATIC_FIELDS.items():
            self.static_rows[k].append(data.get(f))
        return True

    # -------------------------------------------------------------- analysis
    def static(self) -> tuple[dict, list[str]]:
        """The static Kerr signals of this run: measured (this run's readings) or typed in; and warnings."""
        typed = self.start.get("static_kerr_V")
        if isinstance(typed, dict):
            errs = typed.get("stderr") or {}
            values = {q: (typed[q], errs.get(q, 0.0)) for q in analysis.KERR if q in typed}
            return analysis.typed_static(values), []
        rows = self.static_rows
        if not rows["dc_V"]:
            return {}, []
        warnings = []
        chop = self.chop
        if not chop:
            chop = CHOP_DEFAULT
            warnings.append(f"the run records no chop factor: lock-in X per DC volt taken as √2/π = {chop:.4f}")
        power = rows["power"] if all(p is not None for p in rows["power"]) else None
        return analysis.static_kerr_from_readings(rows["kerr"], rows["magnetization"], rows["offset_deg"],
                                                  rows["dc_V"], phase=rows["phase"], reference=power,
                                                  reference_level=self.nominal if power is not None else None,
                                                  chop_factor=chop), warnings

    def fit(self, rows: dict, conditions: list[str]) -> list:
        """One :class:`GroupResult` per group of slow conditions (temperature, spot, …)."""
        from ._live import GroupResult

        try:
            static, warnings = self.static()
        except ValueError as exc:
            return [GroupResult({}, 0, None, f"static Kerr signal: {exc}")]
        if rows["delay"].size == 0:
            return [GroupResult({}, 0, StaticOnly(static, warnings), "no delay scan: the static Kerr signal only")
                    ] if static else []
        slow = [c for c in conditions if c not in FAST]
        results = []
        for group, sel in condition_groups(rows, slow):
            col = {k: rows[k][sel] for k in ("kerr", "state", "magnetization", "repeat", "overload", "power")
                   if k in rows}
            try:
                res = analysis.analyze_moke(rows["delay"][sel], rows["signal"][sel], kerr=col.get("kerr"),
                                            state=col.get("state"), magnetization=col.get("magnetization"),
                                            repeat=col.get("repeat"), overload=col.get("overload"),
                                            reference=col.get("power"), reference_level=self.nominal,
                                            static=static, resolution_fwhm_fs=self.fwhm,
                                            fix_sources={"resolution_fwhm_fs": "the run's pump duration"})
                res.warnings[:0] = warnings
                results.append(GroupResult(group, int(sel.sum()), res))
            except ValueError as exc:
                results.append(GroupResult(group, int(sel.sum()), None, str(exc)))
        return results


def summary_lines(results: list) -> list[str]:
    """What ``femtospin run`` prints after the fit lines: the static Kerr signals and the spin accumulation."""
    lines: list[str] = []
    for r in results:
        res = r.result
        if res is None or not hasattr(res, "static"):
            continue
        head = label(r.group)
        pre = f"{head}: " if head else ""
        for q, s in res.static.items():
            where = (f" ({s.mrad:.4g} ± {s.mrad_stderr:.2g} mrad, {s.V_per_mrad:.4g} V/mrad)"
                     if np.isfinite(s.mrad) else "")
            lines.append(f"static Kerr {pre}{q} {s.value_V:.5g} ± {s.stderr_V:.2g} V, {s.source}{where}")
        if getattr(res, "fit", None) is not None:
            f = res.fit
            lines.append(f"{pre}{res.fitted}: redchi {f.redchi:.3g} (chi2 {f.chi2:.1f} / {f.dof} dof, "
                         f"p = {f.p_value:.2g})")
        refl = getattr(res, "reflectance", None)
        if refl is not None:
            p = refl["fit"]["params"]["tau_fs"]
            lines.append(f"transient reflectance {pre}({refl['component']}): exp-offset τ = {p['value']:.4g} ± "
                         f"{p['stderr']:.2g} fs, redchi {refl['fit']['redchi']:.3g} (p = {refl['fit']['p_value']:.2g})")
        accumulation = getattr(res, "spin_accumulation", None) or {}
        for layer in [k for k in accumulation if k not in ("P", "AP")] or list(accumulation):
            p = analysis.peak_summary(accumulation[layer])
            lines.append(f"spin accumulation {pre}{layer}: Δμ_s peak {p['value']:.4g} ± {p['stderr']:.2g} at "
                         f"{p['delay_fs']:.0f} fs (± {p['stderr_static']:.2g} from the static Kerr signal)")
    return lines


def write_moke_report(state, directory):
    """The TR-MOKE report PNG: waveforms by condition, the fitted −ΔM/M with residuals, Δμ_s of both layers
    with their ±1σ bands (noise and static signal), and the text panel."""
    import os
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ._live import WRAP, mean_waveforms, report_path

    done = [r for r in state.results if r.result is not None and hasattr(r.result, "waveforms")]
    if not done:
        return None
    res = done[0].result
    fig = Figure(figsize=(12, 10), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplot_mosaic([["raw", "table"], ["fit", "table"], ["resid", "table"], ["mu", "table"]],
                              height_ratios=[1.0, 1.0, 0.4, 1.0])
    rows, conds = state.rows, state.conditions
    for key, (grid, mean) in mean_waveforms(rows, conds).items():
        axes["raw"].plot(grid, mean * 1e3, lw=0.8, label=label(dict(zip(conds, key))) or "all")
    axes["raw"].set(xlabel="delay (fs)", ylabel="lock-in X (mV)", title="raw waveforms by condition")
    axes["raw"].legend(fontsize=6)
    if res.fit is not None and res.fit_data is not None:
        t, y, e = res.fit_data
        axes["fit"].errorbar(t, y, yerr=e, fmt=".", ms=2, lw=0.5, label=res.fitted)
        axes["fit"].plot(t, res.fit.best_fit, "k-", lw=1, label=f"{res.fit.model} fit")
        axes["fit"].set_title(f"{res.fit.model}: τ_M = {res.fit.value('tau_m_fs'):.4g} ± "
                              f"{res.fit.stderr('tau_m_fs'):.2g} fs, redchi {res.fit.redchi:.2f}, "
                              f"p = {res.fit.p_value:.2g}" if "tau_m_fs" in res.fit.params
                              else f"{res.fit.model}: redchi {res.fit.redchi:.2f}", fontsize=9)
        axes["resid"].plot(t, (y - res.fit.best_fit) / e, ".", ms=2)
        axes["fit"].legend(fontsize=7)
    axes["fit"].set(ylabel="normalized" if res.static else "V")
    axes["resid"].set(xlabel="delay (fs)", ylabel="residual / σ")
    axes["resid"].axhline(0, color="0.6", lw=0.8)
    shown = [k for k in res.spin_accumulation if k not in ("P", "AP")] or list(res.spin_accumulation)
    for layer in shown:  # free and reference layers; a single state's Δμ_s without both states
        curve = res.spin_accumulation[layer]
        v, e = np.asarray(curve["value"]), np.asarray(curve["stderr"])
        line, = axes["mu"].plot(curve["delay_fs"], v, lw=1, label=f"{layer}")
        axes["mu"].fill_between(curve["delay_fs"], v - e, v + e, color=line.get_color(), alpha=0.3, lw=0,
                                label=f"{layer} ±1σ (noise and static Kerr)")
    axes["mu"].set(xlabel="delay (fs)", ylabel="Δμ_s = Δθ̄ − Δε̄", title="spin accumulation")
    if res.spin_accumulation:
        axes["mu"].legend(fontsize=7)
    axes["table"].axis("off")
    text = [f"{(state.start.get('sample') or {}).get('name', '?')} — {state.start.get('plan_name')} "
            f"{state.start['uid'][:8]}", ""]
    for r in done:
        head = label(r.group)
        if r.result.fit is not None:
            text += [f"{head + ': ' if head else ''}{r.result.fitted}, {r.result.fit.model}"]
            text += [f"  {n:14s} {p['value']:.4g} ± {p['stderr']:.2g}" for n, p in r.result.fit.params.items()
                     if p["vary"]]
    text += ["", *summary_lines(state.results), "", *[f"warning: {w}" for r in done for w in r.result.warnings]]
    wrapped = [part for line in text for part in textwrap.wrap(line, WRAP, subsequent_indent="  ") or [""]]
    axes["table"].text(0, 1, "\n".join(wrapped), va="top", family="monospace", fontsize=7.5)
    directory.mkdir(parents=True, exist_ok=True)
    path = report_path(directory, state.start["uid"])
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    return path
