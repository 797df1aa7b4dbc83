"""PostgreSQL past one table: reports partitioned by city then month, the queries of a city read only
its partitions (EXPLAIN says so), the persister's writes stay exactly-once, and a read replica
(DATABASE_REPLICA_URL) serves the public reads."""
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy
from sqlalchemy import event, func, select, text

from app.services import Services
from app.staff import queue
from app.open311 import records
from app.store import db, partitioning
from ingest.sources import RawReport
from tests.conftest import _postgres_schema_url, make_settings
from tests.helpers import drain, raw_reports

KUPANG_POINTS = [(-10.168, 123.602), (-10.160, 123.585), (-10.148, 123.640), (-10.200, 123.610)]


@pytest.fixture
def pg_url():
    engine, schema, url = _postgres_schema_url()
    yield url
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def kupang_reports(count, seed=1):
    out = []
    for i in range(count):
        lat, lng = KUPANG_POINTS[i % len(KUPANG_POINTS)]
        out.append(RawReport(category="garbage", lat=lat + (i % 7) * 1e-4, lng=lng, description=f"k {i}",
                             created_at=datetime.now(timezone.utc) - timedelta(minutes=i), source="test",
                             source_ref=f"kpg-{seed}-{i}"))
    return out


def plans(engine, run) -> list[str]:
    """EXPLAIN of every statement on ``reports`` that ``run()`` sends, with its own parameters."""
    seen = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "FROM reports" in statement and not statement.lstrip().upper().startswith("EXPLAIN"):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    out = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            cursor = conn.connection.driver_connection.cursor()
            cursor.execute("EXPLAIN " + statement, parameters)
            out.append("\n".join(row[0] for row in cursor.fetchall()))
    assert out, "no query on reports was sent"
    return out


def test_partitioned_reports_prune_by_city_and_month(tmp_path, redis_url, pg_url):
    jakarta = Services.open(make_settings(tmp_path / "j", redis_url, pg_url))
    kupang = Services.open(make_settings(tmp_path / "k", redis_url, pg_url, city="kupang"))
    try:
        jakarta.producer.submit_many(raw_reports(120, seed=3, spread_s=3 * 86400))
        kupang.producer.submit_many(kupang_reports(40))
        drain(jakarta)
        drain(kupang)
        done = partitioning.apply(jakarta.engine, ["jakarta", "kupang"])
        assert done["rows_moved"] == 160 and done["partitions"] > 2 * 24
        assert partitioning.apply(jakarta.engine, ["jakarta", "kupang"])["partitions_added"] == 0
        # The persister's writes after the move: new rows and a redelivered batch, each stored once.
        jakarta.producer.submit_many(raw_reports(60, seed=4))
        jakarta.producer.submit_many(raw_reports(60, seed=4))
        drain(jakarta)
        with jakarta.engine.connect() as conn:
            assert partitioning.is_partitioned(conn)
            counts = dict(conn.execute(select(db.reports.c.city, func.count()).group_by(db.reports.c.city)).all())
            assert counts == {"jakarta": 180, "kupang": 40}
            month = f"reports_jakarta_{datetime.now(timezone.utc):%Y%m}"
            assert conn.execute(text(f"SELECT count(*) FROM {month}")).scalar_one() > 0
            assert conn.execute(text("SELECT count(*) FROM reports_other")).scalar_one() == 0

        # The dispatch queue (open reports, most overdue first) reads Jakarta's partitions only.
        flt = queue.QueueFilter(statuses=("new", "verified"), sort="sla")
        for plan in plans(jakarta.engine, lambda: queue.page(jakarta.engine, jakarta.preset, flt, None)):
            assert "reports_jakarta_" in plan and "reports_kupang" not in plan and "reports_other" not in plan
        # The public API with a start date: Kupang's partitions of the last month or two only.
        since = datetime.now(timezone.utc) - timedelta(days=2)
        wanted = records.RequestFilter(start=since)
        found = plans(kupang.engine, lambda: records.find(kupang.engine, "kupang", wanted))
        for plan in found:
            assert "reports_kupang_" in plan and "reports_jakarta" not in plan
            months = set(re.findall(r"reports_kupang_(\d{6})\b", plan))
            # From the start date's month on (the months ahead are there, empty); none before it.
            assert months and min(months) == f"{since:%Y%m}", months
            assert f"{since - timedelta(days=40):%Y%m}" not in months
        assert len(records.find(kupang.engine, "kupang", wanted)) == 40
    finally:
        jakarta.close()
        kupang.close()


def test_partitioning_is_for_postgresql_only(tmp_path, redis_url, sqlite_url):
    services = Services.open(make_settings(tmp_path, redis_url, sqlite_url))
    try:
        with pytest.raises(ValueError, match="PostgreSQL"):
            partitioning.apply(services.engine, ["jakarta"])
        assert partitioning.ensure(services.engine, ["jakarta"]) == 0
    finally:
        services.close()


def test_public_reads_go_to_the_replica(tmp_path, redis_url, pg_url):
    from app.factory import create_app
    from app.followup import change_status

    replica_engine, replica_schema, replica_url = _postgres_schema_url()
    try:
        primary = Services.open(make_settings(tmp_path / "p", redis_url, pg_url))
        report = primary.producer.submit_many(raw_reports(1, seed=9)).accepted[0]
        drain(primary)
        # The "replica": a logical copy of the primary taken now (as a standby a moment behind is).
        copy = Services.open(make_settings(tmp_path / "c", redis_url, replica_url))
        copy.close()
        primary_schema = pg_url.rsplit("%3D", 1)[1]
        with primary.engine.begin() as conn:
            conn.execute(text(f'INSERT INTO "{replica_schema}".reports SELECT * FROM "{primary_schema}".reports'))
        change_status(primary.engine, primary.producer, report.id, "rejected", actor="op:t", note="ganda")
        primary.close()

        services = Services.open(make_settings(tmp_path / "s", redis_url, pg_url,
                                               database_replica_url=replica_url))
        try:
            assert services.read_engine is not services.engine
            assert services.read_engine.url.render_as_string(hide_password=False) != \
                services.engine.url.render_as_string(hide_password=False)
            client = create_app(services.settings, services).test_client()
            answer = client.get(f"/open311/v2/requests/{report.ticket}.json")
            assert answer.status_code == 200
            assert answer.get_json()[0]["status"] == "open"          # the replica's (older) row
            with services.engine.connect() as conn:                  # the primary has moved on
                assert conn.execute(select(db.reports.c.status)
                                    .where(db.reports.c.id == report.id)).scalar_one() == "rejected"
        finally:
            services.close()
    finally:
        with replica_engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{replica_schema}" CASCADE'))
        replica_engine.dispose()
