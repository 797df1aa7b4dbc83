"""The console's queue by push: reports written to SQL are announced, open consoles update at once.

The persister announces each batch after its commit (``announce``: report ids and the time each was
accepted, never their content) on ``Keys.queue_channel``; every web process relays the channel to the
consoles connected to it on the ``/dispatch`` Socket.IO namespace (``QueueRelay``, started by the
first console), at most one message per ``COALESCE_S`` (the first of a quiet spell at once), each
naming the new and changed reports of its window. The browser sends one update at a time through the
queue's Dash callback, which reads the viewer's own page (filters, page, scope) and sends back only
the rows that came, went or changed (``row_delta``, applied as a ``dash.Patch``), with the counts
moved by the new reports alone; the ticked rows, the open row and the scroll stay as they were.
Only a signed-in account that may open /dispatch connects; a message names report ids (opaque, of
the city's channel), never their content, and the update itself checks the session again.
"""
from __future__ import annotations

import json
import logging
import threading
import time

import redis
from app.auth import permissions

log = logging.getLogger(__name__)

NAMESPACE = "/dispatch"
ROOM = "queue"
EVENT = "queue_changed"
FLUSH_S = 0.02        # announcements this close are one message, even the first of a quiet spell
COALESCE_S = 0.25     # at most one message per console this often
MAX_IDS = 500         # more new reports in one window: the message says "overflow" (a full re-read)


def announce(client, keys, created: list, changes: list[dict]) -> None:
    """After the batch is in SQL: which reports changed, and when each new one was accepted."""
    if not created and not changes:
        return
    message = {"new": [r.id for r in created], "changed": [c["report_id"] for c in changes],
               "accepted": [r.created_at.timestamp() for r in created], "ts": time.time()}
    try:
        client.publish(keys.queue_channel, json.dumps(message, separators=(",", ":")))
    except redis.RedisError as err:   # the row is stored; a console still sees it on its next read
        log.warning("queue announcement not sent: %s", err)


class QueueRelay:
    """Subscribes to the city's queue channel and pushes each batch's summary to the consoles."""

    def __init__(self, services, socketio):
        self.services, self.socketio = services, socketio
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def start(self) -> "QueueRelay":
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.stopping.clear()
                self.thread = threading.Thread(target=self._run, name="pantau-queue-relay", daemon=True)
                self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            pubsub = None
            try:
                pubsub = self.services.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.services.keys.queue_channel)
                self._loop(pubsub)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
                log.warning("queue relay lost Redis (%s); retrying", err)
                self.stopping.wait(1.0)
            except Exception:  # the thread must outlive one bad message
                log.exception("queue relay failed; restarting it")
                self.stopping.wait(1.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except (redis.RedisError, OSError):
                        pass

    def _loop(self, pubsub) -> None:
        last = 0.0
        while not self.stopping.is_set():
            message = pubsub.get_message(timeout=1.0)
            if not message or message["type"] != "message":
                continue
            batch = [json.loads(message["data"])]
            # the first of a quiet spell goes at once (after FLUSH_S); then at most one per COALESCE_S
            deadline = max(time.monotonic() + FLUSH_S, last + COALESCE_S)
            while time.monotonic() < deadline:
                more = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
                if more and more["type"] == "message":
                    batch.append(json.loads(more["data"]))
            last = time.monotonic()
            self.socketio.emit(EVENT, summary(batch), to=ROOM, namespace=NAMESPACE, ignore_queue=True)


def summary(batch: list[dict]) -> dict:
    """One message for the announcements of a window: the new and changed report ids (new ones
    first seen at ``since``, the earliest announcement's time), ``overflow`` past ``MAX_IDS``."""
    new = [i for b in batch for i in b.get("new", [])]
    changed = list(dict.fromkeys(i for b in batch for i in b.get("changed", [])))
    out = {"new": new[:MAX_IDS], "changed": changed[:MAX_IDS], "since": min(b.get("ts", 0) for b in batch),
           "accepted": [a for b in batch for a in b.get("accepted", [])][-50:], "ts": time.time()}
    if len(new) > MAX_IDS or len(changed) > MAX_IDS:
        out["overflow"] = True
    return out


def row_delta(before: list, after: list):
    """How the rows on screen (``before``: [id, version] in order) become ``after``: the indexes to
    delete (highest first), then the (index, id) to insert in that order — new rows and rows whose
    version changed. None when rows that stay changed their order (then the page is drawn anew)."""
    before = [tuple(r) for r in before]
    after = [tuple(r) for r in after]
    wanted = set(after)
    kept = [r for r in before if r in wanted]
    staying = set(kept)
    if kept != [r for r in after if r in staying]:
        return None
    deletes = [i for i in range(len(before) - 1, -1, -1) if before[i] not in staying]
    inserts = [(j, r[0]) for j, r in enumerate(after) if r not in staying]
    return deletes, inserts


def install(server, socketio, services) -> QueueRelay:
    """The ``/dispatch`` namespace: a console joins the queue room; the relay starts with the first."""
    from flask_login import current_user
    from flask_socketio import ConnectionRefusedError, join_room

    relay = QueueRelay(services, socketio)
    server.extensions["pantau_queue_push"] = relay

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(auth=None):
        role = getattr(current_user, "role", None) if current_user.is_authenticated else None
        if not permissions.can_open(role, "/dispatch"):
            raise ConnectionRefusedError("login required: an account that may open /dispatch")
        join_room(ROOM, namespace=NAMESPACE)
        relay.start()

    return relay
