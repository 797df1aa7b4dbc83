"""The pipeline on a real 3-master Redis Cluster, one city's stream in 4 partitions over the shards:
counts exact, SQL exact, a rebuild equal to the incremental state."""
import time

import pytest
from sqlalchemy import func, select

from app import duplicates, hexagg, ops, queries
from app.followup import change_status
from app.store import db
from ingest.aggregator import Aggregator
from ingest.partitions import PartitionClaims
from ingest.persister import Persister
from ingest.rebuild import rebuild
from tests.cluster.conftest import PARTITIONS
from tests.helpers import dump_aggregates, raw_reports
from tests.ingest.test_pipeline import redis_cells, sql_cells


def drain_partitions(services, batch_size=200):
    """Both consumers over every partition until all are drained (one process holds them all)."""
    keys = services.keys
    for kind in (Aggregator, Persister):
        def factory(partition, name, kind=kind):
            if kind is Aggregator:
                return Aggregator(services.redis, keys, name, services.preset, partition=partition,
                                  batch_size=batch_size, block_ms=5)
            return Persister(services.redis, keys, name, services.engine, producer=services.producer,
                             partition=partition, batch_size=batch_size, block_ms=5)
        PartitionClaims(services.redis, keys, kind.group, f"{kind.group}-test", factory, lease_s=5,
                        block_ms=20).run(burst=True)


def dump_partitions(services, at):
    out = {}
    for part in services.keys.parts():
        out.update(dump_aggregates(services.redis, part, at))
    return out


def test_partitions_spread_over_the_shards(redis_cluster, cluster_services):
    keys = cluster_services.keys
    streams = [keys.stream(p) for p in range(PARTITIONS)]
    assert len(set(streams)) == PARTITIONS
    assert all(f"{{jakarta:{p}}}" in streams[p] for p in range(PARTITIONS))
    shards = {redis_cluster.master_of(s).port for s in streams}
    assert len(shards) == 3, shards              # one city's load on every shard
    # a partition's stream and its aggregates share one slot; city-wide keys keep {jakarta}
    slot = cluster_services.redis.keyslot
    for p, part in enumerate(keys.parts()):
        assert {slot(part.stream()), slot(part.agg_records), slot(part.hex_counts("all", 8)),
                slot(part.live_seq), slot(part.sla_open)} == {slot(streams[p])}
    assert slot(keys.consumer_stats) == slot(keys.rate_limit("address", "1.2.3.4")) == slot("{jakarta}")


def test_reports_flow_through_four_partitions_exactly(cluster_services):
    services = cluster_services
    result = services.producer.submit_many(raw_reports(1200, seed=5, spread_s=2 * 86400))
    assert len(result.accepted) == 1200
    services.producer.submit_many(raw_reports(300, seed=5, spread_s=2 * 86400))   # re-sent rows
    lengths = [services.redis.xlen(services.keys.stream(p)) for p in range(PARTITIONS)]
    assert sum(lengths) == 1500 and min(lengths) > 200, lengths
    drain_partitions(services)
    for report in result.accepted[:60]:
        change_status(services.engine, services.producer, report.id, "verified", actor="op")
    for report in result.accepted[:30]:
        change_status(services.engine, services.producer, report.id, "dispatched", actor="op")
        change_status(services.engine, services.producer, report.id, "resolved", actor="officer")
    for report in result.accepted[60:80]:
        change_status(services.engine, services.producer, report.id, "rejected", actor="op", note="spam")
    drain_partitions(services)

    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.reports)).scalar_one() == 1200
        assert conn.execute(select(func.count()).select_from(db.reports)
                            .where(db.reports.c.status == "resolved")).scalar_one() == 30
    for resolution in hexagg.MAP_RESOLUTIONS:
        assert redis_cells(services, resolution) == sql_cells(services, resolution)
    kpi = queries.kpis(services.redis, services.preset, "7d")
    assert kpi["received"] == 1200 and kpi["resolved"] == 30
    assert kpi["open_backlog"] == 1200 - 30 - 20
    hexes = queries.hex_counts(services.redis, services.preset, 7, "7d")
    assert sum(hexes.values()) == 1200
    latest = queries.latest_reports(services.redis, services.preset, 20)
    assert len(latest) == 20 and latest == sorted(latest, key=lambda s: s["created_at"], reverse=True)
    status = ops.city_stream_status(services.redis, services.keys)
    assert all(g["pending"] == 0 and g["lag"] == 0 for g in status["groups"].values()), status["groups"]
    # every partition holds its share of the aggregates
    assert all(services.redis.hlen(part.agg_records) > 200 for part in services.keys.parts())

    at = time.time() + 120
    incremental = dump_partitions(services, at)
    summary = rebuild(services.redis, services.engine, services.preset)
    assert summary["reports"] == 1200
    assert dump_partitions(services, at) == incremental


