"""The push relay: the aggregator's live deltas turned into absolute hex counts for the wall screens.

The aggregator PUBLISHes one delta per batch on ``Keys.live_channel``
(sequence number, state transitions of cells, public summaries of new
reports). A relay thread in each web process subscribes to that channel,
keeps the absolute count of every cell for every wall view (metric, window,
resolution) in memory, and pushes to the browsers only the cells a batch
touched, with their new absolute counts, plus a "tick" carrying the
aggregator's sequence numbers and the new reports for the ticker.

Why absolute counts and sequence numbers: a browser that misses a message
(reconnect, a slow tab) notices the gap in the tick sequence and reloads the
snapshot from ``/wall/api/snapshot``; applying a message twice is harmless.

Every web process runs its own relay and emits to its own clients only:
Redis pub/sub already reaches every process, so there is no Socket.IO
message queue between them (a display's whole session is one WebSocket in
one process, see ``app/server.py``).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter

import h3
import redis
from flask import Blueprint, current_app, jsonify, request
from flask_socketio import join_room, leave_room, rooms

from app import hexagg, queries
from app.hexagg import parse_cell_field
from app.store.keys import Keys

log = logging.getLogger(__name__)

# The wall's views: (metric, window). ``open`` and ``breaches`` are "now", whatever the window.
WALL_WINDOWS = ("today", "60m", "24h")
VIEWS = tuple(("reports", w) for w in WALL_WINDOWS) + (("open", "now"), ("breaches", "now"))
NAMESPACE = "/wall"
# The ticker shows the newest dozen: more per tick would be pushed only to scroll away unseen.
TICKER_MAX = 12
TICKER_FIELDS = ("category", "kelurahan", "kecamatan", "created_at", "cell9")
# The time-lapse: the last 24 hours in 5-minute frames (the m5 buckets, kept for two days).
TIMELAPSE_FRAMES = 24 * 12


def view_of(metric: str | None, window_name: str | None) -> tuple[str, str]:
    """The view a URL asks for; unknown values fall back to reports today."""
    metric = metric if metric in queries.METRICS else "reports"
    if metric != "reports":
        return metric, "now"
    return metric, window_name if window_name in WALL_WINDOWS else "today"


def room_name(view: tuple[str, str], resolution: int) -> str:
    return f"{view[0]}:{view[1]}:{resolution}"


def load_counts(client, preset, view: tuple[str, str], now: float | None = None
                ) -> tuple[int, int, dict[int, Counter]]:
    """(sequence, window start, resolution -> cell -> count) read atomically with the sequence.

    Counters and the sequence number change together inside the aggregator's
    Lua script, so a MULTI read gives counts that include exactly the deltas
    up to the returned sequence (breaches depend on the clock: not atomic).
    """
    keys = Keys(preset.slug)
    now = time.time() if now is None else now
    metric, window_name = view
    if metric == "breaches":
        seq = int(client.get(keys.live_seq) or 0)
        by_res = queries.overdue_by_resolution(client, keys, hexagg.MAP_RESOLUTIONS, now)
        cells: dict[int, Counter] = {}
        for res, fields in by_res.items():
            cells[res] = Counter()
            for field, count in fields.items():
                cells[res][parse_cell_field(field)[0]] += count
        return seq, 0, cells
    win = queries.window(window_name, preset.timezone, now) if metric == "reports" else None
    pipe = client.pipeline(transaction=True)
    pipe.get(keys.live_seq)
    plan = []
    for res in hexagg.MAP_RESOLUTIONS:
        if win is None:
            pipe.hgetall(keys.hex_counts("all", res))
            plan.append(res)
        else:
            for bucket in win.buckets:
                pipe.hgetall(keys.hex_counts(win.granularity, res, bucket))
                plan.append(res)
    replies = pipe.execute()
    counts: dict[int, Counter] = {res: Counter() for res in hexagg.MAP_RESOLUTIONS}
    for res, mapping in zip(plan, replies[1:]):
        for field, count in mapping.items():
            cell, _, state = parse_cell_field(field)
            if metric == "open" and state != "o":
                continue
            counts[res][cell] += int(count)
    for res in counts:
        counts[res] = Counter({c: n for c, n in counts[res].items() if n})
    return int(replies[0] or 0), (win.start_ts if win else 0), counts


def apply_transitions(counts: dict[int, Counter], metric: str, window_start: int, transitions
                      ) -> dict[int, set[str]]:
    """Apply the aggregator's transitions to one view's counts; the cells touched per resolution."""
    touched: dict[int, set[str]] = {res: set() for res in counts}
    if metric == "breaches":
        return touched  # depends on the clock: reloaded periodically instead
    for cell, _category, from_state, to_state, created_ts in transitions:
        if metric == "reports":
            change = 1 if from_state == "" and created_ts >= window_start else 0
        else:
            change = (to_state == "o") - (from_state == "o")
        if not change:
            continue
        for res in counts:
            parent = h3.cell_to_parent(cell, res)
            counts[res][parent] += change
            touched[res].add(parent)
    return touched


class LiveRelay:
    """Subscribes to the city's live channel and pushes absolute counts of touched cells."""

    def __init__(self, services, socketio, flush_s: float = 0.1, breaches_every_s: float = 5.0):
        self.services = services
        self.socketio = socketio
        self.keys = Keys(services.preset.slug)
        self.flush_s = flush_s
        self.breaches_every_s = breaches_every_s
        self.stopping = threading.Event()
        self.lock = threading.RLock()
        self.seq = 0
        self.views: dict[tuple[str, str], tuple[int, dict[int, Counter]]] = {}
        self.thread: threading.Thread | None = None

    def start(self) -> "LiveRelay":
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.stopping.clear()
                self.thread = threading.Thread(target=self._run, name="pantau-live-relay", daemon=True)
                self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    # -- the loop ---------------------------------------------------------
    def _run(self) -> None:
        while not self.stopping.is_set():
            pubsub = None
            try:
                pubsub = self.services.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.keys.live_channel)
                self._reload_all(emit=True)
                self._loop(pubsub)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
                log.warning("live relay lost Redis (%s); retrying", err)
                self.stopping.wait(1.0)
            except Exception:  # the thread must outlive one bad message; say what it was and go on
                log.exception("live relay failed; restarting it")
                self.stopping.wait(1.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except (redis.RedisError, OSError):
                        pass

    def _loop(self, pubsub) -> None:
        last_breaches = time.monotonic()
        while not self.stopping.is_set():
            deltas = []
            deadline = time.monotonic() + self.flush_s
            while time.monotonic() < deadline:
                message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
                if message and message["type"] == "message":
                    deltas.append(json.loads(message["data"]))
            if deltas:
                self._apply(deltas)
            self._slide_windows()
            if time.monotonic() - last_breaches >= self.breaches_every_s:
                last_breaches = time.monotonic()
                self._reload_view(("breaches", "now"), emit=True)

    def _apply(self, deltas: list[dict]) -> None:
        deltas.sort(key=lambda d: d["seq"])
        fresh = [d for d in deltas if d["seq"] > self.seq]
        new = [{k: summary.get(k) for k in TICKER_FIELDS} for d in deltas for summary in d.get("new", [])]
        first = fresh[0]["seq"] if fresh else self.seq
        if fresh and first != self.seq + 1:
            log.info("live relay missed deltas (%d after %d): reloading", first, self.seq)
            self._reload_all(emit=True)
        elif fresh:
            transitions = [t for d in fresh for t in d["transitions"]]
            last = fresh[-1]["seq"]
            with self.lock:
                for view, (start, counts) in self.views.items():
                    touched = apply_transitions(counts, view[0], start, transitions)
                    for res, cells in touched.items():
                        if cells:
                            self._emit("wall_cells", {"view": list(view), "res": res, "seq": last,
                                                      "cells": {c: counts[res][c] for c in cells}},
                                       room_name(view, res))
                self.seq = last
        self._emit("wall_tick", {"from": min(first, self.seq), "seq": self.seq, "ts": deltas[-1]["ts"],
                                 "new": new[-TICKER_MAX:]})

    def _slide_windows(self) -> None:
        now = time.time()
        for view in VIEWS:
            if view[0] == "reports" and view in self.views:
                start = queries.window(view[1], self.services.preset.timezone, now).start_ts
                if start != self.views[view][0]:
                    self._reload_view(view, emit=True)

    def _reload_all(self, emit: bool) -> None:
        """Reload every view; again while the aggregator moved on between the views' reads."""
        with self.lock:
            for _attempt in range(5):
                seqs = {self._reload_view(view, emit=emit) for view in VIEWS if view[0] != "breaches"}
                if len(seqs) == 1:
                    break
            self._reload_view(("breaches", "now"), emit=emit)

    def _reload_view(self, view, emit: bool) -> int:
        with self.lock:
            seq, start, counts = load_counts(self.services.redis, self.services.preset, view)
            old = self.views.get(view, (0, {}))[1]
            self.views[view] = (start, counts)
            if view[0] != "breaches":
                if seq != self.seq and self.seq:
                    self._emit("wall_resync", {"seq": seq})
                self.seq = seq
            if not emit:
                return seq
            for res, cells in counts.items():
                before = old.get(res, Counter())
                changed = {c: cells.get(c, 0) for c in set(before) | set(cells)
                           if before.get(c, 0) != cells.get(c, 0)}
                if changed:
                    self._emit("wall_cells", {"view": list(view), "res": res, "seq": self.seq,
                                              "cells": changed}, room_name(view, res))
            return seq

    def _emit(self, event: str, data: dict, room: str | None = None) -> None:
        self.socketio.emit(event, data, to=room, namespace=NAMESPACE, ignore_queue=True)


# -- the web side: snapshot endpoint and room joins --------------------------------------
blueprint = Blueprint("wall_live", __name__)


def _resolution_arg() -> int | None:
    """The ``res`` query argument (default 8), or None when it is not a map resolution."""
    raw = request.args.get("res", "8")
    return int(raw) if raw.isdigit() and int(raw) in hexagg.MAP_RESOLUTIONS else None


@blueprint.get("/wall/api/snapshot")
def snapshot():
    """Cell ids and counts of one view at one resolution (the browser builds the polygons)."""
    services = current_app.extensions["pantau"]
    view = view_of(request.args.get("metric"), request.args.get("window"))
    res = _resolution_arg()
    if res is None:
        return jsonify({"error": f"res: must be one of {', '.join(map(str, hexagg.MAP_RESOLUTIONS))} "
                                 f"(got {request.args.get('res')[:20]!r})"}), 400
    seq, _start, counts = load_counts(services.redis, services.preset, view)
    response = current_app.response_class(
        json.dumps({"seq": seq, "view": list(view), "res": res, "cells": dict(counts[res])},
                   separators=(",", ":")), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/wall/api/timelapse")
def timelapse():
    """The frames of the wall's replay: reports created per 5 minutes over the last 24 hours, per cell.

    ``frames[i]`` holds the reports created in ``[start + i*step, start + (i+1)*step)``, all
    categories and states (what arrived, not what is still open), at resolution ``res``; the
    last frame is the 5 minutes under way at ``now``. Cell ids and counts only: nothing about
    a report or the person who made it.
    """
    services = current_app.extensions["pantau"]
    res = _resolution_arg()
    if res is None:
        return jsonify({"error": f"res: must be one of {', '.join(map(str, hexagg.MAP_RESOLUTIONS))} "
                                 f"(got {request.args.get('res')[:20]!r})"}), 400
    keys, step = Keys(services.preset.slug), hexagg.BY_NAME["m5"].seconds
    now = time.time()
    last = int(now // step)
    buckets = list(range(last - TIMELAPSE_FRAMES + 1, last + 1))
    pipe = services.redis.pipeline(transaction=False)
    for bucket in buckets:
        pipe.hgetall(keys.hex_counts("m5", res, bucket))
    frames = []
    for mapping in pipe.execute():
        cells: Counter = Counter()
        for field, count in mapping.items():
            cells[parse_cell_field(field)[0]] += int(count)
        frames.append({c: n for c, n in cells.items() if n})
    response = current_app.response_class(
        json.dumps({"start": buckets[0] * step, "step": step, "now": int(now), "res": res, "frames": frames},
                   separators=(",", ":")), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def install(server, socketio, services) -> LiveRelay:
    """Add the snapshot endpoint and the Socket.IO room joins; the relay starts with the first wall."""
    server.register_blueprint(blueprint)

    @socketio.on("wall_join", namespace=NAMESPACE)
    def join(message):
        view = view_of((message or {}).get("metric"), (message or {}).get("window"))
        res = int((message or {}).get("res", 8))
        if res not in hexagg.MAP_RESOLUTIONS:
            return {"ok": False}
        for room in rooms(namespace=NAMESPACE):
            if room.count(":") == 2:
                leave_room(room, namespace=NAMESPACE)
        join_room(room_name(view, res), namespace=NAMESPACE)
        return {"ok": True, "room": room_name(view, res)}

    # Started by the first wall that connects: a process (or a test) without walls runs no relay.
    relay = LiveRelay(services, socketio)
    server.extensions["pantau_live"] = relay

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(auth=None):
        relay.start()

    return relay
