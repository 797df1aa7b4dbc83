"""Several web servers over one Redis and one database (processes on different ports, as behind any
proxy), each serving a two-city install: a report accepted by one server reaches a Kupang wall
connected to the other, and a Jakarta wall on that server hears nothing of it."""
import json
import os
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlencode

import pytest
import socketio

from app.auth import displays
from app.open311 import api_keys
from app.store.redis_conn import _free_port
from ingest.aggregator import Aggregator
from tests.conftest import ROOT, SHARED_DATA, make_settings

KUPANG = (-10.1620, 123.5950)


def _start(port, env):
    child = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT,
                             env={**env, "PANTAU_PORT": str(port)},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/kupang/healthz", timeout=2) as response:
                if response.status == 200:
                    return child
        except OSError:
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                pytest.fail(f"web server did not start: {child.stdout.read()[-2000:]}")
            time.sleep(0.3)


@pytest.fixture
def two_servers(tmp_path, redis_url, sqlite_url):
    from app.services import Services

    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": sqlite_url, "SECRET_KEY": "test-secret",
           "PANTAU_DATA_DIR": str(tmp_path / "var"), "PANTAU_CITIES": "jakarta,kupang", "PANTAU_SIM_RATE": "0",
           "PANTAU_WEB_WORKERS": "1", "PANTAU_WEB_THREADS": "8", "PANTAU_LOG_LEVEL": "WARNING"}
    if SHARED_DATA.exists():
        env["PANTAU_BOUNDARIES"] = str(SHARED_DATA)
    services = Services.open(make_settings(tmp_path, redis_url, sqlite_url, cities=("jakarta", "kupang")))
    ports = [_free_port(), _free_port()]
    children = [_start(port, env) for port in ports]
    yield ports, services
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
    services.close()


def _wall(port, city, token, received):
    display = socketio.Client(reconnection=False)
    display.on("wall_cells", lambda data: received.append(data), namespace="/wall")
    display.connect(f"http://127.0.0.1:{port}", namespaces=["/wall"], transports=["websocket"], wait_timeout=15,
                    socketio_path=f"{city}/socket.io", headers={"Cookie": f"{displays.COOKIE}={token}"})
    assert display.call("wall_join", {"metric": "reports", "window": "today", "res": 8}, namespace="/wall",
                        timeout=15) is not None
    return display


def test_a_report_accepted_by_one_server_reaches_a_wall_on_the_other(two_servers):
    (first, second), services = two_servers
    kupang = services.for_city("kupang")
    _, kupang_token = displays.create_display(services.engine, "kupang", "Kupang wall")
    _, jakarta_token = displays.create_display(services.engine, "jakarta", "Jakarta wall")
    kupang_cells, jakarta_cells = [], []
    walls = [_wall(second, "kupang", kupang_token, kupang_cells),
             _wall(second, "jakarta", jakarta_token, jakarta_cells)]
    # Each city's push refuses the other city's screen.
    stranger = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        stranger.connect(f"http://127.0.0.1:{second}", namespaces=["/wall"], transports=["websocket"],
                         wait_timeout=10, socketio_path="jakarta/socket.io",
                         headers={"Cookie": f"{displays.COOKIE}={kupang_token}"})

    _, key = api_keys.create_key(services.engine, "several servers")
    body = urlencode({"api_key": key, "service_code": "garbage", "lat": KUPANG[0], "long": KUPANG[1],
                      "description": "Sampah menumpuk di depan pasar"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{first}/kupang/open311/v2/requests.json", data=body)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        ticket = json.loads(response.read())[0]["service_request_id"]
    assert ticket.startswith("KPG-")

    Aggregator(services.redis, kupang.keys, "test-agg", kupang.preset, block_ms=10).run(burst=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not kupang_cells:
        time.sleep(0.1)
    assert kupang_cells, "the Kupang wall on the other server gets the live delta"
    time.sleep(0.5)
    assert jakarta_cells == [], "Jakarta's wall hears nothing of Kupang"
    for wall in walls:
        wall.disconnect()
