"""Small helpers the tests share: realistic raw reports and running the consumers to the end."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from app import hexagg
from app.store.keys import Keys
from app.store.redis_conn import _free_port
from ingest.aggregator import Aggregator
from ingest.persister import Persister
from ingest.sources import RawReport
from tests.conftest import ROOT, SHARED_DATA

# Points well inside mainland Jakarta kelurahan.
JAKARTA_POINTS = [(-6.1754, 106.8272), (-6.2088, 106.8456), (-6.2297, 106.8295), (-6.1352, 106.8133),
                  (-6.2615, 106.7810), (-6.3019, 106.8950), (-6.1862, 106.7345), (-6.1500, 106.9000)]
CATEGORIES = ["flood", "garbage", "road_damage", "street_light", "fallen_tree", "illegal_parking"]


# Inside Kota Kupang (Oebobo, Kota Lama, Oesapa, Maulafa): reports for a second city.
KUPANG_POINTS = [(-10.168, 123.602), (-10.160, 123.585), (-10.148, 123.640), (-10.200, 123.610)]


def raw_reports(count: int, seed: int = 1, start: datetime | None = None, spread_s: int = 3600,
                prefix: str = "t", points=None) -> list[RawReport]:
    rng = random.Random(seed)
    start = start or datetime.now(timezone.utc) - timedelta(seconds=spread_s)
    out = []
    for i in range(count):
        lat, lng = rng.choice(points or JAKARTA_POINTS)
        out.append(RawReport(
            category=rng.choice(CATEGORIES), lat=lat + rng.uniform(-0.01, 0.01),
            lng=lng + rng.uniform(-0.01, 0.01), description=f"laporan {i}",
            created_at=start + timedelta(seconds=rng.uniform(0, spread_s)), source="test",
            source_ref=f"{prefix}-{seed}-{i}", reporter_name="Budi Santoso", reporter_phone="+62 812 1111 2222"))
    return out


def drain(services, batch_size: int = 500) -> None:
    """Run both consumers until the stream is drained."""
    keys = Keys(services.preset.slug)
    Aggregator(services.redis, keys, "agg-test", services.preset, batch_size=batch_size,
               block_ms=10).run(burst=True)
    Persister(services.redis, keys, "persist-test", services.engine, producer=services.producer,
              batch_size=batch_size, block_ms=10).run(burst=True)


def dump_aggregates(client, keys: Keys, now: float | None = None) -> dict:
    """Every aggregate key of the city with its content (the ticker list left out).

    Likely-duplicate index members created more than a day before ``now`` are left out: the
    probe never reads them, and they go with the next write to their cell or the key's expiry,
    so an index kept incrementally holds some that a rebuild a moment later does not. Dumps that
    are compared must pass the same ``now`` (a moment after both), or a report crossing the
    one-day line between them makes them differ. For the same reason a key that Redis drops by
    ``now`` (a bucket at the edge of its retention: its expiry is before that moment) is left out:
    a rebuild a moment later no longer writes it, while the live copy is still there until then.
    """
    now = time.time() if now is None else now
    out = {}
    for key in sorted(client.scan_iter(match=keys.agg_pattern(), count=1000)):
        ttl = client.ttl(key)
        if ttl >= 0 and time.time() + ttl <= now:
            continue
        kind = client.type(key)
        if kind == "hash":
            out[key] = {f: int(v) if v.lstrip("-").isdigit() else v for f, v in client.hgetall(key).items()}
        elif kind == "zset":
            members = dict(client.zrange(key, 0, -1, withscores=True))
            if ":agg:dup:" in key:
                members = {m: ts for m, ts in members.items() if ts > now - hexagg.DAY}
                if not members:
                    continue
            out[key] = members
    return out


def wall_display_token(server, name: str = "test screen") -> str:
    """A fresh display token for the app's city, as ``python -m app.auth displays create`` makes it."""
    from app.auth import displays

    services = server.extensions["pantau"]
    return displays.create_display(services.engine, services.preset.slug, name)[1]


def wall_client(server):
    """A test client signed in to the wall as an unattended screen (a display token's cookie)."""
    from app.auth import displays

    client = server.test_client()
    client.set_cookie(displays.COOKIE, wall_display_token(server))
    return client


def wall_url(server, query: str = "") -> str:
    """The URL a screen opens: the wall with a display token (it moves into a cookie; the URL stays clean)."""
    extra = "&" + query.lstrip("?") if query.strip("?") else ""
    return f"{server.config['BASE_URL']}/wall?display={wall_display_token(server)}{extra}"


def file_with_secrets(services, raws) -> list[tuple[object, str]]:
    """File reports as the form and Open311 do (each with its reporter's secret), drain them into SQL;
    answers (SQL row, secret) per report, in the given order."""
    from sqlalchemy import select

    from app import reporter_secret
    from app.store import db

    filed = []
    for raw in raws:
        secret, report = reporter_secret.issue(services.settings.resolved_secret_key(),
                                               services.producer.validate(raw))
        services.producer.append(report)
        filed.append((report.id, secret))
    drain(services)
    with services.engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(select(db.reports).where(
            db.reports.c.id.in_([report_id for report_id, _ in filed])))}
    return [(rows[report_id], secret) for report_id, secret in filed]


def start_web_server(env_extra: dict, data_dir) -> tuple[str, int, subprocess.Popen]:
    """``python -m app serve`` (gunicorn) as ``make run`` starts it, with ``env_extra`` on top of the
    environment and the real boundaries; answers (base URL, port, process) once /healthz answers.
    The caller ends the process (``stop_web_server``)."""
    port = _free_port()
    env = {**os.environ, "PANTAU_DATA_DIR": str(data_dir), "PANTAU_PORT": str(port), "PANTAU_SIM_RATE": "0",
           **env_extra}
    if SHARED_DATA.exists():
        env["PANTAU_BOUNDARIES"] = str(SHARED_DATA)
    child = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return base, port, child
        except OSError:
            if child.poll() is not None or time.monotonic() > deadline:
                child.kill()
                pytest.fail(f"web server did not start: {child.stdout.read()[-2000:]}")
            time.sleep(0.3)


def stop_web_server(child) -> None:
    if child.poll() is None:
        child.kill()
        child.wait(10)
