"""The supervisor's console for a whole shift (issue 13), in a real browser at 1440×900: two clicks from
a new report to its suggested OPD, search by ticket, bulk verify-and-route, a selection that survives
a refresh with new reports arriving, every word in the screen's language, axe-core clean; and the
office exports (local times, translated headers, no formulas)."""
import csv
import io
import re
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from app.auth.users import create_user
from app.store import db
from tests.app.staff.conftest import PASSWORD, as_user, seed, staff_app  # noqa: F401  (fixtures)
from tests.axe import axe_violations, describe
from tests.helpers import drain, raw_reports
from tests.layouts.test_dispatch import sign_in
from tests.layouts.test_wall_room import wall_app  # noqa: F401  (fixture)

# raw codes that must never show, and each language's words that must not leak into the other
CODES = ("in_progress", "in progress", "agency_officer", "flood", "garbage", "due_soon", "breached", "sla_due",
         "bulk_assign", "verify_route", "None", "→")
ENGLISH = ("Verify", "Assign", "Reject", "Merge", "Select All", "Clear selection", "Search", "Status:",
           "New ", "Dispatched", "left", "late", "Deadline", "Page ", "History", "Sign out", "Received")
INDONESIAN = ("Verifikasi", "Disposisi", "Tolak", "Gabung", "Pilih", "Cari", "Baru", "Didisposisi", "lagi",
              "terlambat", "Tenggat", "Hal.", "Riwayat", "Keluar", "Diterima", "laporan ")


def _rows(services):
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports).order_by(db.reports.c.created_at)).all()


def _ticket(services, report_id: str) -> str:
    return next(r.ticket for r in _rows(services) if r.id == report_id)


def _visible_text(page) -> str:
    """The screen's own words (the citizen's description is theirs, in any language)."""
    return page.evaluate("""() => { const copy = document.querySelector('.dispatch').cloneNode(true);
        copy.querySelectorAll('.dispatch-description').forEach(e => e.remove());
        document.body.appendChild(copy); const text = copy.innerText; copy.remove(); return text; }""")


def _scan(page, lang: str) -> None:
    text = _visible_text(page)
    for code in CODES:
        assert code not in text, f"raw code {code!r} on the {lang} screen"
    other = INDONESIAN if lang == "en" else ENGLISH
    leaked = [w for w in other if re.search(r"(?<![\w])" + re.escape(w), text)]
    assert not leaked, f"{'Indonesian' if lang == 'en' else 'English'} words on the {lang} screen: {leaked}"


def _wait_rows(page, n: int) -> None:
    page.wait_for_function(f"() => document.querySelectorAll('.dispatch-table tbody tr').length == {n}")


