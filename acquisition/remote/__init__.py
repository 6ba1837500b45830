"""The queue server for remote clients (bluesky-queueserver) and the Redis it needs.

Names are imported on first use, so a command pays only for what it uses.
"""

from .._lazy import lazy_exports

_WHERE = {
    "QueueServer": "._serve",
    "queue_plans": "._serve",
}

__all__ = sorted(_WHERE)


__getattr__ = lazy_exports(__name__, _WHERE)
