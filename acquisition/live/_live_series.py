"""Series results: the physical result a series plan is run for, extracted and fitted as the run ends.

A temperature series gives T_C and α, a fluence series the slope and whether the
signal is linear, a field loop the coercive field and saturation, a quarter-wave
plate sweep C, L1, L2 and D (docs/physics.md). Waveform series take each point's
fitted amplitude of the component the sample's physics is in, with the analysis's
drift-aware error; single-delay series (field loop, QWP sweep) take the signal at
each point (the RMS over the delays when there are several), with the scatter of
the repeats as its error when there are repeats. The points are stored with the
fit, so ``femtospin export --series`` writes exactly what was fitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from femtospin import analysis

# plan → (fit-series kind, the condition that is the series' x, its column in fit-series files, the y column)
SERIES = {
    "temperature_series": ("temperature", "temperature_K", "temperature_K", "amplitude"),
    "fluence_series": ("fluence", "fluence_mJcm2", "fluence_mJcm2", "amplitude"),
    "field_loop": ("field", "field_mT", "field_mT", "signal"),
    "qwp_sweep": ("qwp", "qwp_deg", "qwp_deg", "signal"),
}
WAVEFORM_SERIES = ("temperature", "fluence")
FITS = {"temperature": analysis.fit_temperature, "fluence": analysis.fit_fluence, "qwp": analysis.fit_qwp}


@dataclass
class SeriesResult:
    """The series' points as fitted, the fit (or why there is none), and what the user should know."""

    kind: str
    x_name: str
    y_name: str
    x: np.ndarray
    y: np.ndarray
    stderr: np.ndarray | None
    branch: np.ndarray | None = None
    fit: analysis.SeriesFit | None = None
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        points = {self.x_name: self.x, self.y_name: self.y}
        if self.stderr is not None:
            points["stderr"] = self.stderr
        if self.branch is not None:
            points["branch"] = self.branch.tolist()
        return analysis.json_safe({"kind": self.kind, "points": points, "error": self.error,
                                   "warnings": self.warnings, "fit": self.fit.to_dict() if self.fit else None})


def series_kind(start: dict) -> tuple[str, str, str, str] | None:
    """``(kind, condition, x column, y column)`` of a series plan's run, else None."""
    return SERIES.get(start.get("plan_name"))


def waveform_points(condition: str, results: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Per series point: the fitted amplitude and its stderr, from the live fits of each group.

    A point whose fit failed is left out and said; so is a point the lock-in
    overloaded at (the signal was clipped: a fluence series' linearity would be
    judged on a flattened top).
    """
    xs, ys, es, notes = [], [], [], []
    for r in results:
        if condition not in r.group:
            continue
        x = r.group[condition]
        if r.result is None or r.result.fit is None:
            notes.append(f"{condition} {x:g}: no fit ({r.error or 'no model'}), left out of the series")
            continue
        overloaded = int(r.result.excluded.get("overloaded", 0))
        if overloaded:
            notes.append(f"{condition} {x:g}: the lock-in overloaded at {overloaded} point(s) (clipped); the "
                         "point is fitted without them — lower the sensitivity if the series must be linear")
        p = r.result.fit.params["amplitude"]
        xs.append(float(x))
        ys.append(float(p["value"]))
        es.append(float(p["stderr"]))
    return np.array(xs), np.array(ys), np.array(es), notes


def single_delay_points(kind: str, condition: str, rows: dict) -> tuple[np.ndarray, np.ndarray,
                                                                         np.ndarray | None, np.ndarray | None]:
    """Per series point of a single-delay series: the signal, signed, and its error.

    With one delay the signal is the reading there. With several it is the
    waveform projected onto the first point's (RMS-sized, and signed, so a loop
    keeps its sign change). The error is the scatter of the repeats at that point
    (standard error of the mean); without repeats there is none, and the fit takes
    its errors from the scatter about the model (and says so).
    """
    keys = ["branch", condition] if kind == "field" else [condition]
    signal, delay = np.asarray(rows["signal"], float), np.asarray(rows["delay"], float)
    grid = np.unique(np.round(delay, 1))
    points: dict[tuple, dict[float, list[float]]] = {}
    for i in range(signal.size):
        key = tuple(rows[k][i] for k in keys)
        points.setdefault(key, {}).setdefault(float(np.round(delay[i], 1)), []).append(signal[i])
    xs, ys, es, branches, reference = [], [], [], [], None
    for key, by_delay in points.items():
        if len(by_delay) < grid.size:
            continue  # cut short by the end of the run: not a whole point
        n = min(len(v) for v in by_delay.values())
        block = np.array([by_delay[d][:n] for d in grid.tolist()], float)  # delays × repeats
        mean = block.mean(axis=1)
        err = block.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.full(mean.size, np.nan)
        if reference is None:  # one delay: the reading itself
            reference = np.ones(1) if mean.size == 1 else mean / (np.linalg.norm(mean) or 1.0)
        xs.append(float(key[-1]))
        ys.append(float(mean @ reference) / np.sqrt(mean.size))
        es.append(float(np.sqrt(np.sum((reference * err) ** 2)) / np.sqrt(mean.size)))
        if kind == "field":
            branches.append(key[0])
    es = np.array(es)
    stderr = es if es.size and np.all(np.isfinite(es)) and np.all(es > 0) else None
    return np.array(xs), np.array(ys), stderr, (np.array(branches) if kind == "field" else None)


def series_result(start: dict, results: list, rows: dict) -> SeriesResult | None:
    """The run's series result, or None if its plan is not a series."""
    spec = series_kind(start)
    if spec is None:
        return None
    kind, condition, x_name, y_name = spec
    branch, notes = None, []
    if kind in WAVEFORM_SERIES:
        x, y, stderr, notes = waveform_points(condition, results)
    else:
        x, y, stderr, branch = single_delay_points(kind, condition, rows)
    out = SeriesResult(kind, x_name, y_name, x, y, stderr, branch, warnings=notes)
    try:
        if kind == "field":
            out.fit = analysis.fit_field(x, y, branch, stderr)
        else:
            out.fit = FITS[kind](x, y, stderr)
    except ValueError as exc:  # too few points, or nothing the data determine: said, never a made-up number
        out.error = str(exc)
    return out


