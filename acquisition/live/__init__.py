"""Live analysis: fits while a run is measured (the RunEngine callback, its refitting worker and the store of
analysis runs), series results and the report.

Names are imported on first use, so a command pays only for what it uses.
"""

from importlib import import_module

_WHERE = {
    "LiveAnalysis": "._live",
    "SeriesResult": "._live_series",
    "analysis_options": "._live",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
