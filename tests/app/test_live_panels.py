"""The wall's panels and heartbeat ride the push (app.live): many walls, one render per language and
period in the process; a wall that joins gets the panels at once; the heartbeat says how old the
aggregator's own heartbeat is. A real server, real Redis and SQLite, real Socket.IO clients."""
from __future__ import annotations

import json
import threading
import time

import pytest

from app import live
from app.auth import displays
from tests.helpers import drain, raw_reports, wall_display_token


@pytest.fixture
def wall_app(live_app):
    yield live_app
    live_app.extensions["pantau_live"].stop()
    live_app.extensions["pantau_socket_watch"].stop()


def test_the_feed_age_is_the_aggregators_heartbeat(services):
    keys = services.keys
    assert live.feed_age(services.redis, keys) is None          # no aggregator has run yet
    now = time.time()
    services.redis.hset(keys.consumer_stats, "agg-1", json.dumps({"group": "aggregator", "seen": now - 7,
                                                                  "stopped": True}))
    services.redis.hset(keys.consumer_stats, "persist-1", json.dumps({"group": "persister", "seen": now}))
    services.redis.hset(keys.consumer_stats, "junk", "not json")
    assert live.feed_age(services.redis, keys, now) == pytest.approx(7, abs=0.01)
    services.redis.hset(keys.consumer_stats, "agg-2", json.dumps({"group": "aggregator", "seen": now - 1}))
    assert live.feed_age(services.redis, keys, now) == pytest.approx(1, abs=0.01)
    drain(services)                       # a real aggregator's heartbeat: fresh
    assert live.feed_age(services.redis, keys) < 5


def test_twenty_walls_share_one_render_per_language_and_get_panels_and_beats(wall_app):
    import socketio

    services = wall_app.extensions["pantau"]
    services.producer.submit_many(raw_reports(30, seed=8, spread_s=300))
    drain(services)
    relay = wall_app.extensions["pantau_live"]
    clients, events, answers, lock = [], [], [], threading.Lock()
    try:
        for i in range(20):
            token = wall_display_token(wall_app, f"Layar {i + 1}")    # a room: each screen its own token
            client = socketio.Client(reconnection=False)
            client.on("*", lambda event, data, i=i: (lock.acquire(), events.append((i, event, data)), lock.release()),
                      namespace=live.NAMESPACE)
            client.connect(wall_app.config["BASE_URL"], namespaces=[live.NAMESPACE], transports=["websocket"],
                           headers={"Cookie": f"{displays.COOKIE}={token}"}, wait_timeout=10)
            lang = ("id", "en")[i % 2]
            answers.append(client.call("wall_join", {"metric": "reports", "window": "today", "res": 8,
                                                     "lang": lang, "panels": True},
                                       namespace=live.NAMESPACE, timeout=20))
            clients.append(client)
        # each joining wall got the panels of its language at once
        for i, answer in enumerate(answers):
            assert answer["ok"] and "wall-kpis" in answer["panels"], answer
            text = json.dumps(answer["panels"]["wall-kpis"])
            assert ("Masuk" if i % 2 == 0 else "Received") in text
            assert "30" in text
        renders_before = relay.renders
        time.sleep(5)
        renders = relay.renders - renders_before
        # one render per language per period (2 s idle), whatever the number of walls
        assert 0 < renders <= 2 * (5 / live.PANEL_IDLE_S + 1), renders
        # a report: every wall gets the changed panels, by push
        services.producer.submit_many(raw_reports(1, seed=9, spread_s=1, prefix="late"))
        drain(services)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with lock:
                got = {i for i, event, data in events if event == "wall_panels" and "wall-kpis" in data}
            if len(got) == 20:
                break
            time.sleep(0.2)
        assert len(got) == 20, sorted(got)
        with lock:
            beats = [data for _i, event, data in events if event == "wall_beat"]
        assert beats and all("feed_age" in b for b in beats)
        assert beats[-1]["feed_age"] is not None and beats[-1]["feed_age"] < 30
    finally:
        for client in clients:
            client.disconnect()
