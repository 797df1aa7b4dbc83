"""A citizen on a 360×800 phone files a report with a photo, gets a ticket and tracks it;
a second citizen at the same spot is offered the existing report and supports it."""
import io
import re

from PIL import Image
from sqlalchemy import select

from app.store import approvals, db
from tests.helpers import drain

PHONE = {"width": 360, "height": 800}


def _photo_file(tmp_path):
    path = tmp_path / "IMG_2041.jpg"
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (6.0, 12.0, 26.0), 3: "E", 4: (106.0, 50.0, 19.0)}   # where it was taken
    Image.new("RGB", (1200, 900), (90, 140, 60)).save(path, "JPEG", exif=exif.tobytes())
    return path


def _fill_form(page, base, photo=None, description="Sampah menumpuk di depan pasar sejak tiga hari"):
    page.goto(f"{base}/lapor")
    page.locator(".lapor-category-button", has_text="Sampah").click()
    page.click("#lapor-map-open")   # the map library is fetched only now (app/web_assets.py)
    page.locator("#lapor-map").click(position={"x": 180, "y": 120})
    page.wait_for_selector("#lapor-nudge-box:not([hidden])")   # a point is chosen, shown in words
    page.fill("#lapor-description", description)
    if photo:
        page.set_input_files("#lapor-photo-file", str(photo))
        page.wait_for_selector("#lapor-thumb", timeout=15000)


def test_file_a_report_and_track_it(live_app, browser, tmp_path, artifacts_dir):
    base = live_app.config["BASE_URL"]
    services = live_app.extensions["pantau"]
    page = browser.new_page(viewport=PHONE)
    _fill_form(page, base, _photo_file(tmp_path))
    page.fill("#lapor-name", "Siti Aminah")
    page.fill("#lapor-phone", "+62 812 5555 0101")
    page.screenshot(path=str(artifacts_dir / "lapor-filled.png"), full_page=True)
    page.click("#lapor-submit")
    ticket = page.wait_for_selector("#lapor-ticket", timeout=15000).text_content()
    assert re.fullmatch(r"JKT-[0-9A-Z]{5}-[0-9A-Z]{5}", ticket)
    page.screenshot(path=str(artifacts_dir / "lapor-ticket.png"), full_page=True)
    # The page fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    drain(services)   # the ingest workers write it to the record
    page.click("#lapor-track-link")
    page.wait_for_selector("#lacak-ticket", timeout=15000)
    assert page.text_content("#lacak-ticket") == ticket
    assert "Diterima" in page.text_content("#lacak-timeline")
    assert "WIB" in page.text_content("#lacak-timeline")
    assert page.text_content("#lacak-agency")
    thumb = page.wait_for_selector("#lacak-before-photos img")
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", thumb)
    content = page.content()
    for private in ("Siti", "Aminah", "5555"):
        assert private not in content
    page.screenshot(path=str(artifacts_dir / "lacak.png"), full_page=True)
    page.close()


def test_support_a_likely_duplicate(live_app, browser, artifacts_dir, tmp_path):

    base = live_app.config["BASE_URL"]
    services = live_app.extensions["pantau"]
    page = browser.new_page(viewport=PHONE)
    _fill_form(page, base, _photo_file(tmp_path))
    page.click("#lapor-submit")
    first = page.wait_for_selector("#lapor-ticket", timeout=15000).text_content()
    drain(services)

    _fill_form(page, base, description="Sampah lagi")
    page.click("#lapor-submit")
    page.wait_for_selector("#lapor-duplicate-ticket", timeout=15000)
    assert page.text_content("#lapor-duplicate-ticket") == first
    # In words: category, time ago, distance, state; the first citizen's photo is not shown to
    # another until staff published the report (the category's icon stands in).
    offer = page.text_content("#lapor-duplicate")
    assert "Sampah" in offer and "baru saja" in offer and " m dari titik Anda" in offer and "Diterima" in offer
    assert page.locator("#lapor-duplicate-thumb").count() == 0
    assert page.locator(".lapor-duplicate-icon").count() == 1
    with services.engine.connect() as conn:
        first_id = conn.execute(select(db.reports.c.id).where(db.reports.c.ticket == first)).scalar()
    approvals.approve(services.engine, first_id, "test-staff")
    page.click("#lapor-submit")
    thumb = page.wait_for_selector("#lapor-duplicate-thumb", timeout=15000)
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0 && img.alt.length > 0", thumb)
    for button in ("#lapor-support", "#lapor-submit-anyway"):   # both look like buttons (AA contrast)
        assert page.locator(button).evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)",)
    page.screenshot(path=str(artifacts_dir / "lapor-duplicate.png"), full_page=True)
    page.click("#lapor-support")
    assert page.wait_for_selector("#lapor-ticket", timeout=15000).text_content() == first
    assert "1" in page.text_content("#lapor-result")
    stream_before = services.redis.xlen(services.keys.stream())
    page.goto(f"{base}/lacak/{first}")
    page.wait_for_selector("#lacak-ticket")
    assert services.redis.xlen(services.keys.stream()) == stream_before   # supporting filed nothing new
    page.close()


def test_a_form_sent_twice_files_one_report(live_app, browser):
    """A double tap, or a phone sending the form again on a bad network: one report, one ticket."""

    base = live_app.config["BASE_URL"]
    services = live_app.extensions["pantau"]
    page = browser.new_page(viewport=PHONE)
    sent = []
    page.on("request", lambda r: sent.append(r) if "_dash-update-component" in r.url
            and "lapor-submit.n_clicks" in (r.post_data or "") else None)
    _fill_form(page, base, description="Lampu jalan mati di depan sekolah")
    page.click("#lapor-submit")
    ticket = page.wait_for_selector("#lapor-ticket", timeout=15000).text_content()
    assert len(sent) == 1

    def send_again():   # the very same request, as the phone would send it again
        response = page.request.post(sent[0].url, data=sent[0].post_data,
                                     headers={"Content-Type": "application/json"})
        assert response.ok
        body = response.text()
        assert '"lapor-ticket"' in body and ticket in body and "lapor-duplicate-ticket" not in body
    send_again()            # before the workers ran: the double tap
    drain(services)
    send_again()            # after: the retry on a bad network is not "a duplicate of itself"
    drain(services)
    assert db.count_reports(services.engine, services.preset.slug) == 1
    # A new visit to the form is a new report.
    _fill_form(page, base, description="Lampu jalan mati di depan sekolah")
    page.click("#lapor-submit")
    page.wait_for_selector("#lapor-duplicate-ticket", timeout=15000)   # offered the first one instead
    assert page.text_content("#lapor-duplicate-ticket") == ticket
    page.close()
