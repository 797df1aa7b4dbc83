"""The live pipeline end to end: producer -> stream -> aggregator + persister -> Redis + SQL."""
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app import hexagg, queries
from app.followup import change_status
from app.reports import ReportInvalid
from app.store import db
from app.store.keys import Keys
from app.workflow import InvalidTransition
from ingest.rebuild import rebuild
from ingest.sources import RawReport
from tests.helpers import drain, dump_aggregates, raw_reports


def sql_cells(services, resolution):
    with services.engine.connect() as conn:
        rows = conn.execute(select(db.reports.c.h3_cell, db.reports.c.category, db.reports.c.status)
                            .where(db.reports.c.city == services.preset.slug)).all()
    from app.workflow import aggregate_state
    return hexagg.count_cells([(r.h3_cell, r.category, aggregate_state(r.status)) for r in rows], resolution)


def redis_cells(services, resolution):
    counts = queries.cell_category_counts(services.redis, services.keys, resolution, None)
    return {tuple(f.split("|")): n for f, n in counts.items() if n}


def test_reports_flow_to_sql_and_hex_counts(services):
    result = services.producer.submit_many(raw_reports(300))
    assert len(result.accepted) == 300 and not result.rejected
    drain(services, batch_size=64)

    assert db.count_reports(services.engine, "jakarta") == 300
    for resolution in hexagg.MAP_RESOLUTIONS:    # 7 and 9 summed from 8 and 10 as they are read
        assert redis_cells(services, resolution) == sql_cells(services, resolution)
    kept = {int(key.split(":")[5]) for key in services.redis.scan_iter(match=f"{services.keys.agg_pattern()}")
            if ":agg:hex:" in key}
    assert kept == set(hexagg.STORED_RESOLUTIONS)
    kpi = queries.kpis(services.redis, services.preset, "24h")
    assert kpi["received"] == 300 and kpi["open_backlog"] == 300
    hexes = queries.hex_counts(services.redis, services.preset, 8, "24h")
    assert sum(hexes.values()) == kpi["received"]
    assert sum(v["received"] for v in kpi["by_category"].values()) == 300


def test_the_same_report_twice_is_counted_once(services):
    reports = raw_reports(50)
    services.producer.submit_many(reports)
    drain(services)
    services.producer.submit_many(reports)          # a replay of the same source rows
    services.producer.submit_many(reports[:10])
    drain(services)
    assert db.count_reports(services.engine, "jakarta") == 50
    assert queries.kpis(services.redis, services.preset, "24h")["received"] == 50


def test_status_changes_move_counts_and_are_audited(services):
    accepted = services.producer.submit_many(raw_reports(5)).accepted
    drain(services)
    target = accepted[0].id
    for status in ("verified", "dispatched", "in_progress", "resolved"):
        change_status(services.engine, services.producer, target, status, actor="supervisor:ani",
                      note=f"to {status}")
    drain(services)
    kpi = queries.kpis(services.redis, services.preset, "24h")
    assert kpi["open_backlog"] == 4 and kpi["resolved"] == 1 and kpi["received"] == 5
    assert kpi["median_resolve_s"] is not None

    with pytest.raises(InvalidTransition, match="cannot go from resolved to verified"):
        change_status(services.engine, services.producer, target, "verified", actor="x")
    with pytest.raises(InvalidTransition, match="needs a reason"):
        change_status(services.engine, services.producer, target, "reopened", actor="citizen")
    change_status(services.engine, services.producer, target, "reopened", actor="citizen", note="still flooded")
    drain(services)
    kpi = queries.kpis(services.redis, services.preset, "24h")
    assert kpi["open_backlog"] == 5 and kpi["resolved"] == 0

    with services.engine.connect() as conn:
        history = conn.execute(select(db.report_events.c.to_status, db.report_events.c.version)
                               .where(db.report_events.c.report_id == target)
                               .order_by(db.report_events.c.version)).all()
    assert [h.to_status for h in history] == ["new", "verified", "dispatched", "in_progress", "resolved",
                                              "reopened"]
    assert [h.version for h in history] == [1, 2, 3, 4, 5, 6]


def test_redelivered_status_event_changes_nothing(services):
    report = services.producer.submit_many(raw_reports(1)).accepted[0]
    drain(services)
    change = change_status(services.engine, services.producer, report.id, "rejected", actor="op", note="spam")
    drain(services)
    at = time.time() + 120          # both dumps judge "older than a day" against the same moment
    before = dump_aggregates(services.redis, services.keys, at)
    services.producer.emit_status(change)      # the outbox relay sending it again
    drain(services)
    assert dump_aggregates(services.redis, services.keys, at) == before


