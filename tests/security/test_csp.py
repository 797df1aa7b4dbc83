"""A stranger who gets text into a page (a description, a crafted URL) tries to run script or load
from elsewhere: the Content-Security-Policy allows scripts from this server and Dash's own inline
start-up only, no plugins, no foreign <base>, no framing; every screen still works in Chromium
with it on and not one violation; the dispatch detail map asks nothing of another host."""
import re
import threading
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.store import db
from tests.app.staff.conftest import PASSWORD, seed
from tests.axe import axe_violations, describe
from tests.conftest import make_settings
from tests.helpers import drain, wall_display_token

SCREENS = [("/login", "#login-username"), ("/lapor", "#lapor-map .leaflet-container, #lapor-map.leaflet-container"),
           ("/kiosk", ".kiosk-leaflet"), ("/wall", "#wall-hexstate[data-connected='1']")]
VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));
"""


@pytest.fixture
def serve(tmp_path, redis_url, sqlite_url):
    """Start the real app with settings of the test's choosing; answers (app, base URL)."""
    from werkzeug.serving import make_server

    from app.factory import create_app
    from app.services import Services

    running = []

    def start(**settings):
        services = Services.open(make_settings(tmp_path, redis_url, sqlite_url, **settings))
        server = create_app(services.settings, services)
        httpd = make_server("127.0.0.1", 0, server, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        running.append((httpd, server, services))
        return server, f"http://127.0.0.1:{httpd.server_port}"

    yield start
    for httpd, server, services in running:
        server.extensions["pantau_live"].stop()
        httpd.shutdown()
        services.close()


def _policy(header: str) -> dict:
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_the_policy_allows_no_foreign_or_injected_script(sqlite_services):
    from app.factory import create_app

    sqlite_services.settings = sqlite_services.settings.with_(
        tile_url="https://{s}.tiles.kota.example/{z}/{x}/{y}.png", proxies=1)
    client = create_app(sqlite_services.settings, sqlite_services).test_client()
    for path in ("/", "/lapor", "/login", "/kiosk", "/open311/v2/services.json", "/api/public/summary"):
        policy = _policy(client.get(path).headers["Content-Security-Policy"])
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'self'"] and policy["default-src"] == ["'self'"]
        script = policy["script-src"]
        assert script[0] == "'self'" and all(re.fullmatch(r"'sha256-[A-Za-z0-9+/=]+'", s) for s in script[1:])
        assert len(script) >= 2            # Dash's renderer start-up line, by hash
        assert policy["img-src"] == ["'self'", "data:", "blob:", "https://*.tiles.kota.example"]
        assert policy["connect-src"] == ["'self'"] and policy["frame-src"] == ["'none'"]
    plain = client.get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    https = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_no_tile_url_means_no_foreign_image_source(sqlite_services):
    from app.factory import create_app

    sqlite_services.settings = sqlite_services.settings.with_(tile_url="", hsts_seconds=0)
    client = create_app(sqlite_services.settings, sqlite_services).test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert _policy(response.headers["Content-Security-Policy"])["img-src"] == ["'self'", "data:", "blob:"]
    assert "Strict-Transport-Security" not in response.headers


def _sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")


def test_every_screen_works_with_the_policy_on_and_not_one_violation(serve, browser, artifacts_dir):
    from app.auth.users import create_user

    app, base = serve(tile_url="")
    services = app.extensions["pantau"]
    rows = seed(services, count=6, categories=["garbage"])
    create_user(services.engine, services.preset, "super1", PASSWORD, "supervisor")
    create_user(services.engine, services.preset, "dlh1", PASSWORD, "agency_officer", "DLH")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(60_000)
    context.add_init_script(VIOLATIONS)
    console = []
    page = context.new_page()
    page.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
    seen = {}
    for path, ready in SCREENS + [(f"/lacak/{rows[0].ticket}", "#lacak-ticket")]:
        # The wall is for staff and display tokens: a screen opens it with its token (moved into a cookie).
        answer = page.goto(f"{base}{path}" + (f"?display={wall_display_token(app)}" if path == "/wall" else ""))
        assert "script-src 'self' 'sha256-" in answer.headers["content-security-policy"], path
        if path == "/lapor":
            # The map (and its library, fetched by assets/lapor.js) comes only when the citizen asks.
            page.click("#lapor-map-open")
        page.wait_for_selector(ready, state="attached")
        page.wait_for_timeout(300)
        seen[path] = page.evaluate("window.__csp")
    page.screenshot(path=str(artifacts_dir / "lacak.png"))
    _sign_in(page, base, "super1")
    page.wait_for_url(f"{base}/dispatch")
    page.wait_for_selector(".queue-table tbody tr")
    page.click(f".dispatch-ticket:has-text('{rows[0].ticket}')")                      # a callback round trip and the detail map
    page.wait_for_selector("#dispatch-detail-ticket")
    page.wait_for_selector(".staff-report-map.leaflet-container")
    seen["/dispatch"] = page.evaluate("window.__csp")
    page.screenshot(path=str(artifacts_dir / "dispatch.png"))
    context.clear_cookies()
    _sign_in(page, base, "dlh1")
    page.wait_for_url(f"{base}/tugas")
    page.wait_for_selector("#tugas-queue, .queue-table")
    seen["/tugas"] = page.evaluate("window.__csp")
    context.close()
    assert all(not v for v in seen.values()), seen
    assert not [line for line in console if "Content Security Policy" in line or "Refused to" in line], console


def test_the_dispatch_detail_map_asks_no_other_host(serve, browser, artifacts_dir):
    from app.auth.users import create_user

    app, base = serve(tile_url="")
    services = app.extensions["pantau"]
    rows = seed(services, count=3, categories=["garbage"])
    create_user(services.engine, services.preset, "super1", PASSWORD, "supervisor")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(60_000)
    hosts = []
    context.on("request", lambda r: hosts.append(urlsplit(r.url).netloc or r.url.split(":", 1)[0]))
    page = context.new_page()
    _sign_in(page, base, "super1")
    page.wait_for_url(f"{base}/dispatch")
    page.wait_for_selector(".queue-table tbody tr")
    page.click(f".dispatch-ticket:has-text('{rows[0].ticket}')")
    page.wait_for_selector("#dispatch-detail-ticket")
    page.wait_for_selector(".staff-report-map.leaflet-container")
    paths = 2 if services.areas.has_areas else 1          # the kecamatan outlines (with boundaries), the spot
    page.wait_for_function(f"() => document.querySelectorAll('.staff-report-map svg path').length >= {paths}")
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts_dir / "detail-map.png"))
    assert page.locator("#dispatch-detail iframe").count() == 0
    axe_violations(page)              # injects axe; the console's other findings are not this map's
    found = page.evaluate("async () => (await axe.run('.staff-report-map', {runOnly: {type: 'tag', values: "
                          "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations")
    serious = [v for v in found if v.get("impact") in ("critical", "serious")]
    assert not serious, describe(serious)
    context.close()
    own = urlsplit(base).netloc
    assert set(hosts) <= {own, "data", "blob"}, sorted(set(hosts) - {own})