def test_likely_duplicates_are_found_across_partitions(cluster_services):
    services = cluster_services
    raws = raw_reports(40, seed=9, spread_s=600)
    for raw in raws:     # forty reports of one category on one spot: their ids spread over partitions
        raw.category, raw.lat, raw.lng = "flood", -6.1754, 106.8272
    accepted = services.producer.submit_many(raws).accepted
    assert len({services.keys.partition_of(r.id) for r in accepted}) == PARTITIONS
    drain_partitions(services)
    found = duplicates.find_likely_duplicates(services.redis, services.keys, services.preset, "flood",
                                              -6.1754, 106.8272)
    newest = sorted(accepted, key=lambda r: (-int(r.created_at.timestamp()), r.id))[:duplicates.LIMIT]
    assert [f["id"] for f in found] == [r.id for r in newest]


def test_open311_intake_on_partitions_counts_limits_and_finds_duplicates(cluster_services):
    from app.open311.intake import Intake, IntakeRefused

    services = cluster_services
    intake = Intake(services)
    raws = raw_reports(6, seed=12, spread_s=60)
    for raw in raws:
        raw.category, raw.lat, raw.lng = "garbage", -6.2088, 106.8456
    first = [intake.accept("10.0.0.1", "k1", 100, services.producer.validate(raw)) for raw in raws[:5]]
    assert len({services.keys.partition_of(a.report.id) for a in first}) > 1
    drain_partitions(services)
    later = intake.accept("10.0.0.1", "k1", 100, services.producer.validate(raws[5]))
    expected = sorted(first, key=lambda a: (-int(a.report.created_at.timestamp()), a.report.id))
    assert [d["id"] for d in later.duplicates] == [a.report.id for a in expected[:3]]
    drain_partitions(services)
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.reports)).scalar_one() == 6
    # the key's limit still holds across partitions: 6 counted, a limit of 7 refuses the 8th
    intake.gate("10.0.0.1", "k1", 7)
    with pytest.raises(IntakeRefused) as refused:
        intake.gate("10.0.0.1", "k1", 7)
    assert refused.value.status == 429 and refused.value.scope == "key"


class _Recorder:
    """Stands in for Socket.IO's server: keeps what the relay would push to the screens."""

    def __init__(self):
        self.sent = []

    def emit(self, event, data, to=None, namespace=None, ignore_queue=False):
        self.sent.append((event, data))


