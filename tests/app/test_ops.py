"""Operations: stream trimming never drops what a group still needs; health and metrics tell the truth."""
from app import ops
from app.store.keys import AGGREGATOR, PERSISTER
from tests.helpers import drain, raw_reports


def test_trim_keeps_pending_entries_and_drops_finished_ones(sqlite_services):
    services = sqlite_services
    stream = services.keys.stream()
    services.producer.submit_many(raw_reports(10))
    for group in (AGGREGATOR, PERSISTER):
        services.redis.xgroup_create(stream, group, id="0")
    # the aggregator finished everything; the persister read all but acknowledged only 4
    entries = services.redis.xreadgroup(AGGREGATOR, "a", {stream: ">"})[0][1]
    services.redis.xack(stream, AGGREGATOR, *[e[0] for e in entries])
    entries = services.redis.xreadgroup(PERSISTER, "p", {stream: ">"})[0][1]
    services.redis.xack(stream, PERSISTER, *[e[0] for e in entries[:4]])
    ops.trim_stream(services.redis, services.keys)
    assert services.redis.xlen(stream) == 6                      # the 6 the persister still owes
    status = ops.stream_status(services.redis, services.keys)
    assert status["groups"][PERSISTER]["pending"] == 6 and status["groups"][AGGREGATOR]["pending"] == 0


def test_health_and_metrics_after_the_consumers_catch_up(sqlite_services):
    services = sqlite_services
    services.producer.submit_many(raw_reports(25))
    ok, checks = ops.health(services.redis, services.engine, services.keys)
    assert checks["consumers"][AGGREGATOR]["lag"] == 25
    drain(services)
    ok, checks = ops.health(services.redis, services.engine, services.keys)
    assert ok and checks["consumers"][AGGREGATOR]["lag"] == 0 and checks["consumers"][PERSISTER]["pending"] == 0
    text = ops.prometheus(services.redis, services.keys, "jakarta")
    assert 'pantau_stream_lag{city="jakarta",group="persister"} 0' in text
    assert "pantau_consumer_processed_total" in text


def test_health_names_the_schema_revision_and_fails_behind_the_code(sqlite_services):
    from sqlalchemy import text

    from app.store import migrate

    services = sqlite_services
    ok, checks = ops.health(services.redis, services.engine, services.keys)
    assert ok and checks["database"]["schema"] == checks["database"]["schema_newest"] == migrate.head()
    with services.engine.begin() as conn:   # as if an upgrade never ran
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    ok, checks = ops.health(services.redis, services.engine, services.keys)
    assert not ok and checks["database"]["ok"] is False and checks["database"]["schema"] == "older"
