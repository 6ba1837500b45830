"""A progress bar over the events of a run, sized by the start document's ``num_points``."""

from __future__ import annotations

from tqdm import tqdm


class ProgressBar:
    """RunEngine callback: one tick per primary event."""

    def __init__(self, **tqdm_kwargs):
        self._kwargs = tqdm_kwargs
        self._bar = None
        self._primary: set[str] = set()

    def __call__(self, name: str, doc: dict) -> None:
        if name == "start":
            self._bar = tqdm(total=doc.get("num_points"), desc=doc.get("plan_name", "run"), unit="pt",
                             **self._kwargs)
        elif name == "descriptor" and doc.get("name") == "primary":
            self._primary.add(doc["uid"])
        elif name == "event" and doc["descriptor"] in self._primary and self._bar is not None:
            self._bar.update(1)
        elif name == "stop" and self._bar is not None:
            self._bar.close()
            self._bar = None
