"""Issue 10, item 7: sockets cannot take the web server down, and only our pages can open them.

Against the production server (``python -m app serve``: gunicorn gthread, here one worker with 16
threads, at most 8 push connections, 3 per address, sockets that join no view closed after 2 s), a
stranger opens WebSockets from another site's page, too many from one address, 125 idle ones at
once, and ordinary requests keep answering promptly.
"""
from __future__ import annotations

import threading
import time
import urllib.request

import pytest
import socketio
import websocket

from app.auth import displays
from tests.conftest import make_settings
from tests.helpers import start_web_server, stop_web_server
from tests.security.conftest import display_token

THREADS, PER_PROCESS, PER_ADDRESS = 16, 8, 3
HANDSHAKE = "/socket.io/?EIO=4&transport=websocket"


@pytest.fixture
def gunicorn(tmp_path, redis_url, sqlite_url):
    from app.services import Services

    services = Services.open(make_settings(tmp_path, redis_url, sqlite_url))
    base, _, child = start_web_server({
        "REDIS_URL": redis_url, "DATABASE_URL": sqlite_url, "SECRET_KEY": "test-secret",
        "PANTAU_WEB_WORKERS": "1", "PANTAU_WEB_THREADS": str(THREADS),
        "PANTAU_SOCKETS_PER_PROCESS": str(PER_PROCESS), "PANTAU_SOCKETS_PER_ADDRESS": str(PER_ADDRESS),
        "PANTAU_SOCKET_JOIN_S": "2", "PANTAU_SOCKET_ORIGINS": "https://wall.example.go.id",
        # One trusted proxy: the test plays several client addresses through X-Forwarded-For.
        "PANTAU_PROXIES": "1"}, tmp_path / "var")
    yield base, services
    stop_web_server(child)
    services.close()


def _raw(base, token=None, origin=None, address=None, timeout=5):
    """A bare WebSocket handshake to Engine.IO, as a script would make it."""
    header = []
    if token:
        header.append(f"Cookie: {displays.COOKIE}={token}")
    if address:
        header.append(f"X-Forwarded-For: {address}")
    options = {"origin": origin} if origin else {}
    return websocket.create_connection(base.replace("http", "ws") + HANDSHAKE, header=header, timeout=timeout,
                                       **options)


def _status(base, **kw) -> int:
    try:
        _raw(base, **kw).close()
        return 101
    except websocket.WebSocketBadStatusException as err:
        return err.status_code


def _display(base, token, address, join=True):
    client = socketio.Client(reconnection=False)
    client.connect(base, namespaces=["/wall"], transports=["websocket"], wait_timeout=10,
                   headers={"Cookie": f"{displays.COOKIE}={token}", "X-Forwarded-For": address})
    if join:
        assert client.call("wall_join", {"metric": "reports", "window": "today", "res": 8},
                           namespace="/wall")["ok"]
    return client


def test_a_page_on_another_site_cannot_open_the_push(gunicorn):
    base, services = gunicorn
    _id, token = display_token(services)
    # Even with a staff screen's credential in the browser, a foreign page's socket is refused.
    assert _status(base, token=token, origin="http://evil.example") == 403
    assert _status(base, token=token, origin="http://127.0.0.1.evil.example") == 403
    assert _status(base, token=token, origin="null") == 403
    assert _status(base, token=token, origin=base) == 101                      # our own page
    assert _status(base, token=token, origin="https://wall.example.go.id") == 101   # PANTAU_SOCKET_ORIGINS
    # Long-polling (a thread held per poll) is not offered at all.
    with pytest.raises(urllib.error.HTTPError) as polling:
        urllib.request.urlopen(f"{base}/socket.io/?EIO=4&transport=polling", timeout=5)
    assert polling.value.code in (400, 401)


def test_one_address_gets_its_cap_and_no_more(gunicorn):
    """PANTAU_SOCKETS_PER_ADDRESS set (3 here): a cap by address whatever the credentials."""
    base, services = gunicorn
    tokens = [display_token(services, f"Layar {n}")[1] for n in range(PER_ADDRESS + 1)]
    held = [_display(base, token, "203.0.113.7") for token in tokens[:PER_ADDRESS]]
    assert _status(base, token=tokens[-1], address="203.0.113.7") == 429   # the N+1th from that address
    assert _status(base, token=tokens[-1], address="203.0.113.8") == 101   # another address still gets in
    held.pop().disconnect()
    time.sleep(0.3)
    assert _status(base, token=tokens[-1], address="203.0.113.7") == 101   # a freed place can be used again
    for client in held:
        client.disconnect()


def test_one_display_token_holds_two_sockets_and_no_more(gunicorn):
    """A copied display token cannot fill a process: two sockets (a reloading screen briefly holds
    two), the third refused with words saying why, from any address."""
    base, services = gunicorn
    _id, token = display_token(services)
    held = [_display(base, token, f"198.51.100.{n}") for n in (10, 11)]
    with pytest.raises(websocket.WebSocketBadStatusException) as third:
        _raw(base, token=token, address="198.51.100.12")
    assert third.value.status_code == 429
    assert b"too many for this display" in third.value.resp_body and b"PANTAU_SOCKETS_PER_DISPLAY" in third.value.resp_body
    held.pop().disconnect()
    time.sleep(0.3)
    assert _status(base, token=token, address="198.51.100.12") == 101    # its place is free again
    held[0].disconnect()


