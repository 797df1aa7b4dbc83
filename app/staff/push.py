"""The console's queue by push: reports written to SQL are announced, open consoles refresh at once.

The persister announces each batch after its commit (``announce``: report ids and the time each was
accepted, never their content) on ``Keys.queue_channel``; every web process relays the channel to the
consoles connected to it on the ``/dispatch`` Socket.IO namespace (``QueueRelay``, started by the
first console). The browser coalesces announcements and re-reads its page through the usual Dash
callback, so the queue shows what SQL holds, with the viewer's own filters, page, ticked rows and
scroll left as they were. Only a signed-in account that may open /dispatch connects; what it receives
says only that something changed (the refresh itself checks the session again).
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
FLUSH_S = 0.05        # announcements within this are sent as one message


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
        while not self.stopping.is_set():
            message = pubsub.get_message(timeout=1.0)
            if not message or message["type"] != "message":
                continue
            batch = [json.loads(message["data"])]
            deadline = time.monotonic() + FLUSH_S
            while time.monotonic() < deadline:
                more = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
                if more and more["type"] == "message":
                    batch.append(json.loads(more["data"]))
            self.socketio.emit(EVENT, {"new": sum(len(b.get("new", [])) for b in batch),
                                       "changed": sum(len(b.get("changed", [])) for b in batch),
                                       "accepted": [a for b in batch for a in b.get("accepted", [])][-50:],
                                       "ts": time.time()}, to=ROOM, namespace=NAMESPACE, ignore_queue=True)


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
