"""The console's queue on SQLite and PostgreSQL: the search indexes kept by the database on insert and
update, the phone searched by staff only, the drill-down dates in the city's zone, the flagged proofs,
and the one likely-duplicate rule."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app import duplicates, proof
from app.auth.users import StaffUser
from app.staff import queue
from app.store import db
from tests.app.staff.conftest import seed
from tests.helpers import drain, raw_reports


def _supervisor(services):
    return StaffUser("ani", "supervisor", None, services.preset.slug)


def _tickets(services, user=None, **params):
    flt = queue.QueueFilter.from_params({"sort": "newest", **params})
    return {i["ticket"] for i in queue.page(services.engine, services.preset, flt, user or _supervisor(services))["items"]}


def _rows(services):
    with services.engine.connect() as conn:
        return conn.execute(select(db.reports).order_by(db.reports.c.created_at)).all()


def test_search_reads_the_indexes_the_database_keeps(services):
    raws = raw_reports(6, seed=21, prefix="words")
    raws[1].description = "Pohon tumbang menutup Jalan Kenari"
    raws[2].description = "Genangan air di depan sekolah"
    raws[4].reporter_phone = "0813-9999 7777"
    services.producer.submit_many(raws)
    drain(services)
    rows = _rows(services)
    kenari = next(r for r in rows if "Kenari" in r.description)
    caller = next(r for r in rows if r.reporter_phone == "0813-9999 7777")

    assert _tickets(services, q="kenari") == {kenari.ticket}
    assert _tickets(services, q="pohon tum") == {kenari.ticket}          # a word's start
    assert _tickets(services, q="kenari sekolah") == set()                 # every word must occur
    assert _tickets(services, q='"kenari*" ^') == {kenari.ticket}         # no query syntax reaches the engine
    spoken = kenari.ticket.split("-", 1)[1].replace("-", " ").lower()
    assert _tickets(services, q=spoken) == {kenari.ticket}                 # the ticket as read on the phone
    for typed in ("+62 813 9999 7777", "6281399997777", "0813.9999.7777"):
        assert _tickets(services, q=typed) == {caller.ticket}
    assert _tickets(services, q="9999 7777") == set()                      # too short to name a number

    # an edited description is searched as it now reads (SQLite: the triggers; PostgreSQL: the GIN index)
    with services.engine.begin() as conn:
        conn.execute(update(db.reports).where(db.reports.c.id == kenari.id)
                     .values(description="Pohon tumbang di Jalan Melati"))
    assert _tickets(services, q="kenari") == set()
    assert _tickets(services, q="melati") == {kenari.ticket}
    # many matches: tested row by row along the queue's own index, same answer as the collected set
    assert _tickets(services, q="laporan") == {r.ticket for r in rows if "laporan" in r.description}
    from app.store import search

    with services.engine.connect() as conn:
        _cond, few = search.text_condition(conn, ["laporan"], few=1)
    assert not few


def test_a_text_search_with_many_matches_tests_rows_in_order(services, monkeypatch):
    from app.store import search

    rows = seed(services, count=12)
    monkeypatch.setattr(search, "FEW", 2)
    flt = queue.QueueFilter(q="laporan", sort="newest")
    got = [i["ticket"] for i in queue.page(services.engine, services.preset, flt, _supervisor(services))["items"]]
    assert got == [r.ticket for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]


def test_only_staff_search_by_phone(services):
    raws = raw_reports(2, seed=22, prefix="phone")
    services.producer.submit_many(raws)
    drain(services)
    flt = queue.QueueFilter(q="+62 812 1111 2222")
    with services.engine.connect() as conn:
        anyone = conn.execute(select(db.reports.c.id).where(*queue._conditions(
            services.preset, flt, None, datetime.now(timezone.utc)))).all()
    assert anyone == []
    assert len(_tickets(services, q="+62 812 1111 2222")) == 2


def test_from_and_to_are_local_days_inclusive(services):
    rows = seed(services, count=4)
    zone_offset = timedelta(hours=7)                       # Jakarta: WIB, UTC+7
    local = [datetime(2026, 11, 30, 23, 30), datetime(2026, 12, 1, 0, 30), datetime(2026, 12, 1, 23, 59),
             datetime(2026, 12, 2, 0, 0)]
    with services.engine.begin() as conn:
        for row, moment in zip(rows, local):
            conn.execute(update(db.reports).where(db.reports.c.id == row.id).values(
                created_at=(moment - zone_offset).replace(tzinfo=timezone.utc)))
    assert _tickets(services, **{"from": "2026-12-01", "to": "2026-12-01"}) == {rows[1].ticket, rows[2].ticket}
    assert _tickets(services, **{"from": "2026-12-02"}) == {rows[3].ticket}
    assert _tickets(services, to="2026-11-30") == {rows[0].ticket}
    for bad in ({"from": "2026-12-31", "to": "2026-12-01"}, {"from": "1/12/2026"}, {"to": "2026-13-01"}):
        with pytest.raises(ValueError):
            queue.QueueFilter.from_params(bad)


def test_proof_flagged_lists_the_resolutions_to_check(services):
    rows = seed(services, count=3)
    proof.record_flags(services.engine, rows[1], "resolve", "agency_officer:dlh1",
                       [("location_unverified", {"distance_m": 840})])
    assert _tickets(services, proof="flagged") == {rows[1].ticket}
    with pytest.raises(ValueError):
        queue.QueueFilter.from_params({"proof": "all"})


def test_one_likely_duplicate_rule(services):
    now = datetime.now(timezone.utc) - timedelta(hours=1)
    base = raw_reports(1, seed=23, prefix="dup", start=now, spread_s=1)[0]
    base.category = "garbage"

    def near(ref, hours=0.0, category="garbage", dlat=0.0005):
        copy = raw_reports(1, seed=23, prefix=ref, start=now, spread_s=1)[0]
        copy.lat, copy.lng, copy.category = base.lat + dlat, base.lng, category
        copy.created_at = base.created_at + timedelta(hours=hours)
        return copy

    services.producer.submit_many([base, near("same"), near("old", hours=-30), near("other", category="flood"),
                                   near("far", dlat=0.02)])
    drain(services)
    rows = {r.source_ref.split("-")[0]: r for r in _rows(services)}
    found = duplicates.likely_duplicates_of(services.engine, rows["dup"])
    assert [d["ticket"] for d in found] == [rows["same"].ticket]
    assert 40 <= found[0]["distance_m"] <= 70                    # 0.0005° of latitude is ~56 m
    assert found[0]["status"] == "new" and found[0]["category"] == "garbage"
    # the officer sees only their agency's
    assert duplicates.likely_duplicates_of(services.engine, rows["dup"], agency="NOPE") == []


def test_a_redelivered_batch_leaves_every_report_in_the_word_index_once(services):
    """SQLite indexes a batch's new reports in one statement after their insert (no per-row trigger):
    a batch written again, or one mixing stored and new reports, indexes each report exactly once."""
    raws = raw_reports(5, seed=23, prefix="again")
    raws[0].description = "Lampu jalan mati di Jalan Cempaka"
    first = [services.producer.validate(raw) for raw in raws[:3]]
    db.write_reports(services.engine, first)
    db.write_reports(services.engine, first)                                          # redelivered
    db.write_reports(services.engine, first[1:] + [services.producer.validate(r) for r in raws[3:]])
    assert _tickets(services, q="cempaka") == {first[0].ticket}
    assert _tickets(services, q="laporan") == {r.ticket for r in _rows(services) if "laporan" in r.description}
    if services.engine.dialect.name == "sqlite":
        with services.engine.begin() as conn:
            reports = conn.exec_driver_sql("SELECT count(*) FROM reports").scalar_one()
            indexed = conn.exec_driver_sql("SELECT count(*) FROM reports_fts_docsize").scalar_one()
            assert reports == indexed == 5
            # FTS5 compares its index with the content table and raises on any difference
            conn.exec_driver_sql("INSERT INTO reports_fts(reports_fts, rank) VALUES ('integrity-check', 1)")
