"""Issue 10, item 10: the wall is for staff. A stranger tries the wall's page, its APIs, its Dash
callbacks and its Socket.IO push, and gets the login (or a refusal) and no health report; a display
token opens it on an unattended screen; a revoked token stops at once, its open socket closed."""
from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest
import socketio
import websocket

from app.auth import displays
from app.auth.__main__ import main as auth_cli
from app.factory import create_app
from ingest.aggregator import Aggregator
from ingest.sources import RawReport
from tests.security.conftest import display_token

PASSWORD = "correct horse battery"
ROUTE_TO_WALL = {"output": "shell-page.children", "outputs": {"id": "shell-page", "property": "children"},
                 "inputs": [{"id": "shell-location", "property": "pathname", "value": "/wall"},
                            {"id": "shell-location", "property": "hash", "value": ""}],
                 "state": [{"id": "shell-location", "property": "search", "value": "?metric=open"}],
                 "changedPropIds": ["shell-location.pathname"]}


def wall_callbacks(server) -> list[dict]:
    """A request for each of the wall's own Dash callbacks, built from the app's callback map."""
    payloads = []
    for output, spec in server.extensions["dash"].callback_map.items():
        if "wall-" not in output or "callback" not in spec:   # client-side ones never reach the server
            continue
        outputs = [dict(zip(("id", "property"), part.rsplit(".", 1)))
                   for part in output.strip(".").split("...")]
        payloads.append({"output": output, "outputs": outputs if output.startswith("..") else outputs[0],
                         "inputs": [{**i, "value": 1} for i in spec["inputs"]],
                         "state": [{**s, "value": "en"} for s in spec["state"]],
                         "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]]})
    # Since the panels are pushed (issue 15) the wall may register no server callback at all: then
    # the router's request for /wall is what a stranger can send, and it is checked first.
    return payloads


def _cli_env(monkeypatch, services):
    for name, value in (("PANTAU_DATA_DIR", str(services.settings.data_dir)), ("REDIS_URL", services.redis_url),
                        ("DATABASE_URL", services.settings.database_url), ("PANTAU_CITY", "jakarta"),
                        ("SECRET_KEY", "test-secret"), ("PANTAU_HOST", "127.0.0.1"), ("PANTAU_PORT", "8050")):
        monkeypatch.setenv(name, value)


def _health_report(services, ref: str):
    services.producer.submit(RawReport(
        category="health", lat=-6.1754, lng=106.8272, description="demam berdarah di rumah Pak Budi",
        created_at=datetime.now(timezone.utc), source="test", source_ref=ref,
        reporter_name="Budi", reporter_phone="+62 811 2222 3333"))
    Aggregator(services.redis, services.keys, "agg-sec", services.preset, block_ms=10).run(burst=True)


def _sign_in(client, username):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:300]


def test_a_stranger_gets_the_login_not_the_wall(services):
    server = create_app(services.settings, services)
    stranger = server.test_client()

    page = stranger.get("/wall?metric=open&lang=en")
    assert page.status_code in (302, 303)
    assert page.headers["Location"].startswith("/login?next=%2Fwall%3Fmetric%3Dopen")
    for path in ("/wall/api/snapshot?res=8", "/wall/api/timelapse?res=8"):
        answer = stranger.get(path)
        assert answer.status_code == 401 and "cells" not in answer.get_data(as_text=True), path
    # The Dash side door: the router asked for /wall, and the wall's own panel callback.
    for payload in [ROUTE_TO_WALL] + wall_callbacks(server):
        answer = stranger.post("/_dash-update-component", json=payload)
        assert answer.status_code == 401, answer.get_data(as_text=True)[:200]
        assert "wall-map" not in answer.get_data(as_text=True)
    # A made-up display token, in the URL or as the cookie, is no better.
    assert stranger.get("/wall?display=pwd_" + "A" * 43).status_code == 403
    stranger.set_cookie(displays.COOKIE, "pwd_" + "B" * 43)
    assert stranger.get("/wall").status_code in (302, 303)
    # The public still has the kiosk, anonymously.
    kiosk = {**ROUTE_TO_WALL, "inputs": [{"id": "shell-location", "property": "pathname", "value": "/kiosk"},
                                         {"id": "shell-location", "property": "hash", "value": ""}]}
    assert stranger.post("/_dash-update-component", json=kiosk).status_code == 200


def test_any_staff_role_opens_the_wall(services):
    from app.auth.users import create_user

    create_user(services.engine, services.preset, "petugas", PASSWORD, "agency_officer", "DLH")
    client = create_app(services.settings, services).test_client()
    _sign_in(client, "petugas")
    assert client.get("/wall").status_code == 200
    answer = client.post("/_dash-update-component", json=ROUTE_TO_WALL)
    assert answer.status_code == 200 and "wall-map" in answer.get_data(as_text=True)
    assert client.get("/wall/api/snapshot?res=8").status_code == 200


def test_a_display_token_opens_the_wall_only_and_revoking_it_stops_it(services, monkeypatch, capsys):
    from app import audit

    _cli_env(monkeypatch, services)
    assert auth_cli(["displays", "create", "--name", "Ruang kontrol 1"]) == 0
    out = capsys.readouterr().out
    url = re.search(r"(http://127\.0\.0\.1:8050/wall\?display=(pwd_[\w-]+))", out)
    assert url, out
    token = url.group(2)
    display_id = re.search(r"created display (\w+)", out).group(1)

    server = create_app(services.settings, services)
    screen = server.test_client()
    opened = screen.get(f"/wall?display={token}&kiosk=1&lang=en")
    assert opened.status_code == 303
    assert opened.headers["Location"] == "/wall?kiosk=1&lang=en"          # the token leaves the URL
    cookie = opened.headers["Set-Cookie"]
    assert f"{displays.COOKIE}={token}" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert opened.headers["Cache-Control"] == "no-store"
    assert screen.get("/wall?kiosk=1&lang=en").status_code == 200
    assert screen.post("/_dash-update-component", json=ROUTE_TO_WALL).status_code == 200
    for payload in wall_callbacks(server):
        assert screen.post("/_dash-update-component", json=payload).status_code == 200, payload["output"]
    assert screen.get("/wall/api/snapshot?res=8").status_code == 200
    # A display token is not a staff session.
    assert screen.get("/staff/api/queue").status_code == 401
    assert screen.get("/dispatch").status_code in (302, 303)
    assert screen.post("/_dash-update-component", json={
        **ROUTE_TO_WALL, "inputs": [{"id": "shell-location", "property": "pathname", "value": "/dispatch"}]}
    ).status_code == 401

    assert auth_cli(["displays", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{display_id}\tRuang kontrol 1\tactive" in listed and token not in listed

    assert auth_cli(["displays", "revoke", display_id]) == 0
    assert auth_cli(["displays", "revoke", display_id]) == 1       # already revoked: says so
    assert screen.get("/wall").status_code in (302, 303)            # the very next request
    assert screen.get("/wall/api/snapshot?res=8").status_code == 401
    for payload in wall_callbacks(server):
        assert screen.post("/_dash-update-component", json=payload).status_code == 401
    assert screen.get(f"/wall?display={token}").status_code == 403

    entries = [(e["action"], e["subject"]) for e in audit.recent(services.engine, 20)]
    assert ("display.create", display_id) in entries and ("display.revoke", display_id) in entries
    assert not any(token in str(e) for e in audit.recent(services.engine, 20))


def _connect(base, cookie=None, origin=None):
    client = socketio.Client(reconnection=False)
    received: list = []
    client.on("wall_cells", lambda data: received.append(("cells", data)), namespace="/wall")
    client.on("wall_tick", lambda data: received.append(("tick", data)), namespace="/wall")
    headers = {}
    if cookie:
        headers["Cookie"] = f"{displays.COOKIE}={cookie}"
    if origin:
        headers["Origin"] = origin
    client.connect(base, namespaces=["/wall"], transports=["websocket"], headers=headers, wait_timeout=5)
    return client, received


def test_a_stranger_socket_is_refused_and_gets_no_health_report(wall_server):
    services = wall_server.extensions["pantau"]
    base = wall_server.config["BASE_URL"]
    _display_id, token = display_token(services)
    screen, seen = _connect(base, cookie=token)           # a real display, so the relay runs
    screen.call("wall_join", {"metric": "reports", "window": "today", "res": 10}, namespace="/wall")

    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(base)
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(base, cookie="pwd_" + "C" * 43)
    # Below the Socket.IO client: the raw WebSocket handshake is answered 401, no socket opened.
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                    timeout=5)
    assert refused.value.status_code == 401

    _health_report(services, "sec-health-1")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(kind == "cells" for kind, _ in seen):
        time.sleep(0.05)
    assert any(kind == "cells" for kind, _ in seen), "the display gets the delta the stranger was refused"
    screen.disconnect()


def test_revoking_a_display_closes_its_open_socket(wall_server, monkeypatch):
    services = wall_server.extensions["pantau"]
    base = wall_server.config["BASE_URL"]
    display_id, token = display_token(services)
    other_id, other_token = display_token(services, "Ruang kontrol 2")
    screen, _ = _connect(base, cookie=token)
    other, _ = _connect(base, cookie=other_token)
    for client in (screen, other):
        assert client.call("wall_join", {"metric": "reports", "window": "today", "res": 8},
                           namespace="/wall")["ok"]

    # Revoked through Redis pub/sub (as the CLI does): closed at once.
    assert displays.revoke_display(services.engine, services.preset.slug, display_id, services.redis, services.keys)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and screen.connected:
        time.sleep(0.05)
    assert not screen.connected, "the revoked display's open socket is closed"
    assert other.connected, "another display keeps its socket"
    with pytest.raises(socketio.exceptions.ConnectionError):
        _connect(base, cookie=token)

    # Revoked with Redis out of reach: the periodic check (PANTAU_DISPLAY_CHECK_S, 1 s here) closes it.
    assert displays.revoke_display(services.engine, services.preset.slug, other_id)
    deadline = time.monotonic() + 12   # a 1 s check; a loaded CI machine (two test workers) is slow
    while time.monotonic() < deadline and other.connected:
        time.sleep(0.05)
    assert not other.connected


def test_a_screen_with_a_display_token_in_chromium(wall_server, browser, artifacts_dir):
    """As the screen and the stranger see it: the stranger's /wall is the login; the display URL shows
    the live wall with a clean address; revoked, the push drops at once and a reload is the login."""
    services = wall_server.extensions["pantau"]
    base = wall_server.config["BASE_URL"]
    stranger = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = stranger.new_page()
    page.goto(f"{base}/wall")
    assert "/login" in page.url and page.locator("#login-form").count() == 1
    assert page.locator("#wall-map").count() == 0
    page.screenshot(path=str(artifacts_dir / "stranger-wall.png"))
    stranger.close()

    display_id, token = display_token(services)
    screen = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = screen.new_page()
    page.goto(f"{base}/wall?display={token}&lang=en")
    assert page.url == f"{base}/wall?lang=en"                 # the token is not in the address bar
    page.wait_for_function("() => { const s = document.getElementById('wall-hexstate');"
                           " return s && s.getAttribute('data-connected') === '1'; }", timeout=15000)
    page.screenshot(path=str(artifacts_dir / "display-wall.png"))

    displays.revoke_display(services.engine, services.preset.slug, display_id, services.redis, services.keys)
    page.wait_for_function("() => document.getElementById('wall-hexstate').getAttribute('data-connected') === '0'",
                           timeout=5000)
    page.reload()
    assert "/login" in page.url
    screen.close()


def test_a_staff_wall_socket_ends_when_the_account_is_signed_out_everywhere(wall_server):
    """A copied staff cookie on an open wall socket: `users sign-out` (or a new password, disable,
    enable) bumps the session epoch, and the open socket is closed by the next check, not kept."""
    from app.auth.users import create_user, end_sessions

    services = wall_server.extensions["pantau"]
    create_user(services.engine, services.preset, "opwall", PASSWORD, "operator")
    browser_like = wall_server.test_client()
    browser_like.environ_base["HTTP_USER_AGENT"] = "wall-browser"
    _sign_in(browser_like, "opwall")
    cookie = browser_like.get_cookie(wall_server.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None
    client = socketio.Client(reconnection=False)
    client.connect(wall_server.config["BASE_URL"], namespaces=["/wall"], transports=["websocket"],
                   headers={"Cookie": f"{cookie.key}={cookie.value}", "User-Agent": "wall-browser"}, wait_timeout=5)
    assert client.call("wall_join", {"metric": "reports", "window": "today", "res": 8}, namespace="/wall")["ok"]

    end_sessions(services.engine, "opwall")              # what `python -m app.auth users sign-out opwall` does
    deadline = time.monotonic() + 10                      # PANTAU_DISPLAY_CHECK_S is 1 s here (a loaded CI machine)
    while time.monotonic() < deadline and client.connected:
        time.sleep(0.05)
    assert not client.connected, "the signed-out account's open wall socket is closed"
