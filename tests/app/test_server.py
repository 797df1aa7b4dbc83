"""The production web server as ``make run`` starts it: gunicorn, two worker processes, threads.

Reports POSTed concurrently over keep-alive connections are all accepted once;
a wall display connected over WebSocket gets the live deltas whichever worker
holds it; a revocation reaches every worker at once; SIGTERM stops it cleanly.
"""
import http.client
import json
import signal
import threading
import time
from urllib.parse import urlencode

import psutil
import pytest

from app.open311 import api_keys
from ingest.aggregator import Aggregator
from tests.conftest import make_settings
from tests.helpers import start_web_server, stop_web_server

LAT, LNG = -6.1754, 106.8272


@pytest.fixture
def production_server(tmp_path, redis_url, database_url):
    from app.services import Services

    services = Services.open(make_settings(tmp_path, redis_url, database_url))
    base, port, child = start_web_server({
        "REDIS_URL": redis_url, "DATABASE_URL": database_url, "PANTAU_WEB_WORKERS": "2",
        "PANTAU_WEB_THREADS": "16", "PANTAU_LOG_LEVEL": "WARNING",
        # Up to 12 displays below, possibly all on one worker (each holds a thread; POSTs keep 4).
        "PANTAU_SOCKETS_PER_PROCESS": "12"}, tmp_path / "var")
    yield base, port, services, child
    stop_web_server(child)
    services.close()


def _post(port, key, count, codes, lat=LAT):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(count):
        body = urlencode({"api_key": key, "service_code": "garbage", "lat": f"{lat + i * 0.002:.6f}",
                          "long": f"{LNG:.6f}", "description": "server test"})
        conn.request("POST", "/open311/v2/requests.json", body,
                     {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        codes.append((response.status, json.loads(response.read())))
    conn.close()


def test_two_workers_accept_push_revoke_and_stop(production_server):
    import socketio

    base, port, services, child = production_server
    # the master's children: its two workers (and, while static copies are missing, the idle-priority
    # process that makes them: app.web_assets, not a worker)
    workers = [p for p in psutil.Process(child.pid).children() if "app.web_assets" not in " ".join(p.cmdline())]
    assert len(workers) == 2

    def held_by(worker):
        return sum(1 for c in worker.net_connections("tcp")
                   if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)

    # Wall displays over WebSocket only, as assets/wall.js connects, until both workers hold one;
    # each screen signed in with a display token (python -m app.auth displays create).
    from app.auth import displays as display_tokens

    received, displays = [], []
    while len(displays) < 40 and not all(held_by(worker) for worker in workers):
        i = len(displays)
        received.append([])
        token = display_tokens.create_display(services.engine, services.preset.slug, f"server test {i}")[1]
        display = socketio.Client(reconnection=False)
        display.on("wall_cells", lambda data, i=i: received[i].append(data), namespace="/wall")
        display.connect(base, namespaces=["/wall"], transports=["websocket"], wait_timeout=10,
                        headers={"Cookie": f"{display_tokens.COOKIE}={token}"})
        display.emit("wall_join", {"metric": "reports", "window": "today", "res": 8}, namespace="/wall")
        displays.append(display)
        time.sleep(0.2)
    assert all(held_by(worker) for worker in workers), "the kernel spread the displays over both workers"

    record, key = api_keys.create_key(services.engine, "server test")
    codes: list = []
    clients = [threading.Thread(target=_post, args=(port, key, 10, codes, LAT - 0.02 * n)) for n in range(4)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    assert [status for status, _ in codes] == [201] * 40, codes[:3]
    tickets = {body[0]["service_request_id"] for _, body in codes}
    assert len(tickets) == 40
    assert services.redis.xlen(services.keys.stream()) == 40

    Aggregator(services.redis, services.keys, "test-agg", services.preset, block_ms=10).run(burst=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(received):
        time.sleep(0.1)
    assert all(received), "every display gets the live delta, whichever worker holds it"
    for display in displays[1:]:
        display.disconnect()     # the first stays connected through the stop below

    # Revoked in one place, refused by every worker at once (each has the key cached by now).
    assert api_keys.revoke_key(services.engine, record.key_id, services.redis, services.keys)
    refused: list = []
    _post(port, key, 6, refused)
    assert [status for status, _ in refused] == [403] * 6

    stopping = time.monotonic()
    child.send_signal(signal.SIGTERM)
    assert child.wait(30) == 0
    assert time.monotonic() - stopping < 10, "a connected wall must not hold the stop for long"
    displays[0].disconnect()
    assert not any(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE for worker in workers)
