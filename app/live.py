"""The push relay: the aggregator's live deltas turned into absolute hex counts for the wall screens.

The aggregator PUBLISHes one delta per batch on ``Keys.live_channel`` (SPUBLISH on each
partition's ``Keys.live_shard_channel`` where the server has sharded pub/sub, Redis 7+)
(sequence number, state transitions of cells, public summaries of new
reports). A relay thread in each web process subscribes to that channel,
keeps the absolute count of every cell for every wall view (metric, window,
resolution) in memory, and pushes to the browsers only the cells a batch
touched, with their new absolute counts, plus a "tick" carrying the
aggregator's sequence numbers and the new reports for the ticker.

Why absolute counts and sequence numbers: a browser that misses a message
(reconnect, a slow tab) notices the gap in the tick sequence and reloads the
snapshot from ``/wall/api/snapshot``; applying a message twice is harmless.

The panels around the map (KPIs, categories, agencies, spikes) ride the same push: the relay
renders them once per process and language (``panel_source``, handed over by the wall's
callbacks), at most every ``PANEL_EVERY_S`` while reports arrive and every ``PANEL_IDLE_S``
otherwise, and sends only the sections that changed ("wall_panels", room ``panels:<lang>``).
A "wall_beat" every ``BEAT_S`` carries the age of the aggregator's own heartbeat, so a quiet
city is not "late" and a stopped aggregator is, with no display making a request.

Every web process runs its own relay and emits to its own clients only:
Redis pub/sub already reaches every process, so there is no Socket.IO
message queue between them (a display's whole session is one WebSocket in
one process, see ``app/server.py``).

Who may connect, and how many (``SocketGate``, in front of Engine.IO, before a
WebSocket exists): only from the page's own origin (or ``PANTAU_SOCKET_ORIGINS``),
only with a staff session or a display token (``app.auth.displays``), over
WebSocket only, at most ``PANTAU_SOCKETS_PER_DISPLAY`` per display token and
``PANTAU_SOCKETS_PER_ACCOUNT`` per staff account (a room of a hundred screens behind
one address is a hundred credentials, not one address; ``PANTAU_SOCKETS_PER_ADDRESS``
adds a cap by address where wanted), and ``resolved_sockets_per_process()`` per
process (always below the thread count:
each WebSocket holds a gunicorn thread for its whole life, so HTTP keeps the
rest). ``SocketWatch`` closes a connection that joined no view within
``PANTAU_SOCKET_JOIN_S`` and one whose display token was revoked or whose
staff account was disabled.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import h3
import redis
from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from flask_socketio import join_room, leave_room, rooms

from app import hexagg, queries
from app.auth import displays
from app.auth.users import load_user
from app.hexagg import parse_cell_field
from app.store.keys import Keys
from app.store.redis_conn import sharded_pubsub
from app.workflow import OPEN
from app.staff import push

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
# The panels: re-rendered at most every PANEL_EVERY_S while deltas arrive, every PANEL_IDLE_S
# otherwise (ages, breaches and acknowledgements move with the clock, not with reports).
PANEL_EVERY_S = 1.0
PANEL_IDLE_S = 2.0
BEAT_S = 1.0
PANEL_LANGUAGES = ("id", "en")
AGGREGATOR_GROUP = "aggregator"


def panel_room(lang: str) -> str:
    return f"panels:{lang}"


def feed_age(client, keys, now: float | None = None) -> float | None:
    """Seconds since the aggregator last said it was alive (its consumers' heartbeats), or None."""
    now = time.time() if now is None else now
    seen = []
    for raw in client.hvals(keys.consumer_stats):
        try:
            beat = json.loads(raw)
        except ValueError:
            continue
        if isinstance(beat, dict) and beat.get("group") == AGGREGATOR_GROUP and \
                isinstance(beat.get("seen"), (int, float)):
            seen.append(float(beat["seen"]))
    return max(0.0, now - max(seen)) if seen else None


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
    With a partitioned stream the sequence is the sum of the partitions' own.
    """
    seqs, start, counts = load_counts_parts(client, preset, view, now)
    return sum(seqs), start, counts


def load_counts_parts(client, preset, view: tuple[str, str], now: float | None = None
                      ) -> tuple[tuple[int, ...], int, dict[int, Counter]]:
    """``load_counts`` with each partition's sequence: one MULTI per partition (its own slot)."""
    keys = Keys.for_city(preset)
    now = time.time() if now is None else now
    metric, window_name = view
    if metric == "breaches":
        seqs = tuple(int(client.get(part.live_seq) or 0) for part in keys.parts())
        by_res = queries.overdue_by_resolution(client, keys, hexagg.MAP_RESOLUTIONS, now)
        cells: dict[int, Counter] = {}
        for res, fields in by_res.items():
            cells[res] = Counter()
            for field, count in fields.items():
                cells[res][parse_cell_field(field)[0]] += count
        return seqs, 0, cells
    win = queries.window(window_name, preset.timezone, now) if metric == "reports" else None
    counts: dict[int, Counter] = {res: Counter() for res in hexagg.STORED_RESOLUTIONS}
    seqs = []
    for part in keys.parts():
        pipe = client.pipeline(transaction=True)
        pipe.get(part.live_seq)
        plan = []
        for res in hexagg.STORED_RESOLUTIONS:     # the others are summed from the next finer one below
            for key in queries.hex_count_keys(part, res, win):
                pipe.hgetall(key)
                plan.append(res)
        replies = pipe.execute()
        seqs.append(int(replies[0] or 0))
        for res, mapping in zip(plan, replies[1:]):
            for field, count in mapping.items():
                cell, _, state = parse_cell_field(field)
                if metric == "open" and state != OPEN:
                    continue
                counts[res][cell] += int(count)
    for res in counts:
        counts[res] = Counter({c: n for c, n in counts[res].items() if n})
    for res in hexagg.MAP_RESOLUTIONS:
        if res not in counts:
            counts[res] = Counter(hexagg.coarsen_cells(counts[hexagg.stored_resolution(res)], res))
    return tuple(seqs), (win.start_ts if win else 0), {res: counts[res] for res in hexagg.MAP_RESOLUTIONS}


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
            change = (to_state == OPEN) - (from_state == OPEN)
        if not change:
            continue
        for res in counts:
            parent = h3.cell_to_parent(cell, res)
            counts[res][parent] += change
            touched[res].add(parent)
    return touched


class ChannelThread:
    """A web process's thread on one Redis pub/sub channel: started once (again if it died), stopped
    with ``stop``; a lost Redis is logged, waited out and subscribed to again (``_follow``)."""
    thread_name = "pantau-channel"

    def __init__(self):
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        # lang -> the panels' sections as last pushed (JSON text, to send only what changed)
        self.panel_source = None
        self.panels_sent: dict[str, dict[str, str]] = {}
        self.panels_full: dict[str, dict] = {}
        self.panels_at = 0.0
        self.beat_at = 0.0
        self.renders = 0          # panel renders (one per language per period, whatever the walls)

    def start(self):
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.stopping.clear()
                self.thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
                self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        raise NotImplementedError

    def _follow(self, channel, serve, while_lost=None) -> None:
        """Subscribe to ``channel`` (a name, or a function that subscribes a pubsub) and hand the
        subscription to ``serve`` until stopping. A lost Redis, or any other failure (the thread must outlive one bad message: it is logged), waits a
        second and subscribes again; ``while_lost`` runs after each wait."""
        while not self.stopping.is_set():
            pubsub = None
            try:
                pubsub = self.services.redis.pubsub(ignore_subscribe_messages=True)
                if callable(channel):
                    channel(pubsub)
                else:
                    pubsub.subscribe(channel)
                serve(pubsub)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
                log.warning("%s lost Redis (%s); retrying", self.thread_name, err)
                self.stopping.wait(1.0)
                if while_lost is not None:
                    while_lost()
            except Exception:  # noqa: BLE001  logged with its traceback; the thread goes on
                log.exception("%s failed; restarting it", self.thread_name)
                self.stopping.wait(1.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except (redis.RedisError, OSError):
                        pass


class LiveRelay(ChannelThread):
    """Subscribes to the city's live channel and pushes absolute counts of touched cells."""
    thread_name = "pantau-live-relay"

    def __init__(self, services, socketio, flush_s: float = 0.1, breaches_every_s: float = 5.0):
        super().__init__()
        self.services = services
        self.socketio = socketio
        self.keys = Keys.for_city(services.preset)
        self.flush_s = flush_s
        self.breaches_every_s = breaches_every_s
        self.sharded = False      # listening on the partitions' shard channels (``sharded_pubsub``)
        self.lock = threading.RLock()
        self.seq = 0              # the sum of the partitions' sequences (the one a screen follows)
        self.part_seqs: tuple[int, ...] = ()
        self.views: dict[tuple[str, str], tuple[int, dict[int, Counter]]] = {}

    # -- the loop ---------------------------------------------------------
    def _run(self) -> None:
        self._follow(self._subscribe, self._serve)

    def _subscribe(self, pubsub) -> None:
        self.sharded = sharded_pubsub(self.services.redis, self.keys)
        if self.sharded:     # every partition's shard channel (Redis 7+), else the city channel
            pubsub.ssubscribe(*[part.live_shard_channel for part in self.keys.parts()])
        else:
            pubsub.subscribe(self.keys.live_channel)

    def _serve(self, pubsub) -> None:
        self._reload_all(emit=True)
        self._loop(pubsub)

    def _loop(self, pubsub) -> None:
        last_breaches = time.monotonic()
        while not self.stopping.is_set():
            deltas = []
            deadline = time.monotonic() + self.flush_s
            while time.monotonic() < deadline:
                wait = max(0.0, deadline - time.monotonic())
                if self.sharded and hasattr(pubsub, "get_sharded_message"):    # a cluster's shards
                    message = pubsub.get_sharded_message(ignore_subscribe_messages=True, timeout=wait)
                    if message is None:
                        time.sleep(min(wait, 0.005))
                else:
                    message = pubsub.get_message(timeout=wait)
                if message and message["type"] in ("message", "smessage"):
                    deltas.append(json.loads(message["data"]))
            if deltas:
                self._apply(deltas)
            self._slide_windows()
            now = time.monotonic()
            if now - self.panels_at >= (PANEL_EVERY_S if deltas else PANEL_IDLE_S):
                self.panels_at = now
                self._push_panels()
            if now - self.beat_at >= BEAT_S:
                self.beat_at = now
                self._beat()
            if time.monotonic() - last_breaches >= self.breaches_every_s:
                last_breaches = time.monotonic()
                self._reload_view(("breaches", "now"), emit=True)

    def _apply(self, deltas: list[dict]) -> None:
        # Each partition numbers its own deltas; a screen follows their sum, which moves by one
        # per delta, so a gap in any partition is a gap in the sum.
        deltas.sort(key=lambda d: (d.get("part", 0), d["seq"]))
        part_seqs = list(self.part_seqs) or [self.seq]
        fresh, gap = [], False
        for d in deltas:
            part = d.get("part", 0)
            if part >= len(part_seqs):
                part_seqs += [0] * (part + 1 - len(part_seqs))
            if d["seq"] <= part_seqs[part]:
                continue
            if d["seq"] != part_seqs[part] + 1:
                gap = True
            part_seqs[part] = d["seq"]
            fresh.append(d)
        new = [{k: summary.get(k) for k in TICKER_FIELDS} for d in deltas for summary in d.get("new", [])]
        first = self.seq + 1 + int(gap) if fresh else self.seq
        if gap:
            log.info("live relay missed deltas (%s after %s): reloading", part_seqs, self.part_seqs)
            self._reload_all(emit=True)
        elif fresh:
            transitions = [t for d in fresh for t in d["transitions"]]
            last = self.seq + len(fresh)
            with self.lock:
                for view, (start, counts) in self.views.items():
                    touched = apply_transitions(counts, view[0], start, transitions)
                    for res, cells in touched.items():
                        if cells:
                            self._emit("wall_cells", {"view": list(view), "res": res, "seq": last,
                                                      "cells": {c: counts[res][c] for c in cells}},
                                       room_name(view, res))
                self.seq = last
                self.part_seqs = tuple(part_seqs)
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
            seqs, start, counts = load_counts_parts(self.services.redis, self.services.preset, view)
            seq = sum(seqs)
            old = self.views.get(view, (0, {}))[1]
            self.views[view] = (start, counts)
            if view[0] != "breaches":
                if seq != self.seq and self.seq:
                    self._emit("wall_resync", {"seq": seq})
                self.seq = seq
                self.part_seqs = seqs
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

    # -- the panels and the heartbeat ------------------------------------------
    def _languages(self) -> list[str]:
        """The languages some wall of this process shows (a room with members)."""
        rooms_of_ns = self.socketio.server.manager.rooms.get(NAMESPACE, {})
        return [lang for lang in PANEL_LANGUAGES if rooms_of_ns.get(panel_room(lang))]

    def render_panels(self, lang: str) -> dict:
        """The panels now for one language, rendered once for every wall (the last render on error)."""
        if self.panel_source is None:
            return {}
        panels = self.panel_source(lang)
        self.renders += 1
        with self.lock:
            self.panels_full[lang] = panels
        return panels

    def current_panels(self, lang: str) -> dict:
        """What a wall that just joined needs: the panels as last pushed, rendered if none were."""
        with self.lock:
            panels = self.panels_full.get(lang)
        return panels if panels is not None else self.render_panels(lang)

    def _push_panels(self) -> None:
        for lang in self._languages():
            try:
                panels = self.render_panels(lang)
            except Exception:  # a database or Redis hiccup: the walls keep the last panels, the map goes on
                log.exception("wall panels not rendered; the walls keep the last ones")
                return
            sent = self.panels_sent.setdefault(lang, {})
            changed = {}
            for section, value in panels.items():
                text = json.dumps(value, sort_keys=True, separators=(",", ":"))
                if sent.get(section) != text:
                    sent[section] = text
                    changed[section] = value
            if changed:
                self._emit("wall_panels", changed, panel_room(lang))

    def _beat(self) -> None:
        try:
            age = feed_age(self.services.redis, self.keys)
        except (redis.RedisError, OSError):
            return        # no beat: the walls count the feed as late, which it is
        self._emit("wall_beat", {"feed_age": None if age is None else round(age, 1), "seq": self.seq})

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
    keys, step = Keys.for_city(services.preset), hexagg.BY_NAME["m5"].seconds
    now = time.time()
    last = int(now // step)
    buckets = list(range(last - TIMELAPSE_FRAMES + 1, last + 1))
    pipe = services.redis.pipeline(transaction=False)
    parts = keys.parts()
    kept = hexagg.stored_resolution(res)
    for bucket in buckets:
        for part in parts:
            pipe.hgetall(part.hex_counts("m5", kept, bucket))
    replies = pipe.execute()
    frames = []
    for index in range(len(buckets)):
        cells: Counter = Counter()
        for mapping in replies[index * len(parts):(index + 1) * len(parts)]:
            for field, count in mapping.items():
                cells[parse_cell_field(field)[0]] += int(count)
        if kept != res:
            cells = Counter(hexagg.coarsen_cells(cells, res))
        frames.append({c: n for c, n in cells.items() if n})
    response = current_app.response_class(
        json.dumps({"start": buckets[0] * step, "step": step, "now": int(now), "res": res, "frames": frames},
                   separators=(",", ":")), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def origin_allowed(settings, origin: str | None, environ: dict) -> bool:
    """A browser's ``Origin`` may open the push: the page's own origin or a configured one.

    Clients that send no Origin (not a browser: the tests' clients, a script) are let through to
    the credential check; a browser always sends it on a WebSocket, so a page on another site
    cannot recruit its visitors.
    """
    if not origin:
        return True
    origin = origin.strip().lower().rstrip("/")
    if origin in settings.socket_origins:
        return True
    if settings.public_url:     # PANTAU_PUBLIC_URL: the address the city publishes
        parts = urlsplit(settings.public_url.lower())
        if origin == f"{parts.scheme}://{parts.netloc}":
            return True
    host = (environ.get("HTTP_HOST") or "").lower()
    scheme = environ.get("wsgi.url_scheme", "http")
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not host:
        return False
    default = {"http": ":80", "https": ":443"}
    strip = lambda netloc, sch: netloc[:-len(default[sch])] if netloc.endswith(default[sch]) else netloc  # noqa: E731
    return parts.scheme == scheme and strip(parts.netloc, parts.scheme) == strip(host, scheme)


class SocketGate:
    """WSGI middleware in front of Engine.IO: who may open a push connection, and how many.

    With gunicorn's ``gthread`` worker a WebSocket holds its thread until it closes (the Engine.IO
    call below returns only then), so counting calls in flight counts open sockets exactly; on the
    production server that thread is handed over to the socket and another answers HTTP.
    Refusals are plain HTTP answers before any WebSocket exists: 403 for a foreign origin, 401 with
    no staff session or display token, 429 past the per-credential (or per-address) cap, 503 past
    the per-process cap.
    """

    def __init__(self, app, flask_app, settings, watch: "SocketWatch | None" = None, path: str = "/socket.io"):
        self.app = app
        self.watch = watch
        self.flask_app = flask_app
        self.settings = settings
        self.path = path
        self.per_process = settings.resolved_sockets_per_process()
        self.per_address = settings.sockets_per_address
        self.per_viewer = {"display": settings.sockets_per_display, "staff": settings.sockets_per_account}
        self.lock = threading.Lock()
        self.open = 0
        self.by_address: Counter = Counter()
        self.by_viewer: Counter = Counter()     # (kind, display id or username) -> open sockets

    @staticmethod
    def _refuse(start_response, status: str, message: str, retry_after: int | None = None):
        body = json.dumps({"error": message}).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   ("Cache-Control", "no-store")]
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        start_response(status, headers)
        return [body]

    def __call__(self, environ, start_response):
        if not (environ.get("PATH_INFO") or "").startswith(self.path):
            return self.app(environ, start_response)
        if not origin_allowed(self.settings, environ.get("HTTP_ORIGIN"), environ):
            return self._refuse(start_response, "403 FORBIDDEN",
                                "Origin: not allowed to open the push connection (PANTAU_SOCKET_ORIGINS)")
        with self.flask_app.request_context(environ):
            viewer = displays.wall_viewer()
        if viewer is None:
            return self._refuse(start_response, "401 UNAUTHORIZED",
                                "login required: a staff session or a display token")
        address = environ.get("REMOTE_ADDR") or "-"
        viewer = tuple(viewer)
        with self.lock:
            if self.open >= self.per_process:
                refusal = ("503 SERVICE UNAVAILABLE", "push connections: this process is full "
                           f"({self.per_process}, PANTAU_SOCKETS_PER_PROCESS)")
            elif self.per_address and self.by_address[address] >= self.per_address:
                refusal = ("429 TOO MANY REQUESTS", "push connections: too many from this address "
                           f"({self.per_address}, PANTAU_SOCKETS_PER_ADDRESS)")
            elif self.by_viewer[viewer] >= self.per_viewer.get(viewer[0], 1):
                refusal = ("429 TOO MANY REQUESTS",
                           f"push connections: too many for this display ({self.per_viewer['display']}, "
                           "PANTAU_SOCKETS_PER_DISPLAY)" if viewer[0] == "display" else
                           f"push connections: too many for this account ({self.per_viewer['staff']}, "
                           "PANTAU_SOCKETS_PER_ACCOUNT)")
            else:
                refusal = None
                self.open += 1
                self.by_address[address] += 1
                self.by_viewer[viewer] += 1
        if refusal:
            return self._refuse(start_response, *refusal, retry_after=5)
        if self.watch is not None:
            self.watch.start()   # closes it if it joins no view in time
        # The production server's HTTP threads stay as many: another takes this one's place
        # (app.server.HttpPool). Other servers' threads have no such method.
        hand_over = getattr(threading.current_thread(), "hand_over", None)
        if hand_over is not None:
            hand_over()
        try:
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.open -= 1
                self.by_address[address] -= 1
                if self.by_address[address] <= 0:
                    del self.by_address[address]
                self.by_viewer[viewer] -= 1
                if self.by_viewer[viewer] <= 0:
                    del self.by_viewer[viewer]


class SocketWatch(ChannelThread):
    """Closes push connections that joined no view in time, or whose credential is gone.

    One thread per web process, started with the first wall: every second it looks at the
    process's Engine.IO connections; a revoked display token arrives on Redis pub/sub (closed at
    once) and every ``display_check_s`` the open connections' tokens and accounts are re-read.
    """

    thread_name = "pantau-socket-watch"

    def __init__(self, services, socketio, join_s: float, check_s: float):
        super().__init__()
        self.services = services
        self.socketio = socketio
        self.join_s = join_s
        self.check_s = check_s
        self.viewers: dict[str, tuple[str, str]] = {}    # Socket.IO sid -> viewer
        self.epochs: dict[str, int] = {}                  # a staff viewer's session epoch at connect
        self.first_seen: dict[str, float] = {}           # Engine.IO sid -> monotonic time
        self.lock = threading.Lock()
        self.last_check = time.monotonic()

    def seen(self, sid: str, viewer: tuple[str, str], epoch: int | None = None) -> None:
        with self.lock:
            self.viewers[sid] = viewer
            if epoch is not None:
                self.epochs[sid] = epoch

    def gone(self, sid: str) -> None:
        with self.lock:
            self.viewers.pop(sid, None)
            self.epochs.pop(sid, None)

    def _close_eio(self, eio_sid: str) -> None:
        """Close one Engine.IO connection without waiting for its send queue to drain.

        ``engineio.Server.disconnect`` closes with ``wait=True``: it joins the socket's send queue,
        and that join never returns when the client went first (the writer stops on a failed send
        and leaves the queue's last item unfinished). Seen on a loaded machine: the watch thread
        hung there and closed nothing more. The close packet is still queued and sent; the
        socket's own threads end when the WebSocket does."""
        eio = self.socketio.server.eio
        sock = eio.sockets.get(eio_sid)
        if sock is not None:
            sock.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
            eio.sockets.pop(eio_sid, None)

    def _close_sid(self, sid: str) -> None:
        eio_sid = self.socketio.server.manager.eio_sid_from_sid(sid, NAMESPACE)
        self.gone(sid)
        if eio_sid is not None:
            self._close_eio(eio_sid)

    def close_display(self, display_id: str) -> int:
        with self.lock:
            sids = [sid for sid, viewer in self.viewers.items() if viewer == ("display", display_id)]
        for sid in sids:
            self._close_sid(sid)
        return len(sids)

    def sweep_unjoined(self, now: float | None = None) -> int:
        """Close every Engine.IO connection older than ``join_s`` that is in no wall view's room (nor
        in the console's queue room, ``app.staff.push``)."""
        now = time.monotonic() if now is None else now
        eio = self.socketio.server.eio
        rooms_of_ns = self.socketio.server.manager.rooms.get(NAMESPACE, {})
        joined = set()
        for room, members in list(rooms_of_ns.items()):
            if isinstance(room, str) and room.count(":") == 2:
                joined.update(list(members.values()))
        joined.update(list(self.socketio.server.manager.rooms.get(push.NAMESPACE, {}).get(push.ROOM, {}).values()))
        current = set(list(eio.sockets))
        closed = 0
        for eio_sid in current:
            first = self.first_seen.setdefault(eio_sid, now)
            if eio_sid not in joined and now - first >= self.join_s:
                self._close_eio(eio_sid)
                closed += 1
        for eio_sid in set(self.first_seen) - current:
            del self.first_seen[eio_sid]
        return closed

    def recheck(self) -> int:
        """Close connections whose display token is no longer live, or whose account is disabled or
        signed out everywhere since (a new session epoch: sign-out, new password, disable, enable)."""
        with self.lock:
            viewers, epochs = dict(self.viewers), dict(self.epochs)
        services = self.services
        live = displays.live_ids(services.engine, services.preset.slug,
                                 {ident for kind, ident in viewers.values() if kind == "display"})
        closed = 0
        for sid, (kind, ident) in viewers.items():
            if kind == "display":
                ok = ident in live
            else:
                user = load_user(services.engine, ident, services.preset.slug)
                ok = (user is not None
                      and (sid not in epochs or user.epoch == epochs[sid]))
            if not ok:
                self._close_sid(sid)
                closed += 1
        return closed

    def _run(self) -> None:
        # Revocations arrive on the channel; the periodic checks go on while Redis is lost too.
        self._follow(self.services.keys.display_revoked_channel, self._serve, while_lost=self._checks)

    def _serve(self, pubsub) -> None:
        while not self.stopping.is_set():
            message = pubsub.get_message(timeout=1.0)
            if message and message["type"] == "message":
                raw = message["data"]
                self.close_display(raw.decode() if isinstance(raw, bytes) else str(raw))
            self._checks()

    def _checks(self) -> None:
        try:
            self.sweep_unjoined()
            if time.monotonic() - self.last_check >= self.check_s:
                self.last_check = time.monotonic()
                self.recheck()
        except Exception:  # noqa: BLE001  the thread must outlive one bad check; say what it was and go on
            log.exception("socket watch check failed")


def install(server, socketio, services) -> LiveRelay:
    """Add the snapshot endpoint and the Socket.IO room joins; the relay starts with the first wall."""
    from flask import request as flask_request
    from flask_socketio import ConnectionRefusedError

    server.register_blueprint(blueprint)
    settings = services.settings
    watch = SocketWatch(services, socketio, settings.socket_join_s, settings.display_check_s)
    server.extensions["pantau_socket_watch"] = watch

    @socketio.on("wall_join", namespace=NAMESPACE)
    def join(message):
        message = message if isinstance(message, dict) else {}
        view = view_of(message.get("metric"), message.get("window"))
        raw = message.get("res", 8)
        res = int(raw) if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()) else 0
        if res not in hexagg.MAP_RESOLUTIONS:
            return {"ok": False}
        lang = message.get("lang") if message.get("lang") in PANEL_LANGUAGES else None
        for room in rooms(namespace=NAMESPACE):
            if room.count(":") == 2 or (lang and room.startswith("panels:") and room != panel_room(lang)):
                leave_room(room, namespace=NAMESPACE)
        join_room(room_name(view, res), namespace=NAMESPACE)
        answer = {"ok": True, "room": room_name(view, res)}
        if lang:
            join_room(panel_room(lang), namespace=NAMESPACE)
        if lang and message.get("panels"):
            # the panels as every wall has them now, so a wall that joins between two pushes is whole
            try:
                answer["panels"] = relay.current_panels(lang)
            except Exception:  # the wall has the page's panels; the next push brings the rest
                log.exception("wall panels not rendered for a joining wall")
        return answer

    # Started by the first wall that connects: a process (or a test) without walls runs no relay.
    relay = LiveRelay(services, socketio)
    relay.panel_source = server.extensions.get("pantau_wall_panels")
    server.extensions["pantau_live"] = relay

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(auth=None):
        viewer = displays.wall_viewer()
        if viewer is None:   # SocketGate refused it already; kept here so the namespace never trusts the gate alone
            raise ConnectionRefusedError("login required")
        watch.seen(flask_request.sid, viewer,
                   getattr(current_user, "epoch", None) if viewer[0] == "staff" else None)
        watch.start()
        relay.start()

    @socketio.on("disconnect", namespace=NAMESPACE)
    def disconnect(*_reason):
        watch.gone(flask_request.sid)

    return relay
