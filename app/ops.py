"""Operational figures: stream length, pending entries, consumer lag, throughput.

Read by ``/healthz``, ``/metrics`` and the worker's stream trimming.
"""
from __future__ import annotations

import json
import time

import redis
from sqlalchemy import text

from app.store import migrate
from app.store.keys import CONSUMER_GROUPS, Keys


def _ms(entry_id: str) -> int:
    return int(entry_id.split("-")[0])


LAG_COUNT_CAP = 1000


def _undelivered(client, stream: str, info: dict, last_id: str) -> int:
    """Entries not yet delivered to a group: Redis 7 says so itself; on 6.2 they are counted, up
    to ``LAG_COUNT_CAP`` (a deeper backlog shows as the cap; ``lag_seconds`` still tells how far)."""
    if info.get("lag") is not None:
        return int(info["lag"])
    delivered = info["last-delivered-id"]
    if delivered == last_id:
        return 0
    return len(client.xrange(stream, min=f"({delivered}", max="+", count=LAG_COUNT_CAP))


def stream_status(client: redis.Redis, keys: Keys, partition: int = 0) -> dict:
    stream = keys.stream(partition)
    length = client.xlen(stream)
    last_id = client.xinfo_stream(stream)["last-generated-id"] if length or client.exists(stream) else "0-0"
    groups = {}
    known = {g["name"]: g for g in client.xinfo_groups(stream)} if client.exists(stream) else {}
    for name in CONSUMER_GROUPS:
        info = known.get(name)
        if info is None:
            groups[name] = {"pending": 0, "lag": length, "lag_seconds": None, "last_delivered": None}
            continue
        delivered = info["last-delivered-id"]
        undelivered = _undelivered(client, stream, info, last_id)
        pending = info["pending"]
        oldest = None
        if pending:
            summary = client.xpending(stream, name)
            oldest = summary["min"]
        behind_from = oldest or (None if not undelivered else delivered)
        lag_seconds = max(0.0, (_ms(last_id) - _ms(behind_from)) / 1000.0) if behind_from else 0.0
        groups[name] = {"pending": pending, "lag": undelivered, "lag_seconds": lag_seconds,
                        "last_delivered": delivered, "oldest_pending": oldest}
    return {"stream": stream, "length": length, "last_id": last_id, "groups": groups}


def city_stream_status(client: redis.Redis, keys: Keys) -> dict:
    """``stream_status`` of the whole city: with a partitioned stream, lengths, pending entries and
    lags added over the partitions, the oldest lag kept (each partition is under ``partitions``)."""
    if keys.partitions <= 1:
        return stream_status(client, keys)
    parts = [stream_status(client, keys, p) for p in range(keys.partitions)]
    groups = {}
    for name in CONSUMER_GROUPS:
        infos = [part["groups"][name] for part in parts]
        lag_seconds = [i["lag_seconds"] for i in infos if i["lag_seconds"] is not None]
        groups[name] = {"pending": sum(i["pending"] for i in infos), "lag": sum(i["lag"] for i in infos),
                        "lag_seconds": max(lag_seconds) if lag_seconds else None}
    return {"stream": keys.stream(0).rsplit(":", 1)[0].replace(":0}", ":*}"),
            "length": sum(part["length"] for part in parts), "groups": groups, "partitions": parts}


def consumers(client: redis.Redis, keys: Keys) -> dict:
    return {name: json.loads(raw) for name, raw in client.hgetall(keys.consumer_stats).items()}


def trim_stream(client: redis.Redis, keys: Keys, partition: int = 0) -> int:
    """Drop entries every consumer group has acknowledged; never one still pending or unread."""
    stream = keys.stream(partition)
    if not client.exists(stream):
        return 0
    groups = {g["name"]: g for g in client.xinfo_groups(stream)}
    if set(CONSUMER_GROUPS) - set(groups):
        return 0
    keep_from = []
    for name, info in groups.items():
        # The oldest pending entry, if any is still pending when asked (it may be acked meanwhile).
        oldest = client.xpending(stream, name)["min"] if info["pending"] else None
        keep_from.append(oldest or info["last-delivered-id"])
    minid = min(keep_from, key=lambda i: tuple(int(p) for p in i.split("-")))
    if minid == "0-0":
        return 0
    return client.xtrim(stream, minid=minid, approximate=False)


def health(client: redis.Redis, engine, keys: Keys, max_lag_s: float = 60.0) -> tuple[bool, dict]:
    checks: dict = {}
    ok = True
    try:
        started = time.perf_counter()
        client.ping()
        checks["redis"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
    except redis.RedisError as err:
        checks["redis"] = {"ok": False, "error": str(err)}
        ok = False
    try:
        started = time.perf_counter()

        with engine.connect() as conn:
            conn.execute(text("select 1"))
            revision = migrate.current(conn)
        newest = migrate.head()
        # A database behind the code (an upgrade that did not run) is unhealthy: say so plainly.
        checks["database"] = {"ok": revision == newest, "ms": round((time.perf_counter() - started) * 1000, 2),
                              "dialect": engine.dialect.name, "schema": revision, "schema_newest": newest}
        ok = ok and revision == newest
    except Exception as err:  # any driver error means the database is not healthy
        checks["database"] = {"ok": False, "error": str(err).splitlines()[0]}
        ok = False
    if checks["redis"]["ok"]:
        status = city_stream_status(client, keys)
        lagging = {g: s for g, s in status["groups"].items() if (s["lag_seconds"] or 0) > max_lag_s}
        checks["consumers"] = {"ok": not lagging, **status["groups"]}
        ok = ok and not lagging
    return ok, checks


def prometheus(client: redis.Redis, keys: Keys, city: str) -> str:
    status = city_stream_status(client, keys)
    lines = [
        "# HELP pantau_stream_length Entries in the report event stream.",
        "# TYPE pantau_stream_length gauge",
        f'pantau_stream_length{{city="{city}"}} {status["length"]}',
        "# HELP pantau_stream_pending Entries delivered to a consumer group and not yet acknowledged.",
        "# TYPE pantau_stream_pending gauge",
    ]
    for group, info in status["groups"].items():
        lines.append(f'pantau_stream_pending{{city="{city}",group="{group}"}} {info["pending"]}')
    lines += ["# HELP pantau_stream_lag Entries not yet delivered to a consumer group.",
              "# TYPE pantau_stream_lag gauge"]
    for group, info in status["groups"].items():
        lines.append(f'pantau_stream_lag{{city="{city}",group="{group}"}} {info["lag"]}')
    lines += ["# HELP pantau_stream_lag_seconds Age of the oldest entry a group has not finished.",
              "# TYPE pantau_stream_lag_seconds gauge"]
    for group, info in status["groups"].items():
        lines.append(f'pantau_stream_lag_seconds{{city="{city}",group="{group}"}} {info["lag_seconds"] or 0}')
    stats = consumers(client, keys)
    lines += ["# HELP pantau_consumer_processed_total Entries processed by a consumer since it started.",
              "# TYPE pantau_consumer_processed_total counter"]
    for name, info in stats.items():
        lines.append(f'pantau_consumer_processed_total{{city="{city}",consumer="{name}",'
                     f'group="{info["group"]}"}} {info["processed"]}')
    lines += ["# HELP pantau_consumer_processed_per_second Entries per second over the last heartbeat.",
              "# TYPE pantau_consumer_processed_per_second gauge"]
    for name, info in stats.items():
        lines.append(f'pantau_consumer_processed_per_second{{city="{city}",consumer="{name}",'
                     f'group="{info["group"]}"}} {info["per_second"]}')
    return "\n".join(lines) + "\n"