def series_lines(series: SeriesResult | None) -> list[str]:
    """What ``femtospin run`` prints for a series."""
    if series is None:
        return []
    lines = [f"series {series.kind}: {series.x.size} points"]
    if series.fit is None:
        lines.append(f"series {series.kind}: no fit: {series.error}")
    else:
        f = series.fit
        judged = (f"redchi {f.redchi:.2f} (chi2 {f.chi2:.1f} / {f.dof} dof, p = {f.p_value:.3g})"
                  if series.stderr is not None else "errors from the scatter about the fit (no repeats)")
        params = "  ".join(f"{k}={p['value']:.4g}±{p['stderr']:.2g}" if np.isfinite(p["stderr"])
                           else f"{k}={p['value']:.4g} (not determined)" for k, p in f.params.items())
        lines.append(f"series {series.kind}: {params}; {judged}")
        if "linearity" in f.extra:
            lin = f.extra["linearity"]
            lines.append(f"series fluence: linearity p = {lin['p_value']:.3g} "
                         f"({'linear' if lin['linear'] else 'NOT linear'})")
    lines.extend(f"warning: {w}" for w in series.warnings)
    return lines


def plot_series(ax, resid_ax, series: SeriesResult) -> None:
    """The series panel: points with errors, the fit, its residuals."""
    order = np.argsort(series.x)
    err = series.stderr if series.stderr is not None else None
    groups = ([series.branch == b for b in ("down", "up")] if series.branch is not None
              else [np.ones(series.x.size, bool)])
    for sel, label in zip(groups, ("down", "up") if series.branch is not None else ("",)):
        ax.errorbar(series.x[sel], series.y[sel], yerr=None if err is None else err[sel], fmt="o", ms=3,
                    label=label or None)
    if series.fit is not None:
        best = np.asarray(series.fit.best_fit)
        if series.branch is None:
            ax.plot(series.x[order], best[order], "-", label="fit")
        else:
            for sel in groups:
                o = np.argsort(series.x[sel])
                ax.plot(series.x[sel][o], best[sel][o], "-")
        resid_ax.plot(series.x, series.y - best, "o", ms=3)
        resid_ax.axhline(0.0, color="0.5", lw=0.8)
    ax.set_xlabel(series.x_name)
    ax.set_ylabel(series.y_name)
    ax.set_title(f"series: {series.kind}" + (f" — {series.error}" if series.error else ""), fontsize=9)
    if series.branch is not None or series.fit is not None:
        ax.legend(fontsize=7)
    resid_ax.set_xlabel(series.x_name)
    resid_ax.set_ylabel("residual")