def test_a_shift_at_the_console(live_app, browser, artifacts_dir):
    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "ani", PASSWORD, "supervisor")
    seed(services, count=21, categories=["garbage", "flood"])
    rows = _rows(services)
    first = rows[0]
    assert first.agency, "the seed reports are routed on arrival"

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(60_000)      # a loaded machine answers callbacks late
    page = context.new_page()
    sign_in(page, base, "ani")
    page.wait_for_url(f"{base}/dispatch", timeout=180_000)        # Argon2 on a loaded machine
    _wait_rows(page, 21)
    assert page.evaluate("() => document.documentElement.lang") == "id"
    page.screenshot(path=str(artifacts_dir / "1-opens-on-work-id.png"))
    (artifacts_dir / "dom.html").write_text(page.inner_html(".dispatch-filters"))
    v = axe_violations(page)
    assert not v, describe(v)
    # two clicks: the first new report, then "Verifikasi & disposisi ke <OPD usulan>"
    assert page.locator(".dispatch-table tbody tr").first.get_attribute("data-report") == first.id
    page.click(f"[data-report='{first.id}'] .dispatch-ticket")                    # click 1
    button = page.locator("#dispatch-verify-route")
    page.wait_for_selector(f"#dispatch-verify-route:has-text('{first.agency}'):not([disabled])")
    assert page.locator(f"[data-report='{first.id}']").get_attribute("aria-current") == "true"
    button.click()                                                                 # click 2
    page.wait_for_selector(f"#dispatch-message:has-text('{first.ticket}')")
    assert "didisposisikan ke " + first.agency in page.inner_text("#dispatch-message")
    page.wait_for_selector("#dispatch-detail:has-text('· versi 3')")
    done = next(r for r in _rows(services) if r.id == first.id)
    assert (done.status, done.agency) == ("dispatched", first.agency)
    page.screenshot(path=str(artifacts_dir / "2-verified-routed-id.png"))
    v = axe_violations(page)
    assert not v, describe(v)
    _scan(page, "id")

    # a citizen calls with a ticket
    wanted = rows[7]
    page.fill("#dispatch-search", wanted.ticket.lower())
    page.press("#dispatch-search", "Enter")
    _wait_rows(page, 1)
    assert page.locator(".dispatch-table tbody tr").first.get_attribute("data-ticket") == wanted.ticket
    page.fill("#dispatch-search", "")
    page.press("#dispatch-search", "Enter")
    _wait_rows(page, 21)

    # bulk: the 20 new reports, each verified and routed to its suggested OPD
    page.click("[data-state='new']")
    _wait_rows(page, 20)
    page.click("#dispatch-pick-page")
    page.wait_for_selector("#dispatch-picked-label:has-text('20')")
    assert page.locator(".dispatch-table tbody input[type=checkbox]:checked").count() == 20
    page.click("#dispatch-bulk-verify-route")
    page.wait_for_selector("#dispatch-message:has-text('20 dari 20')")
    after = _rows(services)
    assert all(r.status == "dispatched" and r.agency == o.agency for r, o in zip(after, rows))
    page.wait_for_selector("#dispatch-picked-label:has-text('0')")

    # a selection survives a refresh while new reports arrive
    page.click("[data-state='open']")
    _wait_rows(page, 21)
    ticked = [r.id for r in rows[3:6]]
    for rid in ticked:
        page.check(f"[data-report='{rid}'] input[type=checkbox]")
    page.wait_for_selector("#dispatch-picked-label:has-text('3')")
    page.mouse.wheel(0, 300)
    page.wait_for_function("() => window.scrollY > 0")
    scrolled = page.evaluate("() => window.scrollY")
    page.wait_for_function("() => document.documentElement.getAttribute('data-dispatch-push') === 'on'")
    services.producer.submit_many(raw_reports(4, seed=99, prefix="late", spread_s=60))
    drain(services)                                   # written to SQL: announced, the queue re-reads by push
    _wait_rows(page, 25)
    assert page.evaluate("() => window.scrollY") == scrolled          # no reload: the scroll stays
    for rid in ticked:
        assert page.is_checked(f"[data-report='{rid}'] input[type=checkbox]")
    assert page.inner_text("#dispatch-picked-label").startswith("3")
    page.screenshot(path=str(artifacts_dir / "3-selection-kept-id.png"))
    context.close()

    # the whole screen in English
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(60_000)      # a loaded machine answers callbacks late
    page = context.new_page()
    sign_in(page, base, "ani")
    page.wait_for_url(f"{base}/dispatch", timeout=180_000)        # Argon2 on a loaded machine
    page.goto(f"{base}/dispatch?lang=en")
    page.wait_for_selector(".dispatch-table tbody tr")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    late = next(r for r in _rows(services) if r.status == "new")
    page.click(f"[data-report='{late.id}'] .dispatch-ticket")
    page.wait_for_selector("#dispatch-verify-route:not([disabled])")
    assert page.is_disabled("#dispatch-publish") and page.is_disabled("#dispatch-unpublish")
    page.click("#dispatch-reject")                          # no reason given: refused, in words
    page.wait_for_selector("#dispatch-message:has-text('A rejection needs a reason.')")
    _scan(page, "en")
    # keyboard: "j" opens the next report, "/" goes to the search
    ordered = page.evaluate("() => [...document.querySelectorAll('.dispatch-table tbody tr')].map(r => r.dataset.report)")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")   # shortcuts act outside fields
    page.keyboard.press("j")
    following = ordered[ordered.index(late.id) + 1]
    try:
        page.wait_for_selector(f"[data-report='{following}'][aria-current='true']", timeout=10000)
    except PlaywrightTimeout:   # a loaded machine: the key arrived before the detail's round trip ended
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.keyboard.press("j")
        page.wait_for_selector(f"[data-report='{following}'][aria-current='true']", timeout=20000)
    page.wait_for_function("() => document.querySelector('#dispatch-detail-ticket') && "
                           f"document.querySelector('#dispatch-detail-ticket').innerText.startsWith('{_ticket(services, following)}')")
    page.keyboard.press("Escape")
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "dispatch-search"
    page.screenshot(path=str(artifacts_dir / "4-detail-en.png"))
    _scan(page, "en")
    v = axe_violations(page)
    assert not v, describe(v)
    context.close()


