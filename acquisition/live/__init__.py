"""Live analysis: fits while a run is measured (the RunEngine callback, its refitting worker and the store of
analysis runs), series results and the report.

Names are imported on first use, so a command pays only for what it uses.
"""

from .._lazy import lazy_exports

_WHERE = {
    "LiveAnalysis": "._live",
    "SeriesResult": "._live_series",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_exports(__name__, _WHERE)
