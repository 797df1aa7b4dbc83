"""``python -m app run``: the whole stack on embedded defaults; ``python -m app serve``: the web server.

``run`` starts the embedded Redis (when REDIS_URL is unset), the two stream
consumers, on a new database the seeding of ``PANTAU_SEED_HISTORY`` days of simulated history
(``ingest.history``; then the simulated city feed), the public-figures refresher, the sweep of unattached photo
uploads and the web server, restarts any of them that dies (the embedded Redis too: its AOF brings the
data back, the others reconnect), prints the URL, and on Ctrl-C stops every process it started.
"""
from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time

from config.settings import Settings, child_environment, log_level

log = logging.getLogger("pantau")


def serve(args) -> int:
    from app import server
    from app.services import Services
    from app.store.redis_conn import RedisUnavailable

    settings = Settings.for_command()
    try:
        # Fail here, with one line, rather than in every worker: Redis and SQL must answer.
        Services.open(settings).close()
    except RedisUnavailable as err:
        sys.exit(f"pantau: {err}")
    server.serve(settings)
    return 0


def run(args) -> int:
    from app.store.files import make_data_private
    from app.store.redis_conn import EmbeddedRedis, RedisUnavailable, redact

    settings = Settings.for_command()
    make_data_private(settings)      # before anything is written; the children inherit the umask
    env = child_environment()
    embedded = None
    if not settings.redis_url:
        try:
            embedded = EmbeddedRedis(settings.data_dir / "redis").start()
        except RedisUnavailable as err:
            sys.exit(f"pantau: {err}")
        env["REDIS_URL"] = embedded.url
        log.info("embedded Redis on %s (data in %s)", redact(embedded.url), embedded.folder)
    from app.store import db, migrate

    engine = db.make_engine(settings.resolved_database_url())
    migrate.create_schema(engine)   # once, before the children race for it
    engine.dispose()
    python = sys.executable
    per_city = {
        "aggregator": [python, "-m", "ingest", "aggregate", "--name", "aggregate-1"],
        "persister": [python, "-m", "ingest", "persist", "--name", "persist-1"],
        # Outbox relay, stream trimming, /kinerja rollups, auto-close: on a clock, not in a consumer.
        "jobs": [python, "-m", "ingest", "jobs"],
        # The public rankings are recomputed outside the web process so kiosks never wait on them.
        "public-refresh": [python, "-m", "app.public", "refresh", "--every", "10"],
        # Uploads never attached to a filed report are removed after PANTAU_PHOTO_PENDING_TTL_S.
        "photo-sweep": [python, "-m", "app.photos", "sweep", "--every", "300"],
    }
    if settings.weekly_report:   # the weekly performance report, Monday 07.00 local time
        per_city["kinerja-weekly"] = [python, "-m", "app.kinerja", "schedule"]
    if settings.sim_rate > 0:
        per_city["simulator"] = [python, "-m", "ingest", "simulate"]
    # A new city is not an empty one: the history is seeded once, with the consumers and the web
    # already running (the screens fill in as it goes); the live feed starts when it is done, and
    # so does the weekly report's schedule (last week's report is not built from half a history).
    # Its own check leaves a city with reports alone, so a restart seeds nothing twice.
    once = {}
    if settings.seed_history_days > 0:
        once["history"] = [python, "-m", "ingest", "simulate", "--history", f"{settings.seed_history_days}d"]
    after_once_names = [name for name in ("simulator", "kinerja-weekly") if name in per_city and once]
    per_city.update(once)
    # name -> (command, environment). Several cities (PANTAU_CITIES): each city's workers, one web server.
    commands = {"web": ([python, "-m", "app", "serve"], env)}
    after_once = {}
    for city in settings.cities or (settings.city,):
        for name, command in per_city.items():
            label = f"{name}@{city}" if settings.multi_city else name
            entry = (command, {**env, "PANTAU_CITY": city} if settings.multi_city else env)
            (after_once if name in after_once_names else commands)[label] = entry
    # a seeding child's label -> the labels started when it is done (its own city's live feed)
    seeding = {label: [later for later in after_once if later.partition("@")[2] == label.partition("@")[2]]
               for label in commands if label.partition("@")[0] in once}
    children: dict[str, subprocess.Popen] = {}
    restarts: dict[str, float] = {}
    stopping = False

    def start(name):
        command, environment = commands[name]
        children[name] = subprocess.Popen(command, env=environment)

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        for name in commands:
            start(name)
        if settings.multi_city:
            print(f"Pantau ({', '.join(settings.cities)}) is running: http://{settings.host}:{settings.port}/  "
                  f"(a city: /{settings.cities[0]}/wall, every city: /overview). Ctrl-C stops everything.",
                  flush=True)
        else:
            print(f"Pantau ({settings.city}) is running: http://{settings.host}:{settings.port}/  "
                  f"(wall: /wall, health: /healthz). Ctrl-C stops everything.", flush=True)
        redis_restarts = 0.0
        while not stopping:
            time.sleep(0.5)
            if embedded is not None and embedded.died() and not stopping:
                # Same port and password, so every child's REDIS_URL still holds; they reconnect.
                wait = 0.0 if time.monotonic() - redis_restarts > 30 else 2.0
                log.warning("embedded Redis exited with %s; restarting in %.0f s", embedded.process.poll(), wait)
                time.sleep(wait)
                redis_restarts = time.monotonic()
                try:
                    embedded.restart()
                except RedisUnavailable as err:
                    log.error("embedded Redis did not come back: %s", err)
            for name, child in list(children.items()):
                code = child.poll()
                if name in seeding and code is not None and not stopping:
                    if code != 0:
                        log.warning("%s exited with %s (the city starts as it is)", name, code)
                    del children[name]
                    for later in seeding.pop(name):
                        commands[later] = after_once[later]
                        start(later)
                    continue
                if code is not None and not stopping:
                    wait = 1.0 if time.monotonic() - restarts.get(name, 0) > 30 else 5.0
                    log.warning("%s exited with %s; restarting in %.0f s", name, code, wait)
                    time.sleep(wait)
                    restarts[name] = time.monotonic()
                    start(name)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        if embedded is not None:
            embedded.stop()
        print("Pantau stopped.", flush=True)
    return 0


def main(argv=None) -> int:
    logging.basicConfig(level=log_level(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="the whole stack on embedded defaults").set_defaults(func=run)
    sub.add_parser("serve", help="the web server only").set_defaults(func=serve)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
