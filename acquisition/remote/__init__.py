"""The queue server for remote clients (bluesky-queueserver) and the Redis it needs.

Names are imported on first use, so a command pays only for what it uses.
"""

from importlib import import_module

_WHERE = {
    "QueueServer": "._serve",
    "queue_plans": "._serve",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value