def test_wall_relay_follows_the_sum_of_the_partitions_sequences(redis_cluster, cluster_services):
    import json

    from app import live

    from app.store.redis_conn import sharded_pubsub
    from tests.redis_cluster import SYSTEM_REDIS

    services = cluster_services
    sharded = sharded_pubsub(services.redis, services.keys)
    # On Redis 7+ (the machine's redis-server) the deltas go over sharded pub/sub, one channel per
    # partition on its own shard; on 6.2 over the city's channel.
    assert sharded == (redis_cluster.binary == SYSTEM_REDIS)
    pubsub = services.redis.pubsub()
    if sharded:
        pubsub.ssubscribe(*[part.live_shard_channel for part in services.keys.parts()])
    else:
        pubsub.subscribe(services.keys.live_channel)
    screens = _Recorder()
    relay = live.LiveRelay(services, screens)
    relay._reload_all(emit=False)
    assert relay.seq == 0
    services.producer.submit_many(raw_reports(400, seed=14, spread_s=3000))
    drain_partitions(services, batch_size=50)
    deltas, deadline = [], time.monotonic() + 10
    while time.monotonic() < deadline:
        if sharded:
            message = pubsub.get_sharded_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is None:
                message = pubsub.get_sharded_message(ignore_subscribe_messages=True, timeout=0.1)
        else:
            message = pubsub.get_message(timeout=0.5)
        if message and message["type"] in ("message", "smessage"):
            deltas.append(json.loads(message["data"]))
        elif deltas and message is None and time.monotonic() > deadline - 7:
            break
    pubsub.close()
    assert {d["part"] for d in deltas} == set(range(PARTITIONS))
    relay._apply(deltas)
    seqs, _start, _counts = live.load_counts_parts(services.redis, services.preset, ("reports", "24h"))
    assert relay.seq == sum(seqs) == len(deltas) and relay.part_seqs == seqs
    assert not [event for event, _ in screens.sent if event == "wall_resync"]      # no gap seen
    for view in live.VIEWS:
        if view[0] != "breaches":
            fresh = live.load_counts(services.redis, services.preset, view)[2]
            assert relay.views[view][1] == fresh, view
    ticks = [data for event, data in screens.sent if event == "wall_tick"]
    assert ticks[-1]["from"] == 1 and ticks[-1]["seq"] == len(deltas)


def test_consumers_share_the_partitions_and_take_over_a_dead_ones(cluster_services):
    services = cluster_services

    def factory(partition, name):
        return Aggregator(services.redis, services.keys, name, services.preset, partition=partition)

    a, b = (PartitionClaims(services.redis, services.keys, Aggregator.group, name, factory, lease_s=1.0)
            for name in ("agg-a", "agg-b"))
    a.rebalance()
    assert sorted(a.held) == [0, 1, 2, 3]          # alone: every partition
    b.rebalance()
    a.rebalance()                                  # a second member: each keeps half
    b.rebalance()
    assert len(a.held) == len(b.held) == 2 and not set(a.held) & set(b.held)
    assert {services.redis.get(services.keys.claim_lease(Aggregator.group, p)) for p in a.held} == {"agg-a"}
    held_by_b = sorted(b.held)
    time.sleep(0.6)                                # a dies without a word; b renews its own
    b.rebalance()
    assert sorted(b.held) == held_by_b
    time.sleep(0.7)                                # a's leases and membership have run out
    b.rebalance()
    assert sorted(b.held) == [0, 1, 2, 3]
    a.rebalance()                                  # a comes back: it gets nothing b still holds
    assert not set(a.held) & set(b.held)


def test_cluster_settings_are_checked(tmp_path):
    from app.store.redis_conn import RedisUnavailable, redis_url_for
    from config.settings import Settings, SettingsError

    with pytest.raises(RedisUnavailable, match="PANTAU_REDIS_CLUSTER=1 needs REDIS_URL"):
        redis_url_for(Settings(data_dir=tmp_path, redis_cluster=True))
    for name, bad in (("PANTAU_STREAM_PARTITIONS", "0"), ("PANTAU_REDIS_CLUSTER", "maybe"),
                      ("PANTAU_PARTITION_LEASE_S", "-1"), ("PANTAU_REDIS_WAIT_REPLICAS", "x")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: bad})
    assert Settings.from_env({}).stream_partitions == 1 and not Settings.from_env({}).redis_cluster
