"""The scheduled work of the pipeline, as its own job (not inside a stream consumer).

A consumer only turns stream entries into state; it never produces events into the stream it
reads, nor writes back what SQL already holds. What runs on a clock lives here:

* ``relay``: status events whose append to the stream never happened (Redis was down, a crash
  between commit and append) are sent from the outbox (``app.followup.relay_unpublished``).
* ``trim``: stream entries every consumer group has acknowledged are dropped, every partition.
* ``rollups``: /kinerja's day rollups recomputed for the days the persister marked.
* ``partitions``: on a partitioned PostgreSQL ``reports`` (``app.store.partitioning``), the coming
  months' partitions, daily; nothing otherwise.
* ``autoclose``: resolved reports nobody disputed in ``PANTAU_AUTOCLOSE_WORKING_DAYS`` working
  days are closed, through the one change path (``app.followup.change_report``).
* ``notify``: each state change of a report whose reporter asked for updates becomes one e-mail,
  sent through ``PANTAU_SMTP_URL`` and retried with backoff while the server is away
  (``app.citizen_mail``); unset, nothing is sent.

``python -m ingest jobs`` runs them all on their schedules (``app run`` starts it);
``python -m ingest jobs relay trim --once`` runs the named ones once (cron).
"""
from __future__ import annotations

import logging
import threading
import time

from app import citizen_mail, feedback, followup, ops
from app.store import partitioning, rollups

log = logging.getLogger(__name__)

# job name -> seconds between runs
SCHEDULE = {"relay": 5.0, "trim": 5.0, "rollups": 5.0, "autoclose": 60.0, "partitions": 86400.0,
            "notify": 15.0}


class Jobs:
    def __init__(self, services, only: list[str] | None = None):
        self.services = services
        self.names = list(only or SCHEDULE)
        unknown = set(self.names) - set(SCHEDULE)
        if unknown:
            raise ValueError(f"unknown job(s): {', '.join(sorted(unknown))}; known: {', '.join(SCHEDULE)}")
        self.stopping = threading.Event()

    # --- the jobs ---------------------------------------------------------------------------
    def relay(self) -> int:
        sent = followup.relay_unpublished(self.services.engine, self.services.producer)
        if sent:
            log.warning("relayed %d status events from the outbox", sent)
        return sent

    def trim(self) -> int:
        keys = self.services.keys
        return sum(ops.trim_stream(self.services.redis, keys, p) for p in range(keys.partitions))

    def rollups(self) -> int:
        preset = self.services.preset
        return rollups.refresh_dirty(self.services.engine, preset.slug, preset.timezone)

    def partitions(self) -> int:
        return partitioning.ensure(self.services.engine, [self.services.preset.slug])

    def autoclose(self) -> int:
        days = self.services.settings.autoclose_working_days
        if not days:
            return 0
        closed = feedback.auto_close(self.services.engine, self.services.producer, self.services.preset,
                                     working_days=days)
        if closed:
            log.info("closed %d resolved reports nobody disputed", closed)
        return closed

    def notify(self) -> dict:
        done = citizen_mail.notify(self.services)
        if done["sent"] or done["waiting"]:
            log.info("updates by e-mail: %(sent)d sent, %(waiting)d waiting", done)
        return done

    # --- the schedule -----------------------------------------------------------------------
    def run_once(self) -> dict:
        return {name: self._run(name) for name in self.names}

    def _run(self, name: str):
        try:
            return getattr(self, name)()
        except Exception as err:     # one failing job (Redis or the database away) never stops the rest
            log.warning("job %s failed: %s", name, err)
            return None

    def run(self, rounds: int | None = None) -> None:
        due = {name: 0.0 for name in self.names}
        done = 0
        while not self.stopping.is_set():
            now = time.monotonic()
            for name in self.names:
                if now >= due[name]:
                    self._run(name)
                    due[name] = time.monotonic() + SCHEDULE[name]
            done += 1
            if rounds is not None and done >= rounds:
                return
            self.stopping.wait(max(0.05, min(due.values()) - time.monotonic()))

    def install_signal_handlers(self) -> None:
        import signal

        def stop(_signum, _frame):
            self.stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