def test_exports_read_as_an_office_reads_them(services, as_user):
    raws = raw_reports(6, seed=5, prefix="office")
    raws[0].description = '=HYPERLINK("http://evil.example","klik")'
    raws[1].description = "@SUM(A1:A9) banjir"
    raws[2].category = "flood"
    services.producer.submit_many(raws)
    drain(services)
    staff = as_user("super1")
    zone = ZoneInfo(services.preset.timezone)
    label = services.preset.tz_label
    rows = {r.ticket: r for r in _rows(services)}

    response = staff.get("/staff/api/export?format=csv&lang=id")
    assert response.status_code == 200
    name = response.headers["Content-Disposition"]
    today = __import__("datetime").datetime.now(zone).date().isoformat()
    assert f"pantau-{services.preset.slug}-{today}.csv" in name
    raw = response.data
    assert raw.startswith(b"\xef\xbb\xbf")                        # Excel reads UTF-8 with its mark
    records = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert len(records) == 6
    assert {"Tiket", "Kategori", "Status", f"Diterima ({label})", f"Tenggat ({label})"} <= set(records[0])
    for rec in records:
        row = rows[rec["Tiket"]]
        local = row.created_at.replace(tzinfo=row.created_at.tzinfo or timezone.utc).astimezone(zone)
        assert rec[f"Diterima ({label})"] == local.strftime("%Y-%m-%d %H:%M")
        assert rec["Status"] == "Baru"
        assert not rec["Uraian"].startswith(("=", "+", "-", "@"))    # never a formula
    assert any(rec["Kategori"] == "Banjir" for rec in records)

    book = load_workbook(io.BytesIO(staff.get("/staff/api/export?format=xlsx&lang=en").data))
    sheet = book["reports"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["Ticket", "Category", "Status"] and f"Received ({label})" in header
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    assert sheet.column_dimensions["A"].width >= 15
    at = header.index(f"Received ({label})")
    for cells in sheet.iter_rows(min_row=2, values_only=True):
        row = rows[cells[0]]
        local = row.created_at.replace(tzinfo=row.created_at.tzinfo or timezone.utc).astimezone(zone)
        assert abs(cells[at] - local.replace(tzinfo=None)) < timedelta(seconds=1)     # a real local datetime
        assert cells[2] == "New"
        assert not str(cells[header.index("Description")]).startswith(("=", "+", "-", "@"))


def test_search_by_ticket_phone_and_words(services, as_user):
    raws = raw_reports(8, seed=11, prefix="search")
    raws[3].description = "Pohon tumbang menutup Jalan Kenari"
    raws[5].reporter_phone = "0813 9999 7777"
    services.producer.submit_many(raws)
    drain(services)
    rows = _rows(services)
    staff = as_user("super1")

    def found(q):
        answer = staff.get("/staff/api/queue", query_string={"q": q})
        assert answer.status_code == 200, answer.get_json()
        return [i["ticket"] for i in answer.get_json()["items"]]

    assert found(rows[2].ticket.lower()) == [rows[2].ticket]
    kenari = next(r for r in rows if "Kenari" in r.description)
    assert found("jalan kenari") == [kenari.ticket]
    caller = next(r for r in rows if r.reporter_phone == "0813 9999 7777")
    assert found("+62 813-9999-7777") == [caller.ticket]
    assert found("tidak ada kata ini") == []
    assert staff.get("/staff/api/queue", query_string={"q": "x" * 101}).status_code == 422


def test_a_wall_spike_is_acknowledged_from_the_console(wall_app, browser, artifacts_dir):
    from app import spikes
    from tests.layouts.test_wall_room import flood_burst, quiet_week_then_now

    services = wall_app.extensions["pantau"]
    base = wall_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "oper1", PASSWORD, "operator")
    quiet_week_then_now(services)
    flood_burst(services)
    [incident] = spikes.current_incidents(services.redis, services.preset)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_in(page, base, "oper1")
    page.wait_for_url(f"{base}/dispatch", timeout=60_000)       # Argon2 on a loaded machine
    page.goto(f"{base}/dispatch?lang=en")
    row = page.locator(f"[data-incident='{incident.id}']")
    row.wait_for()
    assert "Flooding: 40 reports in 15 minutes" in row.inner_text()
    row.locator("button").click()
    page.wait_for_selector(f"[data-incident='{incident.id}'].acknowledged")
    assert spikes.current_incidents(services.redis, services.preset)[0].acknowledged
    page.screenshot(path=str(artifacts_dir / "incident-acknowledged-en.png"))
    context.close()