def test_rebuild_equals_incremental_state(services):
    accepted = services.producer.submit_many(raw_reports(200, spread_s=3 * 86400)).accepted
    drain(services)
    for report in accepted[:40]:
        change_status(services.engine, services.producer, report.id, "verified", actor="op")
    for report in accepted[:20]:
        change_status(services.engine, services.producer, report.id, "dispatched", actor="op")
        change_status(services.engine, services.producer, report.id, "resolved", actor="officer")
    drain(services)
    at = time.time() + 120          # both dumps judge "older than a day" against the same moment
    incremental = dump_aggregates(services.redis, services.keys, at)
    summary = rebuild(services.redis, services.engine, services.preset)
    assert summary["reports"] == 200
    assert dump_aggregates(services.redis, services.keys, at) == incremental


def test_live_delta_published_without_personal_data(sqlite_services):
    services = sqlite_services
    pubsub = services.redis.pubsub()
    pubsub.subscribe(services.keys.live_channel)
    pubsub.get_message(timeout=1)
    services.producer.submit_many(raw_reports(3))
    drain(services)
    message = pubsub.get_message(timeout=2)
    assert message and message["type"] == "message"
    import json
    delta = json.loads(message["data"])
    assert delta["seq"] == 1 and len(delta["new"]) == 3 and len(delta["transitions"]) == 3
    assert "Budi" not in message["data"] and "812" not in message["data"]
    latest = queries.latest_reports(services.redis, services.preset, 10)
    assert len(latest) == 3 and all("contact" not in r for r in latest)


@pytest.mark.parametrize("raw, field", [
    (RawReport(category="flood", lat=None, lng=106.8), "lat"),
    (RawReport(category="flood", lat="abc", lng=106.8), "lat"),
    (RawReport(category="flood", lat=-6.2, lng=200), "lng"),
    (RawReport(category="volcano", lat=-6.2, lng=106.8), "category"),
    (RawReport(category="flood", lat=-7.8, lng=110.4), "location"),            # Yogyakarta
    (RawReport(category="flood", lat=-6.2, lng=106.8, description="x" * 5000), "description"),
    (RawReport(category="flood", lat=-6.2, lng=106.8, reporter_email="not-an-email"), "reporter_email"),
    (RawReport(category="flood", lat=-6.2, lng=106.8,
               created_at=datetime.now(timezone.utc) + timedelta(days=2)), "created_at"),
])
def test_bad_input_is_refused_with_the_field_named(sqlite_services, raw, field):
    with pytest.raises(ReportInvalid) as err:
        sqlite_services.producer.submit(raw)
    assert err.value.field == field
    assert sqlite_services.redis.xlen(Keys("jakarta").stream()) == 0


def test_report_gets_its_kelurahan_and_kecamatan(sqlite_services):
    report = sqlite_services.producer.submit(RawReport(category="banjir", lat=-6.1754, lng=106.8272))
    assert report.category == "flood"
    if sqlite_services.areas.has_areas:
        assert (report.kelurahan_name, report.kecamatan_name) == ("Gambir", "Gambir")
    assert report.ticket.startswith("JKT-") and len(report.ticket) == 15
    assert report.sla_due_at > report.created_at


def test_under_load_a_consumer_waits_a_moment_to_fill_its_batch(sqlite_services):
    """``PANTAU_LINGER_MS``: a read that brings a tenth of a batch or more waits once for more entries
    (fewer, larger batches under load); a trickle is handled at once."""
    import threading

    from ingest.aggregator import Aggregator

    services = sqlite_services
    consumer = Aggregator(services.redis, services.keys, "linger-test", services.preset, batch_size=100,
                          block_ms=10, linger_ms=300)
    consumer.ensure_group()
    assert consumer.read() == []                          # nothing yet: its own pending entries are none
    services.producer.submit_many(raw_reports(3, seed=61, prefix="trickle"))
    started = time.monotonic()
    assert len(consumer.read()) == 3                      # below a tenth of a batch: no wait
    assert time.monotonic() - started < 0.25
    services.producer.submit_many(raw_reports(20, seed=62, prefix="load"))
    later = threading.Timer(0.1, lambda: services.producer.submit_many(raw_reports(30, seed=63, prefix="more")))
    later.start()
    started = time.monotonic()
    entries = consumer.read()
    later.join()
    assert len(entries) == 50 and time.monotonic() - started >= 0.3   # the 30 that came meanwhile joined
    consumer.handle(entries)
    assert consumer.read() == []
