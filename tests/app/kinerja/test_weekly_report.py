"""The weekly report as the mayor's office gets it: PDF and XLSX opened with pypdf and openpyxl,
totals equal to SQL over the same week, times in the city's zone, the e-mail received by a real
SMTP server on loopback, the files downloadable from /kinerja by staff with the right role only."""
import email
import email.policy
import socket
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from app import kinerja
from app.kinerja import formats, mail, weekly
from app.kinerja.__main__ import due_week, run_week
from app.store import db
from tests.kinerja_history import make_history


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _week_counts(engine, city, zone, monday, agency=None):
    start = datetime.combine(monday, datetime.min.time(), zone)
    end = start + timedelta(days=7)
    r, e = db.reports.c, db.report_events.c
    where = [r.city == city] + ([r.agency == agency] if agency else [])
    with engine.connect() as conn:
        received = conn.execute(select(func.count()).select_from(db.reports)
                                .where(*where, r.created_at >= start, r.created_at < end)).scalar_one()
        resolved = conn.execute(select(func.count()).select_from(db.report_events.join(db.reports, r.id == e.report_id))
                                .where(*where, e.to_status == "resolved", e.occurred_at >= start,
                                       e.occurred_at < end)).scalar_one()
    return received, resolved


def test_weekly_pdf_xlsx_totals_local_times_and_mail(services, tmp_path):
    make_history(services, count=140, days=22)
    zone = ZoneInfo(services.preset.timezone)
    today = datetime.now(zone).date()
    monday = weekly.last_full_week(today)
    week = kinerja.iso_week(monday)
    inbox, port = Inbox(), _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        services.settings = replace(services.settings, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="pantau@kota.test")
        mail.subscribe(services.engine, services.preset, "gubernur@kota.test")
        mail.subscribe(services.engine, services.preset, "kadis.dlh@kota.test", "DLH")
        files = run_week(services, monday)
    finally:
        smtp.stop()
    names = {p.name for p in files}
    assert {f"pantau-{week}-city.pdf", f"pantau-{week}-city.xlsx", f"pantau-{week}-DLH.pdf"} <= names
    assert len(files) == 2 * (1 + len(services.preset.agencies))

    received, resolved = _week_counts(services.engine, services.preset.slug, zone, monday)
    prev_received, _ = _week_counts(services.engine, services.preset.slug, zone, monday - timedelta(days=7))
    assert received > 0 and resolved > 0
    city_pdf = weekly.folder(services.settings, week) / f"pantau-{week}-city.pdf"
    reader = PdfReader(city_pdf)
    assert len(reader.pages) >= 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert f"Laporan kinerja mingguan {week}" in text
    cells = [line.strip() for line in text.splitlines()]
    at = cells.index("Masuk")   # the KPI table: indicator, this week, the week before
    assert cells[at + 1:at + 3] == [formats.number(received, "id"), formats.number(prev_received, "id")]
    at = cells.index("Selesai")
    assert cells[at + 1] == formats.number(resolved, "id")
    overdue = weekly.figures(services, monday, None)["overdue"]
    assert overdue, "the history leaves reports past their due time"
    first = overdue[0]
    assert first["ticket"] in text and formats.moment(first["created_at"], services.preset, "id") in text
    assert " WIB" in text and "UTC" not in text

    book = load_workbook(weekly.folder(services.settings, week) / f"pantau-{week}-city.xlsx")
    kpi = {row[0]: row[1:] for row in book["KPI"].iter_rows(min_row=7, values_only=True)}
    assert kpi["Masuk"] == (received, prev_received)
    assert kpi["Selesai"][0] == resolved
    per_day = list(book.worksheets[1].iter_rows(min_row=2, values_only=True))
    assert len(per_day) == 7 and sum(n for _, n in per_day) == received
    flagged = [row for row in book["Penyelesaian yang ditandai"].iter_rows(min_row=2, values_only=True) if row[0]]
    officer_rows = [row for row in flagged if isinstance(row[1], int) and "(" in row[0]]
    assert sum(row[1] for row in officer_rows) == resolved     # every resolution of the week, by its officer
    assert "Penyelesaian yang ditandai" in text and "Hadir terverifikasi" in text
    dlh = load_workbook(weekly.folder(services.settings, week) / f"pantau-{week}-DLH.xlsx")
    dlh_kpi = {row[0]: row[1:] for row in dlh["KPI"].iter_rows(min_row=7, values_only=True)}
    assert dlh_kpi["Masuk"][0] == _week_counts(services.engine, services.preset.slug, zone, monday, "DLH")[0]

    assert len(inbox.messages) == 2
    by_rcpt = {rcpts[0]: msg for rcpts, msg in inbox.messages}
    attached = {part.get_filename() for part in by_rcpt["kadis.dlh@kota.test"].iter_attachments()}
    assert attached == {f"pantau-{week}-DLH.pdf", f"pantau-{week}-DLH.xlsx"}
    assert week in by_rcpt["gubernur@kota.test"]["Subject"]
    assert by_rcpt["gubernur@kota.test"]["From"] == "pantau@kota.test"

    # The schedule: before Monday 07.00 nothing is due; after it, last week unless already built.
    this_monday = kinerja.week_start(today)
    early = datetime.combine(this_monday, datetime.min.time(), zone).replace(hour=6, minute=59)
    assert due_week(early, services.settings) is None
    assert due_week(early.replace(hour=7, minute=0), services.settings) is None   # already built
    assert due_week(early.replace(hour=7) + timedelta(days=7), services.settings) == this_monday


