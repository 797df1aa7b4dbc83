"""The embedded Redis: a real server that keeps every accepted report through a crash of itself,
and a producer that waits out an outage instead of dropping rows."""
import signal
import threading
import time

import redis

from app.store.redis_conn import EmbeddedRedis, connect
from app.store.keys import Keys
from ingest.producer import Producer
from tests.helpers import raw_reports


def test_accepted_entries_survive_sigkill_of_redis(tmp_path, sqlite_services):
    server = EmbeddedRedis(tmp_path / "own-redis").start()
    client = connect(server.url, 5)
    producer = Producer(client, sqlite_services.preset, sqlite_services.areas)
    accepted = producer.submit_many(raw_reports(300)).accepted
    assert len(accepted) == 300
    server.process.send_signal(signal.SIGKILL)          # no shutdown, no final save
    server.process.wait()
    server.port_file.unlink()
    restarted = EmbeddedRedis(tmp_path / "own-redis", port=server.port).start()
    try:
        assert connect(restarted.url, 10).xlen(Keys("jakarta").stream()) == 300
    finally:
        restarted.stop()


def test_producer_waits_out_a_redis_outage_and_loses_nothing(tmp_path, sqlite_services):
    server = EmbeddedRedis(tmp_path / "outage-redis").start()
    port = server.port
    client = redis.Redis.from_url(server.url, decode_responses=True, socket_connect_timeout=0.5)
    producer = Producer(client, sqlite_services.preset, sqlite_services.areas)
    batches = [raw_reports(100, seed=s) for s in range(6)]
    sent = []

    def feed():
        for batch in batches:
            sent.extend(producer.submit_many(batch, retry_for_s=60).accepted)
            time.sleep(0.2)

    thread = threading.Thread(target=feed)
    thread.start()
    time.sleep(0.3)
    server.stop()                                      # Redis goes away mid-feed
    time.sleep(1.5)
    server = EmbeddedRedis(tmp_path / "outage-redis", port=port).start()
    thread.join(timeout=60)
    try:
        assert not thread.is_alive()
        assert len(sent) == 600
        stream = Keys("jakarta").stream()
        ids = {f["report_id"] for _, f in connect(server.url, 5).xrange(stream)}
        assert ids == {r.id for r in sent}             # every accepted report is there (repeats dedupe later)
    finally:
        server.stop()
