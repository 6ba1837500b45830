"""What the commands say about runs and fits: the delay field, condition labels, fit lines.

Plain functions of start documents and fit dicts, kept apart from the live analysis so that
``ls``, ``show`` and ``export`` do not import the analysis to print a line.
"""

from __future__ import annotations


def delay_field(start: dict) -> str:
    """The event field holding a run's delay (its scan dimension)."""
    return ((start.get("hints") or {}).get("dimensions") or [[["stage_delay"]]])[0][0][0]


def label(group: dict) -> str:
    """``name=value, …`` of a condition group."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in group.items())


def fit_line(group: dict, component: str | None, params: dict | None, error: str = "") -> str:
    """``fit <group>: <component>, name=value±stderr …`` of the varying parameters, or why there is no fit.

    ``params`` as in the ``femtospin analyze`` JSON: ``{name: {"value", "stderr", "vary"}}``.
    """
    head = label(group)
    if params is None:
        return f"fit {head}: {error or 'no model'}".replace(" :", ":")

    def err(p):
        return f"{p['stderr']:.2g}" if p["stderr"] is not None else "?"

    values = "  ".join(f"{n}={p['value']:.4g}±{err(p)}" for n, p in params.items() if p["vary"])
    return f"fit {head}: {component}, {values}".replace(" :", ":")


def fit_brief(fits: list[dict]) -> str:
    """One cell for ``ls``: ``τ_es 104±0.4 fs`` of the first fitted group (``+N`` more), or why there is none."""
    fitted = [f for f in fits if f.get("fit") is not None]
    if not fitted:
        return "no fit" if fits else "—"
    params = fitted[0]["fit"]["params"]
    name, p = next(((n, params[n]) for n in ("tau_es_fs", "tau_m_fs") if n in params),
                   next(((n, q) for n, q in params.items() if q["vary"]), (None, None)))
    if name is None:
        return "fitted"
    symbol = {"tau_es_fs": "τ_es", "tau_m_fs": "τ_M"}.get(name, name)
    err = f"{p['stderr']:.2g}" if p.get("stderr") is not None else "?"
    more = f" (+{len(fitted) - 1})" if len(fitted) > 1 else ""
    unit = " fs" if name.endswith("_fs") else ""
    return f"{symbol} {p['value']:.4g}±{err}{unit}{more}"


def condition_groups(rows: dict, slow: list[str]):
    """``(group, selection)`` for each combination of the slow conditions in ``rows`` (one group without any)."""
    import numpy as np  # here, not at the top: ls and show import this module and never group rows

    n = len(rows["delay"])
    keys = sorted({tuple(r) for r in zip(*(np.asarray(rows[c]).tolist() for c in slow))}) if slow else [()]
    for key in keys:
        sel = np.ones(n, bool)
        for c, v in zip(slow, key):
            sel &= np.asarray(rows[c]) == v
        yield dict(zip(slow, key)), sel