def test_weekly_download_needs_the_role(staff_app, services, as_user):
    monday = weekly.last_full_week(datetime.now(ZoneInfo(services.preset.timezone)).date())
    week = kinerja.iso_week(monday)
    weekly.build(services, monday)
    url = f"/kinerja/weekly/{week}/pantau-{week}-city.pdf"
    answer = as_user("super1").get(url)
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
    assert as_user("oper1").get(url).status_code == 403
    assert as_user("super1").get(f"/kinerja/weekly/{week}/pantau.sqlite3").status_code == 404
    assert as_user("super1").get(f"/kinerja/weekly/2026-W01/pantau-{week}-city.pdf").status_code == 404
    tricked = as_user("super1").get(f"/kinerja/weekly/{week}/..%2F..%2F..%2Fpantau.sqlite3")
    assert not tricked.data.startswith(b"SQLite")   # the screens' page, never the file
    assert staff_app.test_client().get(url).status_code in (302, 401)


def test_weekly_report_is_built_and_mailed_once_by_racing_builders(services):
    """Two schedulers due at the same minute (two processes, a restart, the command meanwhile):
    the week's row in kinerja_weekly_builds lets one build and mail; the other leaves it alone,
    and so does every later round. A builder that died is taken over; the command rebuilds."""
    import threading

    from app.store import rollups

    make_history(services, count=40, days=12)
    monday = weekly.last_full_week(datetime.now(ZoneInfo(services.preset.timezone)).date())
    week, city = kinerja.iso_week(monday), services.preset.slug
    inbox, port = Inbox(), _free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    results, gate = [], threading.Barrier(2)

    def scheduler():
        gate.wait()
        results.append(run_week(services, monday, force=False))
    try:
        services.settings = replace(services.settings, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="pantau@kota.test")
        mail.subscribe(services.engine, services.preset, "gubernur@kota.test")
        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert sorted(len(files) for files in results) == [0, 2 * (1 + len(services.preset.agencies))]
        assert run_week(services, monday, force=False) == []          # the next minute's round
        assert len(inbox.messages) == 1
    finally:
        smtp.stop()
    b = rollups.weekly_builds
    with services.engine.connect() as conn:
        row = conn.execute(select(b).where(b.c.city == city, b.c.week == week)).one()
    assert row.finished_at is not None and row.files == 2 * (1 + len(services.preset.agencies))

    # a build claimed and never finished: left alone while fresh, taken over once stale
    other = "2020-W01"
    owner = weekly.claim(services.engine, city, other)
    assert owner and weekly.claim(services.engine, city, other) is None
    later = datetime.now(ZoneInfo("UTC")) + timedelta(seconds=weekly.STALE_S + 1)
    taker = weekly.claim(services.engine, city, other, now=later)
    assert taker and taker != owner
    weekly.finished(services.engine, city, other, owner, 3)            # the dead one's late word: ignored
    with services.engine.connect() as conn:
        assert conn.execute(select(b.c.finished_at).where(b.c.week == other)).scalar() is None
    weekly.release(services.engine, city, other, taker)
    assert weekly.claim(services.engine, city, other) is not None     # released: free again
    # the command (force) rebuilds a finished week
    assert weekly.claim(services.engine, city, week) is None
    assert weekly.claim(services.engine, city, week, force=True) is not None


def test_each_city_keeps_its_own_weekly_reports(services):
    """Cities of one install share the data folder: each city's reports go to a folder of its own,
    so Kupang's city report never replaces Jakarta's (nor is taken for it by the schedule)."""
    jakarta, kupang = services.settings, services.settings.for_city("kupang")
    assert weekly.folder(jakarta, "2026-W48") != weekly.folder(kupang, "2026-W48")
    made = weekly.folder(kupang, "2026-W48")
    made.mkdir(parents=True)
    (made / "pantau-2026-W48-city.pdf").write_bytes(b"%PDF-1.4 kupang")
    assert weekly.list_reports(kupang) and not weekly.list_reports(jakarta)
    assert weekly.report_path(jakarta, "2026-W48", "pantau-2026-W48-city.pdf") is None
    assert weekly.report_path(kupang, "2026-W48", "pantau-2026-W48-city.pdf") == made / "pantau-2026-W48-city.pdf"
