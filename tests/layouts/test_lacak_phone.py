"""Issue 14: following a report on a cheap phone (360x800) at /lacak/<ticket>.

The state in words and in the traffic-light convention, what happens next with the stage's
deadline, dates by the language's rules, a language switch that keeps the reporter's link; rating
and dispute only with the reporter's secret (through POST /api/feedback); axe-core clean."""
import re

import pytest
from sqlalchemy import select

from app.store import db
from ingest.sources import RawReport
from tests.axe import axe_violations, describe
from tests.helpers import file_with_secrets
from tests.security.conftest import resolve

PHONE = {"width": 360, "height": 800}
DATE = {"id": r"\d{1,2} (Jan|Feb|Mar|Apr|Mei|Jun|Jul|Agu|Sep|Okt|Nov|Des) \d{4}, \d{2}\.\d{2} WIB",
        "en": r"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sept?|Oct|Nov|Dec) \d{4}, \d{2}:\d{2} WIB"}


def _status(services, report_id):
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports.c.status).where(db.reports.c.id == report_id)).scalar_one()


def _filed(services, count=1):
    raws = [RawReport(category="road_damage", lat=-6.2088 + i * 0.001, lng=106.8456, description=f"Lubang {i}",
                      source="web", source_ref=f"lacak-phone-{i}") for i in range(count)]
    return file_with_secrets(services, raws)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_a_new_report_reads_in_words_and_waits_for_verification(live_app, browser, artifacts_dir, lang):
    services = live_app.extensions["pantau"]
    (row, secret), = _filed(services)
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{live_app.config['BASE_URL']}/lacak/{row.ticket}?lang={lang}")
    page.wait_for_selector("#lacak-status")
    assert page.get_attribute("html", "lang") == lang
    assert page.get_attribute("#lacak-status", "data-light") == "red"
    assert ("Diterima" if lang == "id" else "Received") in page.text_content("#lacak-status")
    what_next = page.text_content("#lacak-next")
    assert ("Petugas memeriksa" if lang == "id" else "Staff check") in what_next
    assert len(re.findall(DATE[lang], what_next)) == 2   # the verification and the resolution deadlines
    assert re.search(DATE[lang], page.text_content("#lacak-timeline"))
    assert "/lapor" not in page.text_content(".lacak-page") and "Target selesai" not in what_next.split(".")[0]
    assert not page.query_selector("#lacak-feedback") and not page.query_selector("#lacak-description")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not (v := axe_violations(page)), describe(v)
    page.screenshot(path=str(artifacts_dir / f"lacak-new-{lang}.png"), full_page=True)
    # The language switch keeps the reporter's link (the fragment never reaches the server's logs).
    page.goto(f"{live_app.config['BASE_URL']}/lacak/{row.ticket}?lang={lang}#k={secret}")
    page.wait_for_selector("#lacak-holder")
    page.click("#citizen-language")
    page.wait_for_selector("#lacak-holder")
    assert page.get_attribute("html", "lang") == ("en" if lang == "id" else "id")
    assert page.evaluate("location.hash") == f"#k={secret}"
    page.close()


def test_rating_and_dispute_only_with_the_secret(live_app, browser, artifacts_dir):
    services = live_app.extensions["pantau"]
    (rated, rated_secret), (disputed, disputed_secret) = _filed(services, 2)
    for row in (rated, disputed):
        resolve(services, row.id)
    base = live_app.config["BASE_URL"]
    page = browser.new_page(viewport=PHONE)
    # A stranger with the ticket: the state, no form; the API refuses them anyway.
    page.goto(f"{base}/lacak/{rated.ticket}")
    page.wait_for_selector("#lacak-status")
    assert page.get_attribute("#lacak-status", "data-light") == "green"
    assert not page.query_selector("#lacak-feedback")
    page.goto(f"{base}/lacak/{rated.ticket}#k={'x' * 32}")
    page.wait_for_selector("#lacak-status")
    assert not page.query_selector("#lacak-feedback") and not page.query_selector("#lacak-holder")
    # The reporter rates 4 of 5: closed.
    page.goto(f"{base}/lacak/{rated.ticket}#k={rated_secret}")
    page.wait_for_selector("#lacak-rate")
    assert not (v := axe_violations(page)), describe(v)
    page.screenshot(path=str(artifacts_dir / "lacak-holder-resolved.png"), full_page=True)
    page.fill("#lacak-comment", "Sudah rapi")
    page.click("#lacak-rate button[value='4']")
    page.wait_for_selector("#lacak-feedback-status.alert-success")
    page.wait_for_function("() => document.querySelector('#lacak-status') && "
                           "document.querySelector('#lacak-status').textContent.includes('Ditutup')", timeout=15000)
    assert _status(services, rated.id) == "closed"
    # The other reporter disputes: reopened, red again.
    page.goto(f"{base}/lacak/{disputed.ticket}?lang=en#k={disputed_secret}")
    page.wait_for_selector("#lacak-dispute")
    page.fill("#lacak-dispute-reason", "The hole is still there")
    page.click("#lacak-dispute button[type=submit]")
    page.wait_for_function("() => document.querySelector('#lacak-status') && "
                           "document.querySelector('#lacak-status').dataset.light === 'red'", timeout=15000)
    assert _status(services, disputed.id) == "reopened"
    assert not (v := axe_violations(page)), describe(v)
    page.close()


