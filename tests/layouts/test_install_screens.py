"""A two-city install (jakarta, kupang) in headless Chromium: a citizen files a report on
/kupang/lapor and it lands in Kupang only; Kupang's wall at 1920×1080 shows it live, in WITA, in
both languages; the overview wall shows both cities with totals that are their sum. axe finds
nothing critical or serious on any of them."""
import re
import threading

import pytest
from sqlalchemy import select

from app import queries
from app.auth import displays
from app.store import db
from tests.axe import axe_violations, describe
from tests.conftest import make_settings
from tests.helpers import drain, raw_reports

WALL = {"width": 1920, "height": 1080}
PHONE = {"width": 360, "height": 800}


@pytest.fixture
def install_server(tmp_path, redis_url, sqlite_url):
    from werkzeug.serving import make_server

    from app.factory import create_app
    from app.services import Services

    settings = make_settings(tmp_path, redis_url, sqlite_url, cities=("jakarta", "kupang"))
    services = Services.open(settings)
    root = create_app(settings, services)
    httpd = make_server("127.0.0.1", 0, root, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", root
    httpd.shutdown()
    for app in root.extensions["pantau_cities"].values():
        app.extensions["pantau_live"].stop()
        app.extensions["pantau_socket_watch"].stop()
    services.close()


def _shot(page, artifacts_dir, name):
    page.screenshot(path=str(artifacts_dir / f"{name}.png"))


def test_a_report_on_kupang_lapor_lands_in_kupang_and_its_wall_speaks_wita(install_server, browser, artifacts_dir):
    base, root = install_server
    cities = root.extensions["pantau_city_services"]
    kupang, jakarta = cities["kupang"], cities["jakarta"]
    jakarta.producer.submit_many(raw_reports(5, seed=4, prefix="jkt"))
    drain(jakarta)

    phone = browser.new_page(viewport=PHONE)
    phone.set_default_timeout(60000)     # a loaded 2-core machine: the first load is slow
    phone.goto(f"{base}/kupang/lapor")
    phone.locator(".lapor-category-button", has_text="Sampah").click()
    phone.click("#lapor-map-open")
    phone.locator("#lapor-map").click(position={"x": 180, "y": 120})
    phone.wait_for_selector("#lapor-nudge-box:not([hidden])", timeout=15000)
    phone.fill("#lapor-description", "Sampah menumpuk di depan pasar sejak tiga hari")
    phone.click("#lapor-submit")
    ticket = phone.wait_for_selector("#lapor-ticket", timeout=20000).text_content()
    assert ticket.startswith("KPG-")
    assert phone.get_attribute("#lapor-track-link", "href").startswith(f"/kupang/lacak/{ticket}")
    assert phone.get_attribute("#lapor-again", "href").startswith("/kupang/lapor")
    assert phone.get_attribute("#citizen-language", "href").startswith("/kupang/lapor?lang=en")
    _shot(phone, artifacts_dir, "kupang-lapor-ticket")
    drain(kupang)
    with kupang.engine.connect() as conn:
        rows = conn.execute(select(db.reports.c.city).where(db.reports.c.ticket == ticket)).all()
    assert [r.city for r in rows] == ["kupang"]
    assert queries.kpis(kupang.redis, kupang.preset)["received"] == 1
    assert queries.kpis(jakarta.redis, jakarta.preset)["received"] == 5
    phone.click("#lapor-track-link")
    phone.wait_for_selector("#lacak-ticket", timeout=15000)
    assert "WITA" in phone.text_content("#lacak-timeline")
    phone.close()

    _, token = displays.create_display(kupang.engine, "kupang", "Kupang wall")
    for lang in ("id", "en"):
        page = browser.new_page(viewport=WALL)
        page.set_default_timeout(60000)
        page.goto(f"{base}/kupang/wall?display={token}&lang={lang}")
        assert page.url.startswith(f"{base}/kupang/wall") and "display=" not in page.url
        page.wait_for_function(
            "() => { const s = document.getElementById('wall-hexstate');"
            " return s && s.getAttribute('data-connected') === '1' && Number(s.dataset.total) === 1; }",
            timeout=60000)
        page.wait_for_function("() => (document.getElementById('wall-kpi-received') || {}).textContent === '1'")
        # The clock arrives with the pushed panels, just after the socket joins.
        page.wait_for_function("() => (document.getElementById('wall-clock') || {}).textContent"
                               " && document.getElementById('wall-clock').textContent.includes('WITA')")
        _shot(page, artifacts_dir, f"kupang-wall-{lang}")
        violations = axe_violations(page)
        assert violations == [], describe(violations)
        page.close()


def test_the_overview_shows_every_city_and_their_sum(install_server, browser, artifacts_dir):
    base, root = install_server
    cities = root.extensions["pantau_city_services"]
    cities["jakarta"].producer.submit_many(raw_reports(9, seed=6, prefix="jkt"))
    drain(cities["jakarta"])
    from tests.app.test_web_install import _kupang_reports

    cities["kupang"].producer.submit_many(_kupang_reports(3))
    drain(cities["kupang"])
    stranger = browser.new_page(viewport=WALL)
    stranger.goto(f"{base}/overview")
    assert "/jakarta/login" in stranger.url
    stranger.close()
    _, token = displays.create_display(cities["jakarta"].engine, "overview", "Ruang gubernur")
    for lang, words in (("id", ("Ikhtisar semua kota", "Jumlah")), ("en", ("Overview of every city", "Total"))):
        page = browser.new_page(viewport=WALL)
        page.goto(f"{base}/overview?display={token}&lang={lang}")
        assert "display=" not in page.url
        text = page.inner_text("body")
        assert all(w in text for w in words)
        assert page.inner_text("#overview-total td:nth-child(3)") == "12"
        assert "WITA" in page.inner_text("#overview-city-kupang .overview-time")
        assert "WIB" in page.inner_text("#overview-city-jakarta .overview-time")
        assert page.locator("#overview-map path.hex").count() >= 2
        # a wall: everything on one 1920×1080 screen, nothing to scroll
        assert page.evaluate("() => document.documentElement.scrollHeight") <= WALL["height"]
        assert page.evaluate("() => document.documentElement.scrollWidth") <= WALL["width"]
        _shot(page, artifacts_dir, f"overview-{lang}")
        violations = axe_violations(page)
        assert violations == [], describe(violations)
        if lang == "id":
            assert not re.search(r"\b(Total|Reports|Overview)\b", text)
        page.close()
    for size, viewport in (("desk", {"width": 1440, "height": 900}), ("phone", PHONE)):
        index = browser.new_page(viewport=viewport)
        index.goto(base + "/")
        assert "Kota Kupang" in index.inner_text("#install-city-kupang")
        assert index.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        _shot(index, artifacts_dir, f"install-index-{size}")
        violations = axe_violations(index)
        assert violations == [], describe(violations)
        index.close()
