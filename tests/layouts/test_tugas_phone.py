"""The field officer's phone at 360x800 with location granted: find a task, start, resolve at the site
(verified), resolve another from 2 km away (flagged), try the first report's photo again (refused, in
Indonesian); a second report's form is always empty; no sideways scroll; axe finds nothing serious."""

from app.auth.users import create_user
from app.staff import actions
from tests.app.staff.conftest import PASSWORD, seed
from tests.app.staff.test_staff_permissions import DISPATCHED_DLH, to_state
from tests.app.test_proof import offset, photo
from tests.axe import axe_violations, describe
from tests.layouts.test_dispatch import sign_in

def _status(services, report_id):
    from sqlalchemy import select

    from app.store import db
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports.c.status).where(db.reports.c.id == report_id)).scalar()


NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_officer_phone_start_resolve_with_proof(live_app, browser, artifacts_dir, tmp_path):
    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "dlh1", PASSWORD, "agency_officer", "DLH")
    rows = seed(services, count=8, categories=["garbage"])
    for row in rows[:6]:
        to_state(services, row, DISPATCHED_DLH)
    first, second, third = rows[:3]
    files = {}
    for n in (1, 2):
        files[n] = tmp_path / f"sesudah-{n}.jpg"
        files[n].write_bytes(photo(100 + n))

    context = browser.new_context(viewport={"width": 360, "height": 800}, is_mobile=True, has_touch=True,
                                  geolocation={"latitude": first.lat, "longitude": first.lng, "accuracy": 12},
                                  permissions=["geolocation"])
    context.set_default_timeout(90_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, "dlh1")
    page.wait_for_url(f"{base}/tugas")
    page.wait_for_selector(".tugas-card")
    assert page.locator(".tugas-card").count() == 6
    page.wait_for_selector("#tugas-counts:has-text('6 tugas')")
    page.wait_for_function("() => document.querySelector('.tugas-distance').textContent.includes('dari Anda')")
    assert page.evaluate(NO_SIDEWAYS)
    v = axe_violations(page)
    assert not v, describe(v)
    page.screenshot(path=str(artifacts_dir / "1-list-id.png"), full_page=True)

    # Find the task by its ticket, open its own page.
    page.fill("#tugas-search", first.ticket)
    page.press("#tugas-search", "Enter")
    page.wait_for_function("() => document.querySelectorAll('.tugas-card').length == 1")
    page.click(f".tugas-card[data-ticket='{first.ticket}']")
    page.wait_for_url(f"{base}/tugas/{first.ticket}")
    page.wait_for_selector("#tugas-start")
    assert page.locator("#tugas-photo").get_attribute("capture") == "environment"
    assert page.locator("#tugas-geo").get_attribute("href").startswith("geo:")
    assert page.evaluate(NO_SIDEWAYS)
    v = axe_violations(page)
    assert not v, describe(v)
    page.screenshot(path=str(artifacts_dir / "2-task-id.png"), full_page=True)

    page.click("#tugas-start")
    page.wait_for_selector(".tugas-status[data-status='in_progress']")
    assert page.locator("#tugas-start").count() == 0        # only what the state allows
    page.set_input_files("#tugas-photo", str(files[1]))
    page.fill("#tugas-note", "Sampah sudah diangkut")
    page.click("#tugas-resolve")
    page.wait_for_selector(".tugas-message:has-text('terverifikasi')")
    page.wait_for_selector(".tugas-status[data-status='resolved']")
    assert page.locator("[data-flag]").count() == 0
    page.screenshot(path=str(artifacts_dir / "3-resolved-id.png"), full_page=True)

    # The next report: an empty form; Selesaikan without a photo resolves nothing.
    page.goto(f"{base}/tugas/{second.ticket}")
    page.wait_for_selector("#tugas-photo")
    assert page.input_value("#tugas-note") == ""
    assert page.evaluate("() => document.querySelector('#tugas-photo').files.length") == 0
    page.click("#tugas-resolve")
    page.wait_for_selector(".tugas-message:has-text('Pilih atau ambil foto')")
    assert page.locator(".tugas-status").get_attribute("data-status") == "dispatched"

    # The first report's photo on this one: refused, in Indonesian.
    context.set_geolocation({"latitude": second.lat, "longitude": second.lng, "accuracy": 12})
    page.set_input_files("#tugas-photo", str(files[1]))
    page.click("#tugas-resolve")
    page.wait_for_selector(".tugas-message:has-text('Foto ditolak: foto ini sudah pernah dipakai')")
    v = axe_violations(page)                  # the error message too
    assert not v, describe(v)
    page.screenshot(path=str(artifacts_dir / "4-refused-id.png"), full_page=True)

    # Resolved from 2 km away: saved and flagged.
    lat, lng = offset(second.lat, second.lng, 2000)
    context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": 12})
    page.set_input_files("#tugas-photo", str(files[2]))
    page.click("#tugas-resolve")
    page.wait_for_selector(".tugas-message:has-text('lokasi tidak terverifikasi')")
    page.wait_for_selector("[data-flag='location_unverified']")
    page.screenshot(path=str(artifacts_dir / "5-flagged-id.png"), full_page=True)

    # No signal: resolved on the phone, queued with its photo and position; back online, filed once.
    fourth = rows[3]
    context.set_geolocation({"latitude": fourth.lat, "longitude": fourth.lng, "accuracy": 12})
    page.goto(f"{base}/tugas/{fourth.ticket}")
    page.wait_for_selector("#tugas-photo")
    files[3] = tmp_path / "sesudah-3.jpg"
    files[3].write_bytes(photo(103))
    page.set_input_files("#tugas-photo", str(files[3]))
    context.set_offline(True)
    page.click("#tugas-resolve")
    page.wait_for_selector(".tugas-message:has-text('Tidak ada sinyal')")
    page.wait_for_selector(f".tugas-pending[data-count='1']:has-text('{fourth.ticket}')")
    assert _status(services, fourth.id) == "dispatched"
    page.screenshot(path=str(artifacts_dir / "5b-queued-id.png"), full_page=True)
    context.set_offline(False)
    page.wait_for_selector(".tugas-pending[data-count='0']", state="attached")
    assert _status(services, fourth.id) == "resolved"
    assert [h["action"] for h in actions.history(services.engine, fourth.id)].count("resolve") == 1

    # English by choice, everywhere.
    page.goto(f"{base}/tugas/{third.ticket}?lang=en")
    page.wait_for_selector("#tugas-resolve:has-text('Resolve')")
    assert page.evaluate(NO_SIDEWAYS)
    page.screenshot(path=str(artifacts_dir / "6-task-en.png"), full_page=True)
    page.goto(f"{base}/tugas?lang=en")
    page.wait_for_selector("#tugas-counts:has-text('3 tasks')")
    page.screenshot(path=str(artifacts_dir / "7-list-en.png"), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})      # the same screen on a desk
    page.goto(f"{base}/tugas/NOPE-NOT-A-TICKET")
    page.wait_for_selector("text=tidak ditemukan")
    page.goto(f"{base}/tugas")
    page.wait_for_selector(".tugas-card")
    assert page.evaluate(NO_SIDEWAYS)
    page.screenshot(path=str(artifacts_dir / "8-list-desk-id.png"))
    context.close()


