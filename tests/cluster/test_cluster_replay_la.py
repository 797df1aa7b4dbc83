"""The LA 311 replay on a real Redis Cluster, beside Jakarta: LA's 4 stream partitions over the
shards, per-hex counts equal an independent pandas + h3 computation, SQL holds every accepted
report once, a rebuild equals the incremental state, and Jakarta's aggregates are untouched."""
import json
import subprocess
import sys
import time

import pytest

from app import queries
from app.services import Services
from app.store import db
from ingest.rebuild import rebuild
from tests.cluster.conftest import PARTITIONS, cluster_settings
from tests.cluster.test_cluster_pipeline import drain_partitions, dump_partitions
from tests.conftest import ROOT, shared_file
from tests.helpers import raw_reports
from tests.ingest.test_replay_la import LA_FILE, _independent_counts


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_la311_replay_over_partitions_beside_another_city(tmp_path, redis_cluster, cluster_services,
                                                           database_url):
    jakarta = cluster_services
    jakarta.producer.submit_many(raw_reports(300, seed=8, spread_s=86400))
    drain_partitions(jakarta)
    at = time.time() + 600
    jakarta_before = dump_partitions(jakarta, at)
    path = shared_file(LA_FILE)
    shared_file("la_neighborhood_councils_2019.geojson")
    la = Services.open(cluster_settings(tmp_path / "la", redis_cluster, database_url, city="la"))
    try:
        env = {"REDIS_URL": redis_cluster.url, "PANTAU_REDIS_CLUSTER": "1",
               "PANTAU_STREAM_PARTITIONS": str(PARTITIONS), "DATABASE_URL": la.settings.resolved_database_url(),
               "PANTAU_CITY": "la", "PANTAU_BOUNDARIES": str(path.parent), "PANTAU_DATA_DIR": str(tmp_path / "r"),
               "SECRET_KEY": "x", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
        run = subprocess.run([sys.executable, "-m", "ingest", "replay", str(path), "--no-progress"],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        summary = json.loads(run.stdout.strip().splitlines()[-1])
        assert {redis_cluster.master_of(la.keys.stream(p)).port for p in range(PARTITIONS)} == \
            {m.port for m in redis_cluster.masters}           # LA's load on every shard
        drain_partitions(la, batch_size=2000)
        for resolution in (6, 8, 10):
            expected, _, _ = _independent_counts(path, la.preset, resolution)
            got = {}
            for field, count in queries.cell_category_counts(la.redis, la.keys, resolution, None).items():
                got[field.split("|")[0]] = got.get(field.split("|")[0], 0) + count
            assert got == expected
        assert db.count_reports(la.engine, "la") == summary["accepted"] > 15_000
        assert db.count_reports(jakarta.engine, "jakarta") == 300
        incremental = dump_partitions(la, at)
        rebuild(la.redis, la.engine, la.preset)
        assert dump_partitions(la, at) == incremental
        assert dump_partitions(jakarta, at) == jakarta_before
    finally:
        la.close()
