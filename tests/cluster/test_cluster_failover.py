"""A master of a 3-master, 3-replica Redis Cluster killed mid-stream: its replica takes over, and
nothing accepted is lost (the producer waits for the replica: PANTAU_REDIS_WAIT_REPLICAS=1),
nothing is counted twice."""
import threading
import time

import pytest
import redis
from sqlalchemy import func, select

from app import hexagg
from app.store import db
from app.store.redis_conn import connect
from ingest.aggregator import Aggregator
from ingest.partitions import PartitionClaims
from ingest.persister import Persister
from ingest.rebuild import rebuild
from tests.cluster.conftest import cluster_settings
from tests.cluster.test_cluster_pipeline import drain_partitions, dump_partitions
from tests.helpers import raw_reports
from tests.ingest.test_pipeline import redis_cells, sql_cells

TOTAL = 3_000


@pytest.fixture(scope="module")
def replicated_cluster(tmp_path_factory):
    from tests.redis_cluster import LocalCluster

    cluster = LocalCluster(tmp_path_factory.mktemp("replicated"), masters=3, replicas=1).start()
    yield cluster
    cluster.stop()


def _consume(services, url, stop):
    """Both consumers over every partition, riding out the failover (a worker would be restarted)."""
    client = connect(url, 30, cluster=True)
    keys = services.keys

    def aggregator(partition, name):
        return Aggregator(client, keys, name, services.preset, partition=partition, batch_size=200, block_ms=5)

    def persister(partition, name):
        return Persister(client, keys, name, services.engine, partition=partition, batch_size=200, block_ms=5)

    claims = [PartitionClaims(client, keys, kind.group, f"{kind.group}-failover", factory, lease_s=5, block_ms=20)
              for kind, factory in ((Aggregator, aggregator), (Persister, persister))]
    while not stop.is_set():
        for claim in claims:
            try:
                claim.run(max_rounds=3)
            except (redis.RedisError, OSError):
                time.sleep(0.2)
    client.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_master_killed_mid_stream_replica_takes_over(replicated_cluster, tmp_path, database_url):
    from app.services import Services

    cluster = replicated_cluster
    cluster.flush()
    services = Services.open(cluster_settings(tmp_path, cluster, database_url, redis_wait_replicas=1))
    stop = threading.Event()
    worker = threading.Thread(target=_consume, args=(services, cluster.url, stop), daemon=True)
    worker.start()
    try:
        reports = raw_reports(TOTAL, seed=21, spread_s=86400)
        victim = cluster.master_of(services.keys.stream(1))
        accepted = []
        for start in range(0, TOTAL, 150):
            if start == TOTAL // 2:
                victim.kill()       # SIGKILL: no hand-over; its replica is promoted after the node timeout
            accepted += services.producer.submit_many(reports[start:start + 150], retry_for_s=60).accepted
        assert len(accepted) == TOTAL
        deadline = time.monotonic() + 30
        while not cluster.healthy() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cluster.healthy()
        assert cluster.master_of(services.keys.stream(1)) is not victim     # a replica took over
        stop.set()
        worker.join(timeout=60)
        drain_partitions(services)

        with services.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(db.reports)).scalar_one() == TOTAL
            assert conn.execute(select(func.count()).select_from(db.report_events)
                                .where(db.report_events.c.kind == "created")).scalar_one() == TOTAL
        for resolution in hexagg.MAP_RESOLUTIONS:
            assert redis_cells(services, resolution) == sql_cells(services, resolution)
        at = time.time() + 120
        incremental = dump_partitions(services, at)
        rebuild(services.redis, services.engine, services.preset)
        assert dump_partitions(services, at) == incremental
    finally:
        stop.set()
        services.close()
