"""Staff sign-in and sessions tried as a hostile stranger would (issue #10, items 3-6).

Each test is the stranger's attempt and what they get, against the real Flask app (its test client,
one per browser, each with its own client address) on the real embedded Redis and a real database.
"""
import html
import re
import statistics
import threading
import time
from collections import Counter
from urllib.parse import quote, urljoin, urlparse

import pytest

from tests.conftest import make_settings

PASSWORD = "correct horse battery"
OWNER_UA = "Mozilla/5.0 (X11; Linux x86_64) owner-laptop"


@pytest.fixture
def make_app(tmp_path, redis_url, sqlite_url):
    """The web app with two staff accounts; settings overridable per test."""
    from app.auth.users import create_user
    from app.factory import create_app
    from app.services import Services

    opened = []

    def make(database_url=None, **extra):
        extra.setdefault("login_wait_s", 60.0)   # a slow shared CI machine: never a 503 in a test
        extra.setdefault("login_delay_s", 60.0)  # nor a wait that ends while Argon2 runs
        services = Services.open(make_settings(tmp_path, redis_url, database_url or sqlite_url, **extra))
        opened.append(services)
        create_user(services.engine, services.preset, "admin1", PASSWORD, "admin")
        create_user(services.engine, services.preset, "oper1", PASSWORD, "operator")
        server = create_app(services.settings, services)
        server.config["TESTING"] = True
        return server

    yield make
    for services in opened:
        services.close()


class Browser:
    """One browser at one client address: its own cookies, the login page's CSRF token."""

    def __init__(self, app, address, agent=OWNER_UA):
        self.client = app.test_client()
        self.client.environ_base.update(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)
        self.page = self.client.get("/login").get_data(as_text=True)
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', self.page).group(1)

    def login(self, username, password, next_value=None):
        data = {"csrf_token": self.token, "username": username, "password": password}
        if next_value is not None:
            data["next"] = next_value
        return self.client.post("/login", data=data)

    def whoami(self):
        return self.client.get("/staff/api/session")


def _checked(app, subject):
    """Passwords actually checked for one account name: each check leaves exactly one audit entry."""
    from app import audit

    engine = app.extensions["pantau"].engine
    return Counter(e["action"] for e in audit.recent(engine, 1000, subject))