def test_dates_by_the_language_rules():
    from datetime import datetime, timezone

    from app.i18n import date_time
    from config.cities import PRESETS

    moment = datetime(2026, 12, 1, 20, 27, tzinfo=timezone.utc)
    assert date_time(moment, PRESETS["jakarta"], "id") == "2 Des 2026, 03.27 WIB"
    assert date_time(moment, PRESETS["jakarta"], "en") == "2 Dec 2026, 03:27 WIB"


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_small_map_shows_the_point_or_only_the_area_of_a_sensitive_report(live_app, browser, artifacts_dir, lang):
    services = live_app.extensions["pantau"]
    (road, _), = _filed(services)
    (aid, _), = file_with_secrets(services, [RawReport(category="social_aid", lat=-6.2000, lng=106.8400,
                                                       description="Bantuan belum diterima", source="web",
                                                       source_ref="lacak-phone-aid")])
    page = browser.new_page(viewport=PHONE)
    fetched = []
    page.on("request", lambda r: fetched.append(r.url))
    page.goto(f"{live_app.config['BASE_URL']}/lacak/{road.ticket}?lang={lang}")
    page.wait_for_selector("#lacak-map-open")
    assert not [u for u in fetched if "dash_leaflet" in u]      # the map library only on the tap
    page.click("#lacak-map-open")
    page.wait_for_selector(".lacak-map-point", state="attached", timeout=30000)
    page.wait_for_selector("#lacak-map .leaflet-interactive, #lacak-map path", state="attached", timeout=30000)
    assert page.get_attribute("#lacak-map-box [role=region]", "aria-label") == (
        "Peta lokasi laporan" if lang == "id" else "Map of the report's place")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not (v := axe_violations(page)), describe(v)
    page.screenshot(path=str(artifacts_dir / f"lacak-map-{lang}.png"), full_page=True)
    # A sensitive category: its area only, never the exact point, and said so.
    page.goto(f"{live_app.config['BASE_URL']}/lacak/{aid.ticket}?lang={lang}")
    page.click("#lacak-map-open")
    page.wait_for_selector(".lacak-map-area", state="attached", timeout=30000)
    assert page.query_selector(".lacak-map-point") is None
    assert page.text_content("#lacak-map-note").startswith("Untuk jenis" if lang == "id" else "For this kind")
    page.close()


def test_the_citizen_screens_need_no_callback_before_they_are_usable(live_app, browser):
    """The first load carries the screen drawn ahead and its callbacks (no _dash-layout,
    _dash-dependencies or router round trip on 3G); a reporter's link routes once, for the
    holder's view, which the server could not draw without the fragment."""
    services = live_app.extensions["pantau"]
    (row, secret), = _filed(services)
    base = live_app.config["BASE_URL"]
    for path, ready in ((f"/lacak/{row.ticket}", "#lacak-status"), ("/lapor?lang=en", "#lapor-submit"),
                        (f"/lacak/{row.ticket}#k={secret}", "#lacak-holder")):
        page = browser.new_page(viewport=PHONE)
        asked = []
        page.on("request", lambda r: asked.append((r.url.split("?")[0].rsplit("/", 1)[-1], r.post_data or ""))
                if "/_dash-" in r.url else None)
        page.goto(base + path)
        page.wait_for_selector(ready)
        page.wait_for_load_state("networkidle")
        routed = [body for name, body in asked if name == "_dash-update-component" and "shell-page" in body]
        assert [name for name, _ in asked if name in ("_dash-layout", "_dash-dependencies")] == []
        assert len(routed) == (1 if "#k=" in path else 0), routed
        if "#k=" in path:
            assert secret in routed[0]       # in the callback's body, never in a URL
        page.close()
    # The page's callbacks only: none of a staff screen's.
    html = live_app.test_client().get(f"/lacak/{row.ticket}").get_data(as_text=True)
    callbacks = re.search(r'id="pantau-first-dependencies">(.*?)</script>', html, re.S).group(1)
    assert "shell-page.children" in callbacks and "lacak-map-box.children" in callbacks
    assert "dispatch-" not in callbacks and "wall-" not in callbacks
