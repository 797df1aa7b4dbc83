"""End-to-end reports/s on the embedded single Redis, on a 1-shard and on a 3-shard Redis Cluster.

Same client machine, same reports, same code: the producer validates and appends them, then the
aggregator and the persister (SQLite) drain the stream. On the cluster the city's stream is split
into 4 partitions (``PANTAU_STREAM_PARTITIONS=4``), each on the shard of its own hash tag, served
through partition claims as the workers run them. The figure is reports / (produce + aggregate +
persist) seconds, each step on its own so the table shows where the time goes. The embedded single
Redis with one partition is the baseline. Prints the figures, last line one JSON object.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.services import Services  # noqa: E402
from app.store.redis_conn import EmbeddedRedis  # noqa: E402
from config.settings import Settings  # noqa: E402
from ingest.aggregator import Aggregator  # noqa: E402
from ingest.partitions import PartitionClaims  # noqa: E402
from ingest.persister import Persister  # noqa: E402
from tests.helpers import raw_reports  # noqa: E402
from tests.redis_cluster import LocalCluster  # noqa: E402

COUNT = 8_000
BATCH = 1000


def _drain(services, kind) -> float:
    keys = services.keys
    started = time.perf_counter()
    if keys.partitions == 1:
        if kind is Aggregator:
            Aggregator(services.redis, keys, "bench-agg", services.preset, batch_size=BATCH,
                       block_ms=10).run(burst=True)
        else:
            Persister(services.redis, keys, "bench-persist", services.engine, batch_size=BATCH,
                      block_ms=10).run(burst=True)
        return time.perf_counter() - started

    def factory(partition, name):
        if kind is Aggregator:
            return Aggregator(services.redis, keys, name, services.preset, partition=partition,
                              batch_size=BATCH, block_ms=10)
        return Persister(services.redis, keys, name, services.engine, partition=partition,
                         batch_size=BATCH, block_ms=10)

    PartitionClaims(services.redis, keys, kind.group, f"bench-{kind.group}", factory, lease_s=30,
                    block_ms=20).run(burst=True)
    return time.perf_counter() - started


def run(label: str, folder: Path, url: str, cluster: bool, partitions: int) -> dict:
    shared = (ROOT / ".." / "shared" / "data").resolve()
    settings = Settings(data_dir=folder / label, redis_url=url, redis_cluster=cluster,
                        stream_partitions=partitions, boundaries=shared if shared.exists() else None,
                        database_url=f"sqlite:///{folder / (label + '.sqlite3')}", secret_key="bench")
    services = Services.open(settings)
    try:
        raws = raw_reports(COUNT, seed=11, spread_s=86400)
        for raw in raw_reports(500, seed=12, spread_s=86400):   # warm the area index and caches first
            services.producer.validate(raw)
        started = time.perf_counter()
        for i in range(0, COUNT, BATCH):
            services.producer.submit_many(raws[i:i + BATCH])
        produce_s = time.perf_counter() - started
        aggregate_s = _drain(services, Aggregator)
        persist_s = _drain(services, Persister)
        total = produce_s + aggregate_s + persist_s
        return {"setup": label, "partitions": partitions, "end_to_end_per_s": round(COUNT / total),
                "produce_per_s": round(COUNT / produce_s), "aggregate_per_s": round(COUNT / aggregate_s),
                "persist_sqlite_per_s": round(COUNT / persist_s)}
    finally:
        services.close()


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-cluster-"))
    results = []
    server = EmbeddedRedis(folder / "embedded").start()
    try:
        results.append(run("embedded", folder, server.url, cluster=False, partitions=1))
    finally:
        server.stop()
    for shards in (1, 3):
        cluster = LocalCluster(folder / f"cluster{shards}", masters=shards).start()
        try:
            results.append(run(f"cluster-{shards}-shard", folder, cluster.url, cluster=True, partitions=4))
        finally:
            cluster.stop()
    for row in results:
        print("  ".join(f"{k}={v}" for k, v in row.items()))
    by = {row["setup"]: row for row in results}
    figures = {
        "reports": COUNT,
        "embedded_per_s": by["embedded"]["end_to_end_per_s"],
        "cluster_1_shard_per_s": by["cluster-1-shard"]["end_to_end_per_s"],
        "cluster_3_shard_per_s": by["cluster-3-shard"]["end_to_end_per_s"],
        "cluster_3_vs_embedded": round(by["cluster-3-shard"]["end_to_end_per_s"]
                                       / by["embedded"]["end_to_end_per_s"], 2),
        "runs": results,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