def test_forty_parallel_wrong_passwords_check_exactly_the_limit(make_app):
    """A stranger fires 40 wrong passwords for the admin at the same moment: exactly 5 (the limit)
    are checked, the other 35 are refused before any password is."""
    app = make_app()
    browsers = [Browser(app, "203.0.113.9", agent="guesser") for _ in range(40)]
    barrier = threading.Barrier(len(browsers))
    statuses = []

    def guess(i, browser):
        barrier.wait()
        statuses.append(browser.login("admin1", f"guess number {i}").status_code)

    threads = [threading.Thread(target=guess, args=(i, b)) for i, b in enumerate(browsers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(statuses) == {401: 5, 429: 35}
    assert _checked(app, "admin1") == {"login.failed": 5}


def test_a_stranger_flooding_from_elsewhere_does_not_lock_the_owner_out(make_app):
    """A stranger guesses the admin's password from one address until throttled, then tries the
    right one: refused unchecked. The owner, from their own address, signs in at once."""
    app = make_app()
    stranger = Browser(app, "198.51.100.7", agent="guesser")
    answers = [stranger.login("admin1", f"wrong {i}") for i in range(9)]
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 4
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers[5:])
    assert stranger.login("admin1", PASSWORD).status_code == 429     # not checked: no oracle
    assert stranger.whoami().status_code == 401

    owner = Browser(app, "192.0.2.10")
    assert owner.login("admin1", PASSWORD).status_code == 302
    assert owner.whoami().get_json()["username"] == "admin1"
    assert _checked(app, "admin1") == {"login.failed": 5, "login": 1}


def test_waits_grow_with_each_further_wrong_password(make_app):
    """Past the free attempts, every further try for that name from that address waits twice as
    long, up to the longest wait (the throttle's clock is driven by the test)."""
    app = make_app(login_free_attempts=2, login_delay_s=1.0, login_max_delay_s=3.0)
    now = [1_000_000.0]
    app.extensions["pantau_login"].clock = lambda: now[0]
    stranger = Browser(app, "198.51.100.70", agent="guesser")

    def attempt():
        response = stranger.login("oper1", "nope nope")
        return response.status_code, response.headers.get("Retry-After")

    assert [attempt(), attempt()] == [(401, None), (401, None)]
    assert attempt() == (429, "1")
    now[0] += 1.0
    assert attempt() == (401, None)          # checked; the next waits 2 s
    assert attempt() == (429, "2")
    now[0] += 1.5
    assert attempt() == (429, "1")
    now[0] += 0.5
    assert attempt() == (401, None)          # the next would wait 4 s: capped at 3
    assert attempt() == (429, "3")
    assert _checked(app, "oper1") == {"login.failed": 4}


def test_one_address_rotating_names_is_stopped_before_any_password_is_checked(make_app):
    """A stranger tries one password against many names from one address: past the address's limit
    nothing more is checked (fast 429s), whatever names are typed; another address is unaffected."""
    app = make_app(login_address_limit=6)
    stranger = Browser(app, "198.51.100.8", agent="sprayer")
    names = ["admin1", "oper1"] + [f"guess{i}" for i in range(8)]
    statuses = [stranger.login(name, "Password123!").status_code for name in names]
    assert statuses == [401] * 6 + [429] * 4
    started = time.perf_counter()
    refused = stranger.login("admin1", PASSWORD)
    assert refused.status_code == 429 and time.perf_counter() - started < 0.15   # no Argon2 ran
    assert sum(sum(_checked(app, n).values()) for n in names) == 6
    assert Browser(app, "192.0.2.10").login("oper1", PASSWORD).status_code == 302


def _answer(response, browser):
    """What a client sees, its own CSRF token (one per browser) blanked out."""
    body = response.get_data(as_text=True).replace(browser.token, "TOKEN")
    cookies = sorted(re.sub(r"^[^=]+=[^;]*", "", c) for c in response.headers.getlist("Set-Cookie"))
    return response.status_code, body, cookies, "Retry-After" in response.headers


def test_unknown_and_real_names_get_the_same_answer_and_timing(make_app):
    """A stranger probes a real name and a made-up one, seven times each: every answer is the
    same (status, page, cookies), and the checked ones take about as long."""
    app = make_app()
    real, made_up = Browser(app, "203.0.113.20", agent="prober"), Browser(app, "203.0.113.21", agent="prober")
    real.login("nobody-warmup", "x")   # the first Argon2 of the process pays for its set-up
    times = {"real": [], "made_up": []}
    for _ in range(7):
        for label, browser, name in (("real", real, "admin1"), ("made_up", made_up, "no-such-admin")):
            started = time.perf_counter()
            response = browser.login(name, "wrong password")
            times[label].append(time.perf_counter() - started)
            answer = _answer(response, browser)
            if label == "real":
                expected = answer
            else:
                assert answer == expected
    assert expected[0] == 429   # both throttled alike after the free attempts
    real_ms, made_ms = statistics.median(times["real"][:5]), statistics.median(times["made_up"][:5])
    # Skipping Argon2 for a made-up name answers ~1,000x faster; the wide band only absorbs a loaded machine.
    assert 0.4 < made_ms / real_ms < 2.5, (real_ms, made_ms)


def _cli(monkeypatch, app, *argv, password="a brand new passphrase"):
    from app.auth.__main__ import main

    services = app.extensions["pantau"]
    for name, value in (("PANTAU_DATA_DIR", str(services.settings.data_dir)), ("REDIS_URL", services.redis_url),
                        ("DATABASE_URL", services.settings.database_url), ("PANTAU_CITY", "jakarta"),
                        ("SECRET_KEY", "test-secret"), ("PANTAU_NEW_USER_PASSWORD", password)):
        monkeypatch.setenv(name, value)
    assert main(list(argv)) == 0


def _steal(owner, address="198.51.100.99", agent=OWNER_UA):
    """A thief replays the owner's session cookie (from the same browser type, or another)."""
    thief = owner.client.application.test_client()
    thief.environ_base.update(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)
    thief.set_cookie("session", owner.client.get_cookie("session").value, domain="localhost")
    return thief


def test_a_copied_session_cookie_stops_working(make_app, database_url, monkeypatch):
    """A thief copies a signed-in admin's cookie. It works until the admin signs out, is given a
    new password, or is disabled (and stays dead after re-enabling); from another browser never."""
    app = make_app(database_url)
    password = PASSWORD

    def signed_in():
        owner = Browser(app, "192.0.2.10")
        assert owner.login("admin1", password).status_code == 302
        thief = _steal(owner)
        assert thief.get("/staff/api/session").status_code == 200   # a copy works while it lasts
        return owner, thief

    other_browser = _steal(signed_in()[0], agent="curl/8.5")
    assert other_browser.get("/staff/api/session").status_code == 401

    owner, thief = signed_in()
    csrf = owner.whoami().get_json()["csrf_token"]
    assert owner.client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert thief.get("/staff/api/session").status_code == 401

    owner, thief = signed_in()
    _cli(monkeypatch, app, "users", "set-password", "admin1")
    password = "a brand new passphrase"
    assert thief.get("/staff/api/session").status_code == 401
    assert owner.whoami().status_code == 401                          # every session of the account

    owner, thief = signed_in()
    _cli(monkeypatch, app, "users", "disable", "admin1")
    _cli(monkeypatch, app, "users", "enable", "admin1")
    assert thief.get("/staff/api/session").status_code == 401

    owner, thief = signed_in()
    _cli(monkeypatch, app, "users", "sign-out", "admin1")
    assert thief.get("/staff/api/session").status_code == 401
    assert Browser(app, "192.0.2.10").login("admin1", password).status_code == 302   # signs in again

    from app import audit

    actions = [e["action"] for e in reversed(audit.recent(app.extensions["pantau"].engine, 100, "admin1"))]
    assert [a for a in actions if a != "login"] == ["logout", "user.set-password", "user.disable",
                                                    "user.enable", "user.sign-out"]


HOSTILE_NEXT = [
    "/%09/evil.example/x", "/\t/evil.example/x", "//evil.example/x", "///evil.example/x",
    "/\\evil.example/x", "\\\\evil.example/x", "/%5Cevil.example/x", "/%5C%5Cevil.example",
    "/%2F/evil.example/x", "%2F%2Fevil.example", "/\n/evil.example", "/%0A/evil.example", "/%0D%0A/evil.example",
    " //evil.example", "/ /evil.example", "/\x00/evil.example", "https://evil.example/x", "http:evil.example",
    "javascript:alert(1)", "evil.example", "/\u3000/evil.example", "/%E3%80%80/evil.example",
]


def _lands_on(location):
    """Where a browser goes for a Location header (the URL standard drops tabs and newlines,
    trims control characters and spaces, reads a backslash as a slash)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip("".join(chr(c) for c in range(0x21))).replace("\\", "/")
    return urlparse(urljoin("http://localhost/login", cleaned))


def test_next_never_sends_a_signed_in_user_off_site(make_app):
    """A stranger sends staff a sign-in link with a hostile ``next``: the form never carries it and,
    posted directly, the redirect after sign-in always lands on this site (the default page)."""
    app = make_app()
    for value in HOSTILE_NEXT:
        page = app.test_client().get("/login?next=" + quote(value, safe="/%")).get_data(as_text=True)
        carried = html.unescape(re.search(r'name="next" value="([^"]*)"', page).group(1))
        assert carried == "", (value, carried)
        response = Browser(app, "192.0.2.10").login("admin1", PASSWORD, next_value=value)
        assert response.status_code == 302
        target = _lands_on(response.headers["Location"])
        assert (target.scheme, target.netloc, target.path) == ("http", "localhost", "/dispatch"), (value, target)
    kept = Browser(app, "192.0.2.10").login("admin1", PASSWORD, next_value="/dispatch?view=map")
    assert kept.headers["Location"] == "/dispatch?view=map"


def test_one_ipv6_subscriber_counts_as_one_address(make_app):
    """A stranger rotates addresses inside their own IPv6 /64: still one address to the limit."""
    app = make_app(login_address_limit=3)
    statuses = [Browser(app, f"2001:db8:1:2::{i:x}", agent="rotator").login(f"guess{i}", "Password123!").status_code
                for i in range(1, 6)]
    assert statuses == [401, 401, 401, 429, 429]
    assert Browser(app, "2001:db8:1:3::1").login("oper1", PASSWORD).status_code == 302   # the next /64


def test_a_sign_in_flood_waits_for_a_bounded_number_of_password_checks(make_app):
    """Strangers at many addresses sign in at once: one password check at a time per process; the
    ones that found none free in time get 503 with Retry-After, and were neither checked nor counted."""
    app = make_app(login_concurrency=1, login_wait_s=0.05)
    browsers = [Browser(app, f"203.0.113.{100 + i}", agent="flood") for i in range(6)]
    barrier, statuses = threading.Barrier(len(browsers)), []

    def go(browser):
        barrier.wait()
        response = browser.login("oper1", "not the password")
        statuses.append((response.status_code, response.headers.get("Retry-After")))

    threads = [threading.Thread(target=go, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    busy = [s for s in statuses if s[0] == 503]
    assert busy and all(retry and int(retry) >= 1 for _, retry in busy), statuses
    assert {s for s, _ in statuses} <= {401, 503}
    assert _checked(app, "oper1") == {"login.failed": len(statuses) - len(busy)}
    keys = app.extensions["pantau"].keys
    from app.auth.throttle import account_digest

    redis = app.extensions["pantau"].redis
    counted = sum(int(redis.hget(keys.login_pair(f"203.0.113.{100 + i}", account_digest("oper1")), "n") or 0)
                  for i in range(6))
    assert counted == len(statuses) - len(busy)   # a 503 gave its try back


def test_in_chromium_a_hostile_link_and_a_throttled_sign_in(live_app, browser, artifacts_dir):
    """On a phone, a staff member opens a stranger's sign-in link with ``next=/%09/evil.example/x``
    and signs in: Chromium stays on this site. A stranger's sixth wrong password gets the throttled
    page, which passes axe (WCAG 2.1 AA: 0 critical, 0 serious)."""
    from app.auth.users import create_user
    from tests.axe import axe_violations, describe

    services, base = live_app.extensions["pantau"], live_app.config["BASE_URL"]
    live_app.extensions["pantau_login"].clock = lambda: 1_000_000.0   # no wait ends during the test
    create_user(services.engine, services.preset, "super1", PASSWORD, "supervisor")
    context = browser.new_context(viewport={"width": 360, "height": 800})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{base}/login?next=/%09/evil.example/x")
    page.fill("#login-username", "super1")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/dispatch**")
    assert urlparse(page.url).netloc == urlparse(base).netloc
    page.screenshot(path=str(artifacts_dir / "signed-in-after-hostile-next.png"))

    stranger = browser.new_context(viewport={"width": 360, "height": 800})
    page = stranger.new_page()
    for attempt in range(6):
        page.goto(f"{base}/login")
        page.fill("#login-username", "super1")
        page.fill("#login-password", f"wrong guess {attempt}")
        page.click("#login-submit")
        page.wait_for_selector("#login-error")
    assert "Too many failed sign-ins" in page.inner_text("#login-error")
    page.screenshot(path=str(artifacts_dir / "throttled-360.png"))
    violations = axe_violations(page)
    assert not violations, describe(violations)
    context.close()
    stranger.close()