def test_officer_phone_works_offline_after_a_reload(live_app, browser, artifacts_dir, tmp_path):
    """The service worker keeps the shell and the officer's tasks (with their before photos): loaded
    once online, the list and a task's page open again with no signal; a resolution made offline is
    queued with its photo and filed exactly once when the signal is back. Installable (manifest)."""
    import json

    from sqlalchemy import update

    from app import photos
    from app.store import db

    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "dlh1", PASSWORD, "agency_officer", "DLH")
    rows = seed(services, count=4, categories=["garbage"])
    for row in rows:
        to_state(services, row, DISPATCHED_DLH)
    target = rows[1]
    before = photos.store_photo(services.settings, photo(401))
    with services.engine.begin() as conn:
        conn.execute(update(db.reports).where(db.reports.c.id == target.id).values(photos=json.dumps([before.ref])))

    context = browser.new_context(viewport={"width": 360, "height": 800}, is_mobile=True, has_touch=True,
                                  geolocation={"latitude": target.lat, "longitude": target.lng, "accuracy": 10},
                                  permissions=["geolocation"])
    context.set_default_timeout(90_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, "dlh1")
    page.wait_for_url(f"{base}/tugas")
    page.wait_for_selector(".tugas-card")
    # Installable: a manifest with icons, a worker controlling /tugas.
    manifest = page.evaluate("() => fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())")
    assert manifest["start_url"] == "/tugas" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    page.wait_for_selector("main.tugas[data-offline-kept='4']")      # every listed task kept
    # and the app shell: every script and style the page loaded is in the worker's cache
    page.wait_for_function("""() => caches.open('pantau-tugas-v2').then(cache => Promise.all(
        performance.getEntriesByType('resource').map(e => new URL(e.name))
          .filter(u => /^\\/(_dash-component-suites|assets)\\//.test(u.pathname))
          .map(u => cache.match(u.pathname + u.search)))).then(hits => hits.length > 0 && hits.every(Boolean))""",
                           polling=1000)

    page.wait_for_selector("html[data-offline-shell]", state="attached")   # the first visit's answers kept
    context.set_offline(True)
    page.reload()
    page.wait_for_selector(".tugas-card")
    assert page.locator(".tugas-card").count() == 4
    assert page.evaluate(NO_SIDEWAYS)
    page.screenshot(path=str(artifacts_dir / "9-offline-list-id.png"), full_page=True)
    page.click(f".tugas-card[data-ticket='{target.ticket}']")
    page.wait_for_url(f"{base}/tugas/{target.ticket}")
    page.wait_for_selector("#tugas-photo")
    shown = page.wait_for_selector(".tugas-photos img")
    # the before photo, offline (from the worker's cache)
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=shown, timeout=15_000)
    files = tmp_path / "sesudah-offline.jpg"
    files.write_bytes(photo(402))
    page.set_input_files("#tugas-photo", str(files))
    page.click("#tugas-resolve")
    page.wait_for_selector(".tugas-message:has-text('Tidak ada sinyal')")
    page.wait_for_selector(f".tugas-pending[data-count='1']:has-text('{target.ticket}')")
    v = axe_violations(page)
    assert not v, describe(v)
    page.screenshot(path=str(artifacts_dir / "10-offline-task-queued-id.png"), full_page=True)
    assert _status(services, target.id) == "dispatched"
    # The task's own page reloaded with no signal: drawn from the phone, the queued action still waiting.
    page.reload()
    page.wait_for_selector("#tugas-photo")
    page.wait_for_selector(f".tugas-pending[data-count='1']:has-text('{target.ticket}')")
    assert page.locator("#tugas-ticket").inner_text() == target.ticket

    context.set_offline(False)
    page.wait_for_selector(".tugas-pending[data-count='0']", state="attached")
    assert _status(services, target.id) == "resolved"
    assert [h["action"] for h in actions.history(services.engine, target.id)].count("resolve") == 1
    context.close()


