"""Issue 14: the report form with no signal, on a 360x800 phone under emulated 3G.

The form is opened once with signal (its service worker keeps it); the signal goes; the form opens
again from the phone, a report with a GPS point and a big photo is made and kept on the phone (the
screen says it waits); the signal comes back and it is filed exactly once, with its photo resized
on the phone, and the ticket is shown. A photo chosen with signal goes up with a progress bar."""
import io

from PIL import Image
from sqlalchemy import select

from app import photos
from app.store import db
from tests.axe import axe_violations, describe
from tests.helpers import drain

PHONE = {"width": 360, "height": 800}
PLUIT = {"latitude": -6.1268, "longitude": 106.7930}
G3 = {"offline": False, "latency": 300, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
NO_THROTTLE = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def _phone(browser, **extra):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True, **extra)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", G3)
    return context, page, cdp


def _big_photo(tmp_path, size=(4000, 3000)):
    path = tmp_path / "IMG_4000.jpg"
    Image.effect_noise(size, 40).convert("RGB").save(path, "JPEG", quality=92)
    return path


def _stored_side(services, ref) -> int:
    with Image.open(photos.photo_path(services.settings, ref)) as image:
        return max(image.size)


def test_offline_report_is_kept_on_the_phone_and_filed_once_when_back(live_app, browser, tmp_path, artifacts_dir):
    base = live_app.config["BASE_URL"]
    services = live_app.extensions["pantau"]
    context, page, cdp = _phone(browser, permissions=["geolocation"], geolocation=PLUIT)
    page.goto(f"{base}/lapor?lang=id")
    page.wait_for_selector("#lapor-submit", timeout=60000)
    # The service worker controls the form and its first answers are kept for a visit without signal.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30000)
    page.wait_for_function("() => caches.open('pantau-lapor-v1').then(c => c.keys())"
                           ".then(k => k.some(r => r.url.includes('/lapor/__page')))", timeout=30000)
    page.wait_for_selector("html[data-lapor-kept=page]", state="attached", timeout=30000)
    page.wait_for_load_state("networkidle")

    cdp.send("Network.emulateNetworkConditions", NO_THROTTLE)   # Playwright's offline (page and worker) wins
    context.set_offline(True)
    page.reload()
    page.wait_for_selector("#lapor-submit", timeout=30000)   # the form, from the phone
    # Chromium's emulation forgets navigator.onLine across a reload (the network stays cut): say it again.
    context.set_offline(False)
    context.set_offline(True)
    assert page.evaluate("() => navigator.onLine") is False
    page.locator(".lapor-category-button").nth(1).click()
    page.click("#lapor-gps")
    page.wait_for_function("() => window.pantauLaporState && window.pantauLaporState.gps")
    page.wait_for_function("() => document.querySelector('#lapor-gps-status').textContent.startsWith('Lokasi GPS tersimpan')")
    page.fill("#lapor-description", "Banjir setinggi lutut, dikirim tanpa sinyal")
    page.set_input_files("#lapor-photo-file", str(_big_photo(tmp_path)))
    page.wait_for_function("() => window.pantauLaporState.photo && window.pantauLaporState.photo.blob")
    page.click("#lapor-submit")
    waiting = page.wait_for_selector("#lapor-kept-waiting", timeout=10000).text_content()
    assert waiting.startswith("Tidak ada sinyal. Laporan Anda disimpan di HP ini")
    kept = page.evaluate("() => window.pantauLaporKept.all().then(e => e.map(x => [x.key, !!x.photo]))")
    assert len(kept) == 1 and kept[0][1] is True
    assert not (v := axe_violations(page)), describe(v)
    page.screenshot(path=str(artifacts_dir / "lapor-offline-waiting.png"), full_page=True)
    drain(services)
    with services.engine.connect() as conn:
        assert conn.execute(select(db.reports.c.id).where(db.reports.c.description.like("%tanpa sinyal"))).all() == []

    context.set_offline(False)
    cdp.send("Network.emulateNetworkConditions", G3)
    ticket = page.wait_for_selector("#lapor-kept-ticket", timeout=60000).text_content()
    assert ticket.startswith("JKT-")
    assert page.get_attribute("#lapor-kept-track", "href").startswith(f"/lacak/{ticket}?lang=id#k=")
    page.wait_for_function("() => document.activeElement.id === 'lapor-kept-heading'")
    assert not page.is_visible("#lapor-submit")   # the form gives way to the answer
    page.screenshot(path=str(artifacts_dir / "lapor-offline-filed.png"), full_page=True)
    assert page.evaluate("() => window.pantauLaporKept.all().then(e => e.length)") == 0
    # Sent again (the phone's flush runs on every load and on every return of the signal): still once.
    page.evaluate("() => window.pantauLaporKept.flush()")
    drain(services)
    with services.engine.connect() as conn:
        rows = conn.execute(select(db.reports.c.id, db.reports.c.photos, db.reports.c.category)
                            .where(db.reports.c.description.like("%tanpa sinyal"))).all()
    assert len(rows) == 1
    refs = list(rows[0].photos) if not isinstance(rows[0].photos, str) else [rows[0].photos.strip('[]" ')]
    assert refs and _stored_side(services, refs[0]) <= 1600    # resized on the phone
    context.close()


def test_a_photo_goes_up_resized_with_a_progress_bar(live_app, browser, tmp_path):
    base = live_app.config["BASE_URL"]
    services = live_app.extensions["pantau"]
    context, page, _ = _phone(browser)
    page.goto(f"{base}/lapor?lang=en")
    page.wait_for_selector("#lapor-submit", timeout=60000)
    sent = []
    page.on("request", lambda r: sent.append((r.url, r.method, r.headers.get("content-type", ""),
                                              len(r.post_data_buffer or b""))) if "/lapor/photo" in r.url else None)
    page.set_input_files("#lapor-photo-file", str(_big_photo(tmp_path)))
    page.wait_for_selector("#lapor-photo-progress:not([hidden])", timeout=20000)
    page.wait_for_selector("#lapor-thumb", timeout=60000)
    assert page.is_hidden("#lapor-photo-progress")
    assert "location data inside the photo was removed" in page.text_content("#lapor-photo-status")
    (url, method, ctype, size), = sent
    assert method == "POST" and ctype.startswith("multipart/form-data") and size < 1_500_000
    page.locator(".lapor-category-button").nth(0).click()
    page.fill("#lapor-place-search", "Pluit")
    page.keyboard.press("Enter")
    page.locator(".lapor-place-button").first.click()
    page.wait_for_selector("#lapor-nudge-box:not([hidden])")
    page.fill("#lapor-description", "Photo resized on the phone")
    page.click("#lapor-submit")
    page.wait_for_selector("#lapor-ticket", timeout=30000)
    drain(services)
    with services.engine.connect() as conn:
        row = conn.execute(select(db.reports.c.photos)
                           .where(db.reports.c.description == "Photo resized on the phone")).one()
    refs = list(row.photos) if not isinstance(row.photos, str) else [row.photos.strip('[]" ')]
    assert _stored_side(services, refs[0]) == 1600
    context.close()
