"""``femtospin analyze --mode moke``: a TR-MOKE long-format CSV analysed offline (docs/analysis.md contract).

Columns ``delay_fs, signal`` and any of ``kerr`` (rotation/ellipticity), ``state``
(P/AP), ``magnetization`` (±1), ``repeat``, ``overload``, ``pump_power`` — what
``femtospin export UID --format csv`` writes for a ``moke_scan``. The static Kerr
signals come from ``--static rotation=V±E`` (typed in, and reported so) or from the
stored run (``--run UID``: its ``static_kerr`` readings, chop factor, pump duration
and nominal power, the options the live analysis used, so the stored fit is
reproduced).
"""

from __future__ import annotations

import math

from femtospin import analysis

from ._cmd_analysis import InputError, _check_output, parse_fix, read_csv, report

MOKE_COLUMNS = ("kerr", "state", "magnetization", "repeat", "overload", "pump_power")
TEXT_COLUMNS = ("kerr", "state")


def parse_static(items: list[str] | None) -> dict:
    """``["rotation=0.05±0.001", "ellipticity=0.03"]`` → ``{"rotation": (0.05, 0.001), "ellipticity": (0.03, 0)}``."""
    out = {}
    for item in items or []:
        name, sep, rest = item.partition("=")
        value, _, err = rest.replace("+-", "±").partition("±")
        try:
            v, e = float(value), float(err) if err else 0.0
        except ValueError:
            sep = ""
        if not sep or name.strip() not in analysis.KERR or not (math.isfinite(v) and v != 0 and math.isfinite(e)
                                                                and e >= 0):
            raise InputError(f"--static {item!r}: expected rotation=V±E or ellipticity=V±E (V finite, non-zero; "
                             f"E ≥ 0)")
        out[name.strip()] = (v, e)
    return out


def run_static(uid: str, data_dir) -> tuple[dict, dict]:
    """The stored run's static Kerr signals and the options its live analysis used."""
    from ..live._live_moke import STATIC_FIELDS, MokeStrategy
    from ..storage._storage import data_directory, load_run

    try:
        run = load_run(uid, data_directory(data_dir))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise InputError(f"--run {uid}: {exc}") from None
    strategy = MokeStrategy(run.start)
    try:
        table = run.table("static_kerr")
    except (KeyError, ValueError):
        table = {}
    if table:
        n = len(table["lockin_aux_in"])
        strategy.static_rows = {k: list(table[f]) if f in table else [None] * n for k, f in STATIC_FIELDS.items()}
    try:
        static, _ = strategy.static()
    except ValueError as exc:
        raise InputError(f"--run {uid}: static Kerr signal: {exc}") from None
    if not static:
        raise InputError(f"--run {uid}: the run has no static Kerr signal (measured or typed in)")
    return static, {"resolution_fwhm_fs": strategy.fwhm, "reference_level": strategy.nominal,
                    "fix_sources": {"resolution_fwhm_fs": "the run's pump duration"}}


def analyze_moke_file(args) -> int:
    """Read, validate, analyse, write the JSON and print the summary; errors are one line (exit 2)."""
    _check_output(args.json)
    fix = parse_fix(args.fix)
    typed = parse_static(args.static)
    if typed and args.run:
        raise InputError("--static and --run: give the static Kerr signals one way")
    data = read_csv(args.waveforms, ("delay_fs", "signal"), MOKE_COLUMNS, text=TEXT_COLUMNS)
    options: dict = {}
    static = analysis.typed_static(typed) if typed else {}
    if args.run:
        static, options = run_static(args.run, args.data_dir)
    if args.reference_level is not None:
        options["reference_level"] = args.reference_level
    if "resolution_fwhm_fs" in fix:
        options["resolution_fwhm_fs"] = fix["resolution_fwhm_fs"]
    if options.get("reference_level") is not None and "pump_power" not in data:
        options.pop("reference_level")
    model = args.model or "three-temperature"
    if model not in analysis.MOKE_MODELS:
        raise InputError(f"--model {model}: TR-MOKE models are {', '.join(analysis.MOKE_MODELS)}")
    try:
        result = analysis.analyze_moke(
            data["delay_fs"], data["signal"], kerr=data.get("kerr"), state=data.get("state"),
            magnetization=data.get("magnetization"), repeat=data.get("repeat"),
            overload=None if "overload" not in data else data["overload"].astype(bool),
            reference=data.get("pump_power"), reference_level=options.get("reference_level"), static=static,
            model=model, fix={k: v for k, v in fix.items() if k != "resolution_fwhm_fs"},
            resolution_fwhm_fs=options.get("resolution_fwhm_fs"), fix_sources=options.get("fix_sources"))
    except ValueError as exc:
        raise InputError(f"{args.waveforms}: {exc}") from None
    return report(args.json, result.to_dict(), summary(result))


def summary(result: analysis.MokeResult) -> list[str]:
    """The fit with its goodness, the static Kerr signals, the spin accumulation peaks and the warnings."""
    from ..live._live import GroupResult
    from ..live._live_moke import summary_lines

    waves = (f"{w.name} ({w.n_sweeps} sweeps, noise from {w.noise_method})" for w in result.waveforms)
    lines = [f"TR-MOKE: {', '.join(waves)}"]
    if result.fit is not None:
        f = result.fit
        lines.append(f"fit {f.model} of {result.fitted}: redchi {f.redchi:.3f} (chi2 {f.chi2:.1f} / {f.dof} dof, "
                     f"p = {f.p_value:.3g})")
        for name, p in f.params.items():
            origin = "" if p["vary"] else f"  fixed: {p.get('source', '')}"
            lines.append(f"  {name:20s} {p['value']:.6g} ± {p['stderr']:.2g}{origin}")
    lines += [line for line in summary_lines([GroupResult({}, 0, result)]) if not line.startswith(str(result.fitted))]
    lines.extend(f"warning: {w}" for w in result.warnings)
    return lines
