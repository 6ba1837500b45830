"""RunEngine set-up: durable storage first, then progress and anything else subscribed."""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path

from bluesky import RunEngine, SupplementalData
from bluesky.utils import RunEngineInterrupted

from femtospin.devices import Table

from ._baseline import Answering
from ._signals import StopSignals
from ._watch import LaserWatch
from .cli._cli import signal_label
from .cli._progress import ProgressBar
from .live._live import LiveAnalysis, LiveFigure, display_available
from .storage._catalog import Target, ensure_service, parse_catalog
from .storage._storage import RunWriter, data_directory


class Session:
    """A RunEngine bound to one table, writing every run to ``data_dir``.

    The table is attached to the RunEngine (:meth:`Table.attach`), so plans stay
    unchanged on a fast simulated table. With a power meter on the table and a
    threshold (``laser_threshold_W``, else the profile's ``laser.threshold_W``),
    runs suspend while the laser is down (:class:`LaserWatch`). With a ``catalog``
    (``"embedded"``, a Tiled URI or a :class:`Target`), the catalog's ingest service is
    started and told after each run; the RunEngine itself never talks to Tiled.
    Ctrl-C, SIGTERM and SIGHUP abort a run the same way (:class:`StopSignals`);
    ``stop_signals=False`` keeps bluesky's own Ctrl-C handling (the queue server's worker);
    ``run_engine`` is the RunEngine class (the queue server's checks the metadata of each call).
    """

    def __init__(self, table: Table, data_dir: str | Path | None = None, *, progress: bool = False,
                 operator: str | None = None, laser_threshold_W: float | None = None, live: bool = False,
                 report_dir: str | Path | None = None, catalog: str | Target | None = None,
                 stop_signals: bool = True, run_engine: type = RunEngine):
        self.table = table
        self.writer = RunWriter(data_directory(data_dir))
        self.catalog = (catalog if isinstance(catalog, Target) or catalog is None
                        else parse_catalog(catalog, self.writer.directory))
        self.laser = None
        self.signals = StopSignals(suspended=lambda: self.laser is not None and self.laser.suspender.tripped)
        self.RE = run_engine({"operator": operator or os.environ.get("USER", "unknown"), **table.metadata},
                            **({"context_managers": [self.signals]} if stop_signals else {}))
        self.RE.subscribe(self.writer)  # first, so every later callback sees stored documents
        self.uids: list[str] = []  # runs started by the last :meth:`run`, also when it raised
        self.RE.subscribe(lambda name, doc: self.uids.append(doc["uid"]), "start")
        # every knob and its configuration at start and end of each run: enough to re-analyze or replay
        # (read through Answering, so a failed instrument cannot cost the others' closing readings)
        self.RE.preprocessors.append(SupplementalData(baseline=[Answering(d) for d in table.devices().values()]))
        if progress:
            self.RE.subscribe(ProgressBar())
        # live fits run on their own thread; the callback itself only appends rows
        self.live = LiveAnalysis(self.writer.directory, report_dir=report_dir) if live else None
        if self.live is not None:
            self.RE.subscribe(self.live)
            if display_available():  # otherwise the report PNG at the end is the figure
                self.RE.subscribe(LiveFigure(self.live))
        if self.catalog is not None:
            self._tell_catalog("start", {})  # the service warms up while the first run is measured
            self.RE.subscribe(self._tell_catalog, "stop")
        table.attach(self.RE)
        threshold = laser_threshold_W or table.metadata.get("laser", {}).get("threshold_W")
        if table.power_meter is not None and threshold:
            self.laser = LaserWatch(table.power_meter, threshold, clock=table.clock)
            self.laser.install(self.RE)

    def _tell_catalog(self, name, doc) -> None:
        try:
            ensure_service(self.catalog)
        except OSError as exc:  # the run is stored; the next service started for this directory ingests it
            print(f"catalog: could not start the ingest service: {exc}", file=sys.stderr)

    @property
    def data_dir(self) -> Path:
        return self.writer.directory

    def run(self, plan) -> tuple[str, ...]:
        """Run ``plan``; returns the uids of the runs it made.

        An interruption (Ctrl-C, SIGTERM, SIGHUP, a pause request) aborts the run:
        the plan's cleanup leaves the table safe and the stop document records
        ``abort``; then :class:`RunEngineInterrupted` is raised and
        :attr:`interrupted_by` names the signal. :attr:`uids` lists the runs started.
        """
        self.signals.reset()
        self.uids = []
        with self.laser if self.laser is not None else nullcontext():
            try:
                return self.RE(plan)
            except RunEngineInterrupted:
                if self.RE.state == "paused":
                    self.RE.abort(reason=f"interrupted by {self.interrupted_by}")
                raise

    @property
    def interrupted_by(self) -> str:
        """The stop signal that ended the last run (``Ctrl-C``, ``SIGTERM``, ``SIGHUP``), else ``the user``."""
        received = self.signals.received
        return signal_label(received) if received is not None else "the user"