def _camera_photo(seed_no: int, taken: str):
    """A phone camera's JPEG: 4000x3000 as stored, EXIF Orientation 6 (shown as 3000x4000 portrait) and
    DateTimeOriginal; a few MB (fine noise over random blocks, a perceptual hash of its own)."""
    import io
    import random

    from PIL import Image, ImageChops

    rng = random.Random(seed_no)
    small = Image.new("RGB", (6, 8))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(48)])
    upright = ImageChops.add(small.resize((3000, 4000), Image.NEAREST),
                             Image.effect_noise((3000, 4000), 14).convert("RGB"), 1.0, -128)
    exif = Image.Exif()
    exif[0x0112] = 6                                        # rotate 90° clockwise to show
    exif.get_ifd(0x8769)[36867] = taken                     # DateTimeOriginal, in the Exif sub-IFD
    out = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def _stored_after_photo(services, report_id):
    from PIL import Image

    from app import photos
    ref = actions.after_photos(services.engine, report_id)[-1]
    image = Image.open(photos.photo_path(services.settings, ref))
    image.load()
    return image


def _like(a, b) -> float:
    """Mean difference (0-255) of two pictures seen at 30x40: small when they show the same thing."""
    from PIL import ImageChops, ImageStat
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB").resize((30, 40)),
                                                    b.convert("RGB").resize((30, 40)))).mean) / 3


