"""Pipeline throughput: producer -> stream -> aggregator and persister, on a real embedded Redis and SQLite.

Prints the figures, last line one JSON object. Baseline in the same run: the
naive aggregator (one round trip per counter, no Lua batch) over the same events.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import hexagg  # noqa: E402
from app.hexagg import Effects  # noqa: E402
from app.services import Services  # noqa: E402
from app.store.redis_conn import EmbeddedRedis  # noqa: E402
from config.settings import Settings  # noqa: E402
from ingest.aggregator import Aggregator  # noqa: E402
from ingest.persister import Persister  # noqa: E402
from tests.helpers import raw_reports  # noqa: E402

COUNT = 20_000


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="pantau-bench-"))
    server = EmbeddedRedis(folder / "redis").start()
    shared = (ROOT / ".." / "shared" / "data").resolve()
    settings = Settings(data_dir=folder, redis_url=server.url, boundaries=shared if shared.exists() else None,
                        database_url=f"sqlite:///{folder / 'bench.sqlite3'}", secret_key="bench")
    services = Services.open(settings)
    try:
        raws = raw_reports(COUNT, seed=11, spread_s=86400)
        started = time.perf_counter()
        validated = [services.producer.validate(r) for r in raws]
        validate_s = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(0, COUNT, 1000):
            services.producer.submit_many(raws[i:i + 1000])
        produce_s = time.perf_counter() - started

        started = time.perf_counter()
        Aggregator(services.redis, services.keys, "bench-agg", services.preset, batch_size=1000,
                   block_ms=10).run(burst=True)
        aggregate_s = time.perf_counter() - started
        started = time.perf_counter()
        Persister(services.redis, services.keys, "bench-persist", services.engine, batch_size=1000,
                  block_ms=10).run(burst=True)
        persist_s = time.perf_counter() - started

        # Baseline: the same counter changes written one HINCRBY round trip at a time.
        sample = validated[:2000]
        started = time.perf_counter()
        for report in sample:
            effects = Effects.empty()
            hexagg.apply_created(effects, services.keys, report.id, None, hexagg.record_for_report(report),
                                 int(time.time()), services.preset.timezone)
            for key, field, delta in effects.nonzero_incr():
                services.redis.hincrby(key + ":baseline", field, delta)
        baseline_per_s = len(sample) / (time.perf_counter() - started)
        aggregate_per_s = COUNT / aggregate_s
        figures = {
            "reports": COUNT,
            "validate_per_s": round(COUNT / validate_s),
            "produce_per_s": round(COUNT / produce_s),
            "aggregate_per_s": round(aggregate_per_s),
            "persist_sqlite_per_s": round(COUNT / persist_s),
            "baseline_aggregate_per_s": round(baseline_per_s),
            "aggregate_vs_baseline": round(aggregate_per_s / baseline_per_s, 1),
        }
        for name, value in figures.items():
            print(f"{name:>28}: {value}")
        print(json.dumps(figures))
    finally:
        services.close()
        server.stop()


if __name__ == "__main__":
    main()
