"""The ingest worker's command line: ``python -m ingest COMMAND``.

Commands: ``aggregate`` and ``persist`` (the two stream consumers), ``jobs``
(the scheduled work: outbox relay, stream trimming, rollups, auto-close, e-mail updates),
``simulate`` (a live city feed), ``replay FILE`` (Open311 JSON/NDJSON or
LA 311 CSV), ``rebuild`` (recompute the aggregates from SQL), ``status``.
"""
from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
from pathlib import Path

from config.settings import Settings, log_level

log = logging.getLogger("pantau.ingest")


def _services():
    from app.services import Services

    return Services.open_for_command()


def _consumer_options(settings: Settings) -> dict:
    return {"batch_size": settings.batch_size, "block_ms": settings.block_ms,
            "linger_ms": settings.linger_ms, "claim_idle_s": settings.claim_idle_s}


def _run_partitioned(services, args, factory) -> int:
    """N processes over M partitions: this one claims its share (``ingest.partitions``)."""
    from ingest.partitions import PartitionClaims

    group = factory(0, args.name).group
    claims = PartitionClaims(services.redis, services.keys, group, args.name, factory,
                             lease_s=services.settings.partition_lease_s, block_ms=services.settings.block_ms)
    claims.install_signal_handlers()
    claims.run(burst=args.burst)
    return 0


def cmd_aggregate(args) -> int:
    from ingest.aggregator import Aggregator

    services = _services()
    if services.settings.stream_partitions > 1:
        return _run_partitioned(services, args, lambda p, name: Aggregator(
            services.redis, services.keys, name, services.preset, partition=p,
            **_consumer_options(services.settings)))
    consumer = Aggregator(services.redis, services.keys, args.name, services.preset,
                          **_consumer_options(services.settings))
    consumer.install_signal_handlers()
    consumer.run(burst=args.burst)
    return 0


def cmd_persist(args) -> int:
    from ingest.persister import Persister

    services = _services()
    if services.settings.stream_partitions > 1:
        return _run_partitioned(services, args, lambda p, name: Persister(
            services.redis, services.keys, name, services.engine, producer=services.producer, partition=p,
            **_consumer_options(services.settings)))
    consumer = Persister(services.redis, services.keys, args.name, services.engine,
                         producer=services.producer, **_consumer_options(services.settings))
    consumer.install_signal_handlers()
    consumer.run(burst=args.burst)
    return 0


def cmd_jobs(args) -> int:
    from ingest.jobs import Jobs

    services = _services()
    try:
        jobs = Jobs(services, args.jobs or None)
    except ValueError as err:
        sys.exit(f"pantau jobs: {err}")
    if args.once:
        print(json.dumps(jobs.run_once()))
        return 0
    jobs.install_signal_handlers()
    jobs.run()
    return 0


def cmd_simulate(args) -> int:
    from ingest.simulate import run_simulation

    services = _services()
    if args.history is not None:
        from config.settings import _history
        from ingest import history

        try:
            days = _history(args.history)
        except ValueError as err:
            sys.exit(f"pantau simulate: --history {err}")
        print(json.dumps(history.seed(services, days=days, **({"seed": args.seed} if args.seed is not None else {}))))
        return 0
    rate = args.rate if args.rate is not None else services.settings.sim_rate
    run_simulation(services, rate=rate, duration_s=args.duration, seed=args.seed,
                   lifecycle=not args.no_lifecycle, burst_every_s=args.burst_every)
    return 0