def test_a_socket_that_joins_no_view_is_closed(gunicorn):
    base, services = gunicorn
    _id, token = display_token(services)
    idle = _display(base, token, "198.51.100.1", join=False)
    watching = _display(base, token, "198.51.100.2")
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline and idle.connected:
        time.sleep(0.1)
    assert not idle.connected, "a socket that never joined a view is closed after PANTAU_SOCKET_JOIN_S"
    assert watching.connected
    watching.disconnect()


def _timed_get(base, path, results):
    started = time.monotonic()
    try:
        with urllib.request.urlopen(base + path, timeout=5) as response:
            response.read()
            results.append((response.status, time.monotonic() - started))
    except OSError as err:
        results.append((repr(err), time.monotonic() - started))


def test_idle_sockets_cannot_starve_ordinary_requests(gunicorn):
    base, services = gunicorn
    _id, token = display_token(services)
    # The process's push places filled by displays from several addresses (a real wall of screens)...
    walls = [_display(base, display_token(services, f"Layar {n}")[1], f"192.0.2.{n}") for n in range(PER_PROCESS)]
    assert _status(base, token=token, address="192.0.2.200") == 503      # ...and one more refused
    # ...while a stranger opens 125 idle sockets at once: anonymous, and with a display token.
    outcomes: list = []

    def stranger(n):
        try:
            sock = _raw(base, token=token if n % 5 == 0 else None, address="203.0.113.66", timeout=10)
            outcomes.append(101)
            time.sleep(3)
            sock.close()
        except websocket.WebSocketBadStatusException as err:
            outcomes.append(err.status_code)
        except OSError as err:
            outcomes.append(repr(err))

    flood = [threading.Thread(target=stranger, args=(n,)) for n in range(125)]
    for thread in flood:
        thread.start()
    time.sleep(0.5)
    answers: list = []
    asking = [threading.Thread(target=_timed_get, args=(base, path, answers))
              for path in ["/healthz", "/api/public/summary", "/kiosk", "/login", "/"] * 2]
    for thread in asking:
        thread.start()
    for thread in asking + flood:
        thread.join()
    slowest = max(seconds for _, seconds in answers)
    print(f"\n10 ordinary requests during the flood: all {sorted({s for s, _ in answers})}, "
          f"slowest {slowest * 1000:.0f} ms; stranger's sockets: {sorted(set(outcomes))}")
    assert [status for status, _ in answers] == [200] * 10, answers
    assert slowest < 2.0
    assert 101 not in outcomes, "every place was taken: the stranger gets none"
    assert set(outcomes) <= {401, 503}
    for wall in walls:
        assert wall.connected
        wall.disconnect()


def test_socket_settings_refuse_a_cap_that_would_starve_http():
    """Each push connection has a thread of its own beside the HTTP threads: the cap is independent."""
    from config.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="PANTAU_SOCKETS_PER_PROCESS"):
        Settings.from_env({"PANTAU_SOCKETS_PER_PROCESS": "0"})
    assert Settings.from_env({"PANTAU_WEB_THREADS": "16", "PANTAU_SOCKETS_PER_PROCESS": "40"}
                             ).resolved_sockets_per_process() == 40
    with pytest.raises(SettingsError, match="PANTAU_SOCKET_ORIGINS: each origin must be http"):
        Settings.from_env({"PANTAU_SOCKET_ORIGINS": "https://ok.example, wall.example/path"})
    settings = Settings.from_env({"PANTAU_SOCKET_ORIGINS": "https://Wall.Example/, http://10.0.0.5:8050"})
    assert settings.socket_origins == ("https://wall.example", "http://10.0.0.5:8050")
    assert Settings.from_env({"PANTAU_WEB_THREADS": "1"}).resolved_sockets_per_process() == 80


@pytest.fixture
def room_server(tmp_path, redis_url, sqlite_url):
    """The production server on its default socket settings (one worker, so one process's caps)."""
    from app.services import Services

    services = Services.open(make_settings(tmp_path, redis_url, sqlite_url))
    base, _, child = start_web_server({
        "REDIS_URL": redis_url, "DATABASE_URL": sqlite_url, "SECRET_KEY": "test-secret",
        "PANTAU_WEB_WORKERS": "1", "PANTAU_SOCKET_JOIN_S": "60"}, tmp_path / "var")
    yield base, services
    stop_web_server(child)
    services.close()


def test_a_room_of_screens_behind_one_address_all_connect_on_the_defaults(room_server):
    """A control room's 60 screens behind one NAT address (each its own display token): on the
    default settings every one connects to a single process; HTTP still answers beside them."""
    from config.settings import Settings

    base, services = room_server
    per_process = Settings.from_env({}).resolved_sockets_per_process()
    assert per_process >= 60
    screens = []
    try:
        for n in range(60):
            screens.append(_raw(base, token=display_token(services, f"Layar {n + 1}")[1], timeout=10))
        answers: list = []
        _timed_get(base, "/healthz", answers)
        assert answers[0][0] == 200 and answers[0][1] < 2.0
    finally:
        for sock in screens:
            sock.close()
    assert len(screens) == 60