def test_after_photo_is_shrunk_on_the_phone_keeping_its_capture_time(live_app, browser, artifacts_dir, tmp_path):
    """A 4000x3000 camera photo (Orientation 6, dated before the assignment) chosen at 360x800: sent at
    most 1600 px, upright, a fraction of its bytes, and the server still reads its capture time (the
    time check flags it). Queued offline, the shrunk photo is what waits in IndexedDB."""
    import io
    import re

    from PIL import Image, ImageOps

    from app import proof

    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "dlh1", PASSWORD, "agency_officer", "DLH")
    rows = seed(services, count=2, categories=["garbage"])
    for row in rows:
        to_state(services, row, DISPATCHED_DLH)
    first, second = rows
    originals = {n: _camera_photo(600 + n, "2020:01:01 09:00:00") for n in (1, 2)}
    for n, data in originals.items():
        (tmp_path / f"IMG_{n}.jpg").write_bytes(data)
        assert len(data) > 2_500_000

    context = browser.new_context(viewport={"width": 360, "height": 800}, is_mobile=True, has_touch=True,
                                  geolocation={"latitude": first.lat, "longitude": first.lng, "accuracy": 12},
                                  permissions=["geolocation"])
    context.set_default_timeout(90_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, "dlh1")
    page.wait_for_url(f"{base}/tugas")
    page.goto(f"{base}/tugas/{first.ticket}")
    page.wait_for_selector("#tugas-photo")

    # What cannot be decoded goes as taken; a large PNG is shrunk too (a JPEG, nothing to carry).
    (tmp_path / "rusak.jpg").write_bytes(b"\xff\xd8\xff\xe1" + bytes(range(256)) * 8000)
    page.set_input_files("#tugas-photo", str(tmp_path / "rusak.jpg"))
    page.wait_for_selector("#tugas-photo-chosen[data-shrink='as-taken']:has-text('rusak.jpg')")
    Image.effect_noise((2400, 1800), 30).convert("RGB").save(tmp_path / "layar.png")
    page.set_input_files("#tugas-photo", str(tmp_path / "layar.png"))
    page.wait_for_selector("#tugas-photo-chosen[data-shrink='shrunk']:has-text('layar.png')")

    page.set_input_files("#tugas-photo", str(tmp_path / "IMG_1.jpg"))
    page.screenshot(path=str(artifacts_dir / "1-shrinking-id.png"), full_page=True)
    page.wait_for_selector("#tugas-photo-chosen[data-shrink='shrunk']:has-text('IMG_1.jpg')")
    words = page.inner_text("#tugas-photo-chosen")
    before = f"{round(len(originals[1]) / 1024 / 1024, 1):.1f}".replace(".", ",")     # Indonesian numbers
    assert re.fullmatch(rf"IMG_1\.jpg · Foto diperkecil dari {before} MB menjadi [\d.]+ KB\.", words), words
    assert page.evaluate(NO_SIDEWAYS)
    v = axe_violations(page)
    assert not v, describe(v)
    page.screenshot(path=str(artifacts_dir / "2-shrunk-id.png"), full_page=True)

    with page.expect_request(lambda r: r.method == "POST" and r.url.split("?")[0].endswith("/resolve")) as sent:
        page.click("#tugas-resolve")
    page.wait_for_selector(".tugas-message:has-text('terverifikasi')")
    upload = sent.value.sizes()["requestBodySize"]
    assert upload < len(originals[1]) / 5, (upload, len(originals[1]))
    page.wait_for_selector(".tugas-status[data-status='resolved']")
    page.wait_for_selector("[data-flag='photo_before_assignment']")     # the capture time was read
    page.screenshot(path=str(artifacts_dir / "3-resolved-id.png"), full_page=True)

    shown = ImageOps.exif_transpose(Image.open(io.BytesIO(originals[1])))          # 3000x4000, upright
    stored = _stored_after_photo(services, first.id)
    assert max(stored.size) <= 1600
    assert abs(stored.width / stored.height - shown.width / shown.height) < 0.01      # portrait, as shown
    assert _like(stored, shown) < 12 < _like(stored, shown.rotate(180))             # the right way up
    kinds = {f["kind"] for f in proof.flags_of(services.engine, first.id)}
    assert "photo_before_assignment" in kinds and "location_unverified" not in kinds

    # No signal: the shrunk photo is what waits on the phone, and what is filed once back online.
    context.set_geolocation({"latitude": second.lat, "longitude": second.lng, "accuracy": 12})
    page.goto(f"{base}/tugas/{second.ticket}?lang=en")
    page.wait_for_selector("#tugas-photo")
    page.set_input_files("#tugas-photo", str(tmp_path / "IMG_2.jpg"))
    page.wait_for_selector("#tugas-photo-chosen[data-shrink='shrunk']")
    before = f"{round(len(originals[2]) / 1024 / 1024, 1):.1f}"                      # English numbers
    assert re.fullmatch(rf"IMG_2\.jpg · Photo shrunk from {before} MB to [\d,]+ KB\.",
                        page.inner_text("#tugas-photo-chosen"))
    context.set_offline(True)
    page.click("#tugas-resolve")
    page.wait_for_selector(f".tugas-pending[data-count='1']:has-text('{second.ticket}')")
    waiting = page.evaluate("""() => new Promise(done => {
        const open = indexedDB.open('pantau-tugas', 1);
        open.onsuccess = () => {
          const all = open.result.transaction('queue').objectStore('queue').getAll();
          all.onsuccess = () => done(all.result.map(p => ({size: p.photo.size, type: p.photo.type, name: p.photoName})));
        };
      })""")
    assert len(waiting) == 1 and waiting[0]["type"] == "image/jpeg" and waiting[0]["name"] == "IMG_2.jpg"
    assert waiting[0]["size"] < len(originals[2]) / 5
    page.screenshot(path=str(artifacts_dir / "4-queued-en.png"), full_page=True)
    context.set_offline(False)
    page.wait_for_selector(".tugas-pending[data-count='0']", state="attached")
    assert _status(services, second.id) == "resolved"
    stored = _stored_after_photo(services, second.id)
    assert max(stored.size) <= 1600 and stored.width < stored.height
    assert "photo_before_assignment" in {f["kind"] for f in proof.flags_of(services.engine, second.id)}
    context.close()