def cmd_replay(args) -> int:
    from ingest.sources.replay import replay

    services = _services()
    total = {"rejected_invalid": 0}

    def submit(batch):
        result = services.producer.submit_many(batch, retry_for_s=float("inf"))
        total["rejected_invalid"] += len(result.rejected)
        for _, err in result.rejected[:3]:
            log.debug("rejected: %s", err)

    try:
        from datetime import datetime, timezone

        stats = replay(Path(args.file), submit, speedup=args.speedup, progress=not args.no_progress,
                       shift_to=datetime.now(timezone.utc) if args.shift_to_now else None)
    except ValueError as err:
        sys.exit(f"pantau replay: {err}")
    summary = {"read": stats.read, "submitted": stats.submitted, "skipped_unreadable": stats.rejected,
               "skipped_by_reason": dict(stats.rejected_by_reason),
               "refused_by_validation": total["rejected_invalid"],
               "accepted": stats.submitted - total["rejected_invalid"], "seconds": round(stats.seconds, 2),
               **({"shifted_by_s": round(stats.shift.total_seconds())} if stats.shift is not None else {})}
    print(json.dumps(summary))
    return 0


def cmd_burst(args) -> int:
    from ingest.simulate import request_burst

    services = _services()
    options = {k: v for k, v in {"kind": args.kind, "lat": args.lat, "lng": args.lng,
                                 "radius_km": args.radius_km, "rate_per_s": args.rate,
                                 "duration_s": args.duration}.items() if v is not None}
    request_burst(services.redis, services.keys, **options)
    return 0


def cmd_rebuild(args) -> int:
    from ingest.rebuild import rebuild

    services = _services()
    print(json.dumps(rebuild(services.redis, services.engine, services.preset)))
    return 0


def cmd_status(args) -> int:
    from app import ops

    services = _services()
    ok, checks = ops.health(services.redis, services.engine, services.keys)
    print(json.dumps({"ok": ok, **checks}, indent=2, default=str))
    return 0 if ok else 1


def main(argv=None) -> int:
    logging.basicConfig(level=log_level(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    default_name = f"{socket.gethostname()}-1"
    for name, func in (("aggregate", cmd_aggregate), ("persist", cmd_persist)):
        p = sub.add_parser(name, help=f"run the {name} consumer")
        p.add_argument("--name", default=f"{name}-{default_name}",
                       help="stable consumer name: a restart resumes its own pending entries")
        p.add_argument("--burst", action="store_true", help="stop once the stream is drained")
        p.set_defaults(func=func)
    p = sub.add_parser("jobs", help="the scheduled work: outbox relay, stream trimming, rollups, auto-close, e-mail updates")
    p.add_argument("jobs", nargs="*", help="only these (relay, trim, rollups, autoclose, partitions, notify); default all")
    p.add_argument("--once", action="store_true", help="run each once and print what it did")
    p.set_defaults(func=cmd_jobs)
    p = sub.add_parser("simulate", help="stream a simulated live city feed")
    p.add_argument("--rate", type=float, help="new reports per second (default PANTAU_SIM_RATE)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--seed", type=int)
    p.add_argument("--no-lifecycle", action="store_true", help="do not move reports through their statuses")
    p.add_argument("--burst-every", type=float, default=None,
                   help="start a flood burst in one district every N seconds")
    p.add_argument("--history", metavar="DAYS",
                   help="instead of a live feed: seed this much past history (e.g. 30d) with its whole "
                        "follow-up into a city with no reports yet, then stop")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("burst", help="ask the running simulator for a burst (a flood in one district)")
    p.add_argument("--kind", default="flood")
    p.add_argument("--lat", type=float)
    p.add_argument("--lng", type=float)
    p.add_argument("--radius-km", type=float)
    p.add_argument("--rate", type=float)
    p.add_argument("--duration", type=float)
    p.set_defaults(func=cmd_burst)
    p = sub.add_parser("replay", help="replay a file: Open311 JSON/NDJSON or LA 311 CSV")
    p.add_argument("file")
    p.add_argument("--speedup", type=float, default=0.0, help="source time runs this many times faster (0: at once)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--shift-to-now", action="store_true",
                   help="move every time in the file by one offset so its newest report is filed now")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("rebuild", help="recompute every aggregate from SQL")
    p.set_defaults(func=cmd_rebuild)
    p = sub.add_parser("status", help="health of Redis, the database and the consumers")
    p.set_defaults(func=cmd_status)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