def test_the_work_order_read_by_index_equals_the_sorted_order(services):
    """The console's default order, read as short per-state index reads and merged, equals the one
    ORDER BY over every row (new and reopened, then overdue, then by deadline), page by page."""
    from datetime import datetime

    from app.auth.users import StaffUser
    from app.followup import change_status
    from app.staff import queue

    rows = seed(services, count=40, categories=["garbage", "flood", "fallen_tree"])
    for i, row in enumerate(rows[:24]):
        change_status(services.engine, services.producer, row.id, "verified", "supervisor:ani")
        if i % 2:
            change_status(services.engine, services.producer, row.id, "dispatched", "supervisor:ani", agency="DLH")
    user = StaffUser("ani", "supervisor", None, services.preset.slug)
    later = datetime.now(timezone.utc) + timedelta(hours=30)      # some deadlines have passed by then
    flt = queue.QueueFilter(statuses=("new", "reopened", "verified", "dispatched", "in_progress"), sort="work")
    with services.engine.connect() as conn:
        expected = [r.id for r in conn.execute(
            select(db.reports.c.id).where(*queue._conditions(services.preset, flt, user, later))
            .order_by(*queue._order(flt, later)))]
        merged = [r.id for p in range(3) for r in queue._work_rows(conn, services.preset, flt, user, later,
                                                                   p * 15, 15)]
    assert len(expected) == len(rows) == 40
    assert merged == expected[:45]


def test_the_detail_shows_duplicates_proof_and_the_hex_picker(live_app, browser, artifacts_dir):
    """A report's likely duplicates by ticket (category, time, distance, state; each opens in the panel,
    both on the detail's map), its flagged proof in words, and the hex filter chosen on a map and said
    in words, in both languages, axe-core clean."""
    import h3

    from app import proof

    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "ani", PASSWORD, "supervisor")
    first, second = raw_reports(2, seed=31, prefix="dup")
    first.category = second.category = "garbage"
    second.lat, second.lng = first.lat + 0.0004, first.lng
    services.producer.submit_many([first, second])
    drain(services)
    one, two = sorted(_rows(services), key=lambda r: r.source_ref)
    proof.record_flags(services.engine, one, "resolve", "agency_officer:dlh1", [("location_unverified",
                                                                               {"distance_m": 840})])
    cell = h3.cell_to_parent(one.h3_cell, 8)
    for lang in ("id", "en"):
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_default_timeout(30_000)
        page = context.new_page()
        sign_in(page, base, "ani")
        page.wait_for_url(f"{base}/dispatch", timeout=180_000)        # Argon2 on a loaded machine
        page.goto(f"{base}/dispatch?lang={lang}&h3={cell}")
        page.wait_for_selector(f"[data-report='{one.id}']")
        label = page.inner_text("#dispatch-h3-label")
        assert label.startswith("Heksagon " if lang == "id" else "Hexagon ") and cell not in label
        assert page.is_visible("#dispatch-h3-clear")
        page.click(f"[data-report='{one.id}'] .dispatch-ticket")
        dup = page.locator(f".dispatch-duplicates [data-ticket='{two.ticket}']")
        dup.wait_for()
        words = dup.inner_text()
        assert (" m dari sini" if lang == "id" else " m from here") in words
        assert ("Sampah" if lang == "id" else "Garbage") in words and ("Baru" if lang == "id" else "New") in words
        flags = page.inner_text(".dispatch-proof")
        assert ("lokasi tidak terverifikasi" if lang == "id" else "location not verified") in flags
        assert page.locator(".staff-report-map path.leaflet-interactive").count() >= 1   # the duplicate's ring
        page.screenshot(path=str(artifacts_dir / f"detail-duplicates-{lang}.png"), full_page=True)
        v = axe_violations(page)
        assert not v, describe(v)
        _scan(page, lang)
        dup.click()                                                       # opens in the panel
        page.wait_for_selector(f"#dispatch-detail-ticket:has-text('{two.ticket}')")
        page.click("#dispatch-h3-clear")                                  # the hex filter cleared
        page.wait_for_function("() => document.getElementById('dispatch-h3-label').innerText === ''")
        page.click(".dispatch-picker summary")                            # and a hex chosen on the map
        box = page.locator("#dispatch-picker").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function("() => document.getElementById('dispatch-h3-label').innerText !== ''")
        page.screenshot(path=str(artifacts_dir / f"hex-picked-{lang}.png"), full_page=True)
        v = axe_violations(page)
        assert not v, describe(v)
        context.close()
