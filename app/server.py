"""The production web server: gunicorn, several worker processes, threads in each.

Why gunicorn: Python runs one thread at a time per process, so one process
serves at most one core; the Open311 intake and the wall's push both need
every core of the machine. gunicorn's ``gthread`` worker is the server
Flask-SocketIO documents for its threading mode (the push connection is a
WebSocket held by one thread; idle keep-alive connections hold none).

Several processes and Socket.IO agree because

* the wall connects over WebSocket only (``assets/wall.js``), so a display's
  whole session lives on one connection in one process: no sticky sessions;
* every process runs its own relay on the aggregator's Redis channel and
  pushes to its own displays (``app.live``);
* sessions are signed cookies with one secret, made before the workers start.

A WebSocket holds its thread for its whole life, so push connections are capped per process
below the thread count (``PANTAU_SOCKETS_PER_PROCESS``, default half the threads) and per display
token or staff account (``app.live.SocketGate``): idle sockets cannot take the threads HTTP needs.

Each worker builds its own app after the fork (no ``preload_app``): Redis and
SQL connections and the relay thread are never shared across a fork.
"""
from __future__ import annotations

import gc
import logging

from gunicorn.app.base import BaseApplication

from config.settings import Settings

log = logging.getLogger(__name__)


class PantauServer(BaseApplication):
    def __init__(self, settings: Settings, bind: str | None = None, workers: int | None = None,
                 threads: int | None = None):
        self.settings = settings
        self.options = {
            "bind": bind or f"{settings.host}:{settings.port}",
            "workers": workers or settings.resolved_web_workers(),
            "threads": threads or settings.web_threads,
            "worker_class": "gthread",
            # A worker that stops answering its master for this long is replaced.
            "timeout": 60,
            # On stop, requests in flight get this long; the walls' push connections would hold a
            # worker until then, and they reconnect to the next server by themselves.
            "graceful_timeout": 5,
            "keepalive": 5,
            "backlog": 2048,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "proc_name": "pantau-web",
        }
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self):
        from app.factory import create_app

        app = create_app(self.settings)
        # The app's ~150,000 long-lived objects (Dash layouts, boundaries, catalogues) leave the
        # garbage collector's view: otherwise each full collection walks them all and stalls every
        # request of the worker for 50-90 ms (measured), the worst of the intake's p99.
        gc.collect()
        gc.freeze()
        return app


def serve(settings: Settings, **options) -> None:
    """Run the web server until SIGTERM/SIGINT (gunicorn stops its workers gracefully)."""
    from app import web_assets

    settings.resolved_secret_key()   # made once here, read by every worker
    # The static files' missing Brotli 11 copies (about 15 s of CPU the first time, nothing once
    # made) are made beside the workers by a process at idle priority (a lock file keeps it one per
    # folder); until a copy is ready, that file is sent at level 5. Not a thread of a worker: when
    # it held the worker's GIL on a busy CPU, every request of that worker waited for it.
    compressor = web_assets.precompress_in_background(web_assets.compressed_dir(settings))
    try:
        PantauServer(settings, **options).run()
    finally:
        if compressor is not None and compressor.poll() is None:
            compressor.terminate()
