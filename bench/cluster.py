"""End-to-end reports/s on the embedded single Redis, on a 1-shard and on a 3-shard Redis Cluster.

Same client machine, same reports, same code: the producer validates and appends them, then the
aggregator and the persister (SQLite) drain the stream. On the cluster the city's stream is split
into 4 partitions (``PANTAU_STREAM_PARTITIONS=4``), each on the shard of its own hash tag, served
through partition claims as the workers run them. The figure is reports / (produce + aggregate +
persist) seconds, each step on its own so the table shows where the time goes. The embedded single
Redis with one partition is the baseline.

Also on the embedded Redis, the three steps at once as production runs them (``pipelined``): the
aggregator and the persister in processes of their own (``python -m ingest aggregate`` /
``persist``) while this process validates and appends ``--pipelined-reports`` reports; reports /
seconds until both groups have acknowledged everything, the rows in SQL checked against the count.

Also, on the embedded Redis: the p99 delay from a report's acceptance (``submit_many`` returned)
to the live delta carrying it (received by a subscriber) with the aggregator running, at a steady
1,000 reports/s; and the seconds ``ingest.rebuild`` takes to recompute the aggregates of
1,000,000 reports from SQLite (``--rebuild N`` for another count). Prints the figures and the load
average (the machine may be shared), last line one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import redis  # noqa: E402

from app.services import Services  # noqa: E402
from app.store import db  # noqa: E402
from app.store.keys import AGGREGATOR, PERSISTER  # noqa: E402
from app.store.redis_conn import EmbeddedRedis  # noqa: E402
from config.settings import Settings  # noqa: E402
from ingest.aggregator import Aggregator  # noqa: E402
from ingest.partitions import PartitionClaims  # noqa: E402
from ingest.persister import Persister  # noqa: E402
from tests.conftest import postgres_schema  # noqa: E402
from tests.helpers import raw_reports  # noqa: E402
from tests.redis_cluster import LocalCluster  # noqa: E402

COUNT = 8_000
BATCH = 2000      # entries a consumer reads per batch here (PANTAU_BATCH_SIZE; its default is 500)
PRODUCE_BATCH = 1000


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
        for i in range(0, COUNT, PRODUCE_BATCH):
            services.producer.submit_many(raws[i:i + PRODUCE_BATCH])
        produce_s = time.perf_counter() - started
        aggregate_s = _drain(services, Aggregator)
        persist_s = _drain(services, Persister)
        total = produce_s + aggregate_s + persist_s
        return {"setup": label, "partitions": partitions, "end_to_end_per_s": round(COUNT / total),
                "produce_per_s": round(COUNT / produce_s), "aggregate_per_s": round(COUNT / aggregate_s),
                "persist_sqlite_per_s": round(COUNT / persist_s)}
    finally:
        services.close()


def _cpu_seconds(processes: dict) -> dict:
    """user + system CPU seconds of each named group of processes (a vanished one counts 0)."""
    out = {}
    for name, group in processes.items():
        total = 0.0
        for process in group:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        out[name] = total
    return out


def _postgres_processes() -> list:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


def _redis_server_process(port: int) -> list:
    """The redis-server listening on ``port`` (the embedded one is a child of this process)."""
    for process in psutil.Process().children(recursive=True):
        try:
            if "redis" in process.name() and any(c.laddr.port == port for c in process.net_connections("tcp")
                                                  if c.status == psutil.CONN_LISTEN):
                return [process]
        except psutil.Error:
            continue
    return []


def pipelined(folder: Path, url: str, count: int, database_url: str | None = None, label: str = "pipelined") -> dict:
    """End to end with the three steps at once, as production runs them: the aggregator and the
    persister in processes of their own (``python -m ingest aggregate`` / ``persist``, batch
    ``BATCH``) while this process validates and appends ``count`` reports as fast as it can; the
    figure is ``count`` / seconds from the first append to the moment both groups have processed and
    acknowledged every entry (no lag, nothing pending), checked against the rows in SQL. With it,
    the CPU time each process spent in that interval, in µs a report: where the two cores went
    (``postgres``: every PostgreSQL server process on the machine, which may serve others too)."""
    shared = (ROOT / ".." / "shared" / "data").resolve()
    settings = _settings(folder, label, url, database_url)
    env = {**os.environ, "REDIS_URL": url, "DATABASE_URL": settings.database_url,
           "PANTAU_DATA_DIR": str(folder / label), "SECRET_KEY": "bench", "PANTAU_LOG_LEVEL": os.environ.get("BENCH_LOG", "WARNING"),
           "PANTAU_BATCH_SIZE": str(BATCH), "PANTAU_BLOCK_MS": "10", "PANTAU_STREAM_PARTITIONS": "1"}
    if shared.exists():
        env["PANTAU_BOUNDARIES"] = str(shared)
    services = Services.open(settings)
    stream = services.keys.stream(0)
    consumers = []
    try:
        raws = raw_reports(count, seed=31, spread_s=86400, prefix=label)   # new reports for each run
        for raw in raw_reports(500, seed=12, spread_s=86400):
            services.producer.validate(raw)
        for group in ("aggregate", "persist"):
            # names of this run's own: a name an earlier run left in the group would pass for ready
            # while the new process still starts (its start-up then counted in the figure)
            consumers.append(subprocess.Popen([sys.executable, "-m", "ingest", group, "--name", f"bench-{group}-{label}"],
                                              cwd=ROOT, env=env))
        deadline = time.monotonic() + 60          # both consumers reading before the clock starts
        while not all(_reading(services.redis, stream, group, f"bench-{name}-{label}")
                      for group, name in ((AGGREGATOR, "aggregate"), (PERSISTER, "persist"))):
            if time.monotonic() > deadline:
                raise RuntimeError("the consumers did not start")
            time.sleep(0.1)
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        processes = {"producer": [psutil.Process()], "aggregator": [psutil.Process(consumers[0].pid)],
                     "persister": [psutil.Process(consumers[1].pid)], "redis": _redis_server_process(port)}
        cpu_before = _cpu_seconds(processes)
        postgres_before = _cpu_seconds({p.pid: [p] for p in _postgres_processes()})
        started = time.perf_counter()
        for i in range(0, count, PRODUCE_BATCH):
            services.producer.submit_many(raws[i:i + PRODUCE_BATCH])
        produced_s = time.perf_counter() - started
        last = services.redis.xinfo_stream(stream)["last-generated-id"]   # (the embedded server is Redis 6)
        deadline = time.monotonic() + 600
        while True:
            groups = _groups(services.redis, stream)
            if all(g["pending"] == 0 and g["last-delivered-id"] == last for g in groups.values()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the consumers did not finish: {groups}")
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        cpu_after = _cpu_seconds(processes)
        if settings.database_url.startswith("postgresql"):
            # the persister's server process starts with its first write: one not there before counts from 0
            postgres_after = _cpu_seconds({p.pid: [p] for p in _postgres_processes()})
            processes["postgres"] = []
            cpu_before["postgres"] = sum(postgres_before.get(pid, 0.0) for pid in postgres_after)
            cpu_after["postgres"] = sum(postgres_after.values())
        in_sql = db.count_reports(services.engine, services.preset.slug)
        return {"database": settings.database_url.split(":", 1)[0].split("+")[0],
                "reports": count, "seconds": round(seconds, 2), "end_to_end_per_s": round(count / seconds),
                "produce_per_s": round(count / produced_s), "in_sql": in_sql, "exact": in_sql == count,
                "cpu_us_per_report": {name: round((cpu_after[name] - cpu_before[name]) / count * 1e6, 1)
                                      for name in processes}}
    finally:
        for consumer in consumers:
            consumer.terminate()
        for consumer in consumers:
            try:
                consumer.wait(timeout=20)
            except subprocess.TimeoutExpired:
                consumer.kill()
        services.close()


def _reading(client, stream: str, group: str, name: str) -> bool:
    try:
        return any(c["name"] == name for c in client.xinfo_consumers(stream, group))
    except redis.ResponseError:      # no stream or group yet
        return False


def _groups(client, stream: str) -> dict:
    try:
        return {g["name"]: g for g in client.xinfo_groups(stream)}
    except redis.ResponseError:      # no stream yet
        return {}


def _settings(folder: Path, label: str, url: str, database_url: str | None = None) -> Settings:
    shared = (ROOT / ".." / "shared" / "data").resolve()
    return Settings(data_dir=folder / label, redis_url=url, boundaries=shared if shared.exists() else None,
                    database_url=database_url or f"sqlite:///{folder / (label + '.sqlite3')}", secret_key="bench")


def _postgres_schema(base_url: str):
    """A schema of its own on the PostgreSQL at ``base_url`` (dropped by the caller), or Nones when
    no server answers there (the figure is then left out, with the reason)."""
    try:
        return postgres_schema(base_url, prefix="pantau_bench")
    except Exception as err:  # noqa: BLE001
        print(f"PostgreSQL not reachable at {base_url}: {str(err).splitlines()[0]}")
        return None, None, None


def latency(folder: Path, url: str, rate: float = 1000.0, seconds: float = 8.0) -> dict:
    """accept -> published delay at a steady ``rate``, the aggregator running in its own thread."""
    services = Services.open(_settings(folder, "latency", url))
    accepted: dict[str, float] = {}
    published: dict[str, float] = {}
    aggregator = Aggregator(services.redis, services.keys, "bench-latency", services.preset, batch_size=BATCH,
                            block_ms=5)
    pubsub = services.redis.pubsub(ignore_subscribe_messages=True)
    channel = services.keys.live_shard_channel if aggregator.sharded else services.keys.live_channel
    (pubsub.ssubscribe if aggregator.sharded else pubsub.subscribe)(channel)
    listening = threading.Event()

    def listen():
        while not listening.is_set():
            message = pubsub.get_message(timeout=0.05)
            if message and message["type"] in ("message", "smessage"):
                now = time.perf_counter()
                for summary in json.loads(message["data"])["new"]:
                    published.setdefault(summary["id"], now)

    try:
        raws = raw_reports(int(rate * seconds), seed=21, spread_s=3600)
        for raw in raw_reports(300, seed=22):
            services.producer.validate(raw)
        threads = [threading.Thread(target=aggregator.run, daemon=True), threading.Thread(target=listen, daemon=True)]
        for thread in threads:
            thread.start()
        tick, per_tick = 0.02, max(1, int(rate * 0.02))
        started = time.perf_counter()
        for i in range(0, len(raws), per_tick):
            for report in services.producer.submit_many(raws[i:i + per_tick]).accepted:
                accepted[report.id] = time.perf_counter()
            pause = started + (i // per_tick + 1) * tick - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        sent_s = time.perf_counter() - started
        deadline = time.monotonic() + 30
        while len(published) < len(accepted) and time.monotonic() < deadline:
            time.sleep(0.05)
        aggregator.stopping.set()
        listening.set()
        for thread in threads:
            thread.join(timeout=10)
        delays = sorted((published[rid] - at) * 1000 for rid, at in accepted.items() if rid in published)
        return {"rate_per_s": round(len(accepted) / sent_s), "reports": len(accepted), "seen": len(delays),
                "p50_ms": round(delays[len(delays) // 2], 1) if delays else None,
                "p99_ms": round(delays[int(len(delays) * 0.99) - 1], 1) if delays else None}
    finally:
        pubsub.close()
        services.close()


def rebuild_seconds(folder: Path, url: str, count: int) -> dict:
    """Seconds ``ingest.rebuild`` takes over ``count`` reports written straight into SQLite."""
    import h3

    from app.store import db
    from app.workflow import OPEN_STATUSES
    from ingest.rebuild import rebuild

    services = Services.open(_settings(folder, "rebuild", url))
    try:
        rng = random.Random(5)
        now = datetime.now(timezone.utc)
        categories = [c for c in ("flood", "garbage", "road_damage", "street_light", "fallen_tree")]
        statuses = list(OPEN_STATUSES) + ["resolved", "closed", "rejected"]
        # A pool of 50,000 cells over the city (an H3 index per row would take longer than the rebuild).
        cells = [h3.latlng_to_cell(-6.2 + rng.uniform(-0.1, 0.1), 106.8 + rng.uniform(-0.1, 0.1), 12)
                 for _ in range(50_000)]
        started = time.perf_counter()
        with services.engine.begin() as conn:
            for start in range(0, count, 50_000):
                rows = []
                for i in range(start, min(start + 50_000, count)):
                    created = now - timedelta(seconds=rng.uniform(0, 60 * 86400))
                    status = rng.choice(statuses)
                    rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    rows.append({
                        "id": rid, "ticket": f"B-{i}", "city": services.preset.slug,
                        "category": rng.choice(categories), "description": "", "lat": 0.0, "lng": 0.0,
                        "h3_cell": rng.choice(cells),
                        "source": "bench", "photos": "[]", "attributes": "{}", "status": status,
                        "priority": "normal", "created_at": created, "updated_at": created,
                        "sla_due_at": created + timedelta(days=3),
                        "resolved_at": created + timedelta(hours=5) if status in ("resolved", "closed") else None,
                        "version": 1})
                db.bulk_insert_ignore(conn, db.reports, rows)
        written_s = time.perf_counter() - started
        started = time.perf_counter()
        summary = rebuild(services.redis, services.engine, services.preset)
        seconds = time.perf_counter() - started
        return {"reports": summary["reports"], "seconds": round(seconds, 1),
                "sql_write_s": round(written_s, 1), "counters": summary["counters"],
                "persist_into_full_table": _persist_into(services, 8_000)}
    finally:
        services.close()


def _persist_into(services, count: int) -> dict:
    """The persister's SQL write (``ingest.persister.write_batch``, batches of ``BATCH``) of ``count``
    new reports into the table as it stands: what a report costs once a city has a million of them,
    against the few thousand of the runs above."""
    from ingest.persister import write_batch

    reports = [services.producer.validate(raw) for raw in raw_reports(count, seed=41, spread_s=3600, prefix="full")]
    cpu, started = time.process_time(), time.perf_counter()
    for i in range(0, count, BATCH):
        write_batch(services.engine, reports[i:i + BATCH], [])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with services.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM reports").scalar_one()
    return {"reports": count, "rows_after": rows, "per_s": round(count / seconds),
            "cpu_us_per_report": round(cpu / count * 1e6, 1)}


def main() -> None:
    global COUNT, BATCH
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", type=int, default=1_000_000, help="reports for the rebuild figure")
    parser.add_argument("--reports", type=int, default=COUNT, help="reports per end-to-end run")
    parser.add_argument("--batch", type=int, default=BATCH, help="entries a consumer reads per batch")
    parser.add_argument("--latency-s", type=float, default=8.0, help="seconds at 1,000 reports/s")
    parser.add_argument("--pipelined-reports", type=int, default=24_000,
                        help="reports for the run with the three steps at once")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "PANTAU_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="the three steps at once again with the persister writing to this PostgreSQL (a schema of "
             "its own, dropped after); '' to leave it out")
    args = parser.parse_args()
    COUNT, BATCH = args.reports, args.batch
    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-cluster-"))
    load_before = os.getloadavg()
    results = []
    server = EmbeddedRedis(folder / "embedded").start()
    try:
        results.append(run("embedded", folder, server.url, cluster=False, partitions=1))
        together = pipelined(folder, server.url, args.pipelined_reports)
        together_pg = None
        if args.postgres_url:
            engine, schema, pg_url = _postgres_schema(args.postgres_url)
            if engine is not None:
                try:
                    together_pg = pipelined(folder, server.url, args.pipelined_reports, pg_url, "pipelined-pg")
                finally:
                    with engine.begin() as conn:       # the schema this run made, and nothing else
                        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                    engine.dispose()
        delay = latency(folder, server.url, seconds=args.latency_s)
        rebuilt = rebuild_seconds(folder, server.url, args.rebuild)
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
    print(f"embedded, the three steps at once (aggregator and persister in their own processes): {together}")
    print(f"same, persisting to PostgreSQL: {together_pg}")
    print(f"accept->published at 1,000/s: {delay}")
    print(f"rebuild: {rebuilt}")
    by = {row["setup"]: row for row in results}
    figures = {
        "reports": COUNT,
        "consumer_batch": BATCH,
        "embedded_per_s": by["embedded"]["end_to_end_per_s"],
        "cluster_1_shard_per_s": by["cluster-1-shard"]["end_to_end_per_s"],
        "cluster_3_shard_per_s": by["cluster-3-shard"]["end_to_end_per_s"],
        "embedded_pipelined_per_s": together["end_to_end_per_s"],
        "pipelined": together,
        "embedded_pipelined_postgres_per_s": together_pg["end_to_end_per_s"] if together_pg else None,
        "pipelined_postgres": together_pg,
        "cluster_3_vs_embedded": round(by["cluster-3-shard"]["end_to_end_per_s"]
                                       / by["embedded"]["end_to_end_per_s"], 2),
        "accept_to_published_at_1000_per_s": delay,
        "p99_accept_to_published_ms": delay["p99_ms"],
        "rebuild": rebuilt,
        "rebuild_seconds": rebuilt["seconds"],
        "target_10000_per_s_met": by["cluster-1-shard"]["end_to_end_per_s"] >= 10_000,
        "target_rebuild_120_s_met": rebuilt["reports"] >= 1_000_000 and rebuilt["seconds"] <= 120,
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "cores": os.cpu_count(),
        "runs": results,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
