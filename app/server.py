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

A WebSocket holds its thread for its whole life, so a push connection is handed a thread of its
own (``HttpPool``): the ``PANTAU_WEB_THREADS`` answering HTTP stay as many whatever the walls hold,
and push connections are capped per process (``PANTAU_SOCKETS_PER_PROCESS``, independent of the
HTTP threads) and per display token or staff account (``app.live.SocketGate``). The HTTP threads
are few on purpose: each thread more running requests at once is one more waiting for the
process's GIL, and the intake measured ~15 % fewer POSTs a second with 25 at once than with 16
(bench/api.py); a queued request waits for a thread instead, at no cost.

Each worker builds its own app after the fork (no ``preload_app``): Redis and
SQL connections and the relay thread are never shared across a fork.
"""
from __future__ import annotations

import gc
import logging
import queue
import threading
from concurrent.futures import Future

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from config.settings import Settings

log = logging.getLogger(__name__)


class _PoolThread(threading.Thread):
    def __init__(self, pool: "HttpPool"):
        super().__init__(name="pantau-http", daemon=True)
        self.pool = pool
        self.handed_over = False

    def hand_over(self) -> None:
        """This thread now holds a long-lived connection (a WebSocket): a new thread takes its place
        among the HTTP threads, and this one ends with the connection (``app.live.SocketGate``)."""
        if not self.handed_over:
            self.handed_over = True
            self.pool.spawn()

    def run(self) -> None:
        while True:
            item = self.pool.work.get()
            if item is None:              # shut down: pass it on to the next thread
                self.pool.work.put(None)
                return
            future, fn, args = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as err:  # noqa: BLE001  handed to gunicorn's callback, as an executor does
                    future.set_exception(err)
                else:
                    future.set_result(result)
            del item, future
            if self.handed_over:
                return


class HttpPool:
    """gunicorn's thread pool (``submit``/``shutdown``) with ``threads`` threads for HTTP, plus one
    more for each push connection while it is open."""

    def __init__(self, threads: int):
        self.work: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(threads):
            self.spawn()

    def spawn(self) -> None:
        _PoolThread(self).start()

    def submit(self, fn, *args) -> Future:
        future: Future = Future()
        self.work.put((future, fn, args))
        return future

    def shutdown(self, wait: bool = True) -> None:
        self.work.put(None)


class PantauThreadWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker on ``HttpPool``."""

    def get_thread_pool(self):
        return HttpPool(self.cfg.threads)


class PantauServer(BaseApplication):
    def __init__(self, settings: Settings, bind: str | None = None, workers: int | None = None,
                 threads: int | None = None):
        self.settings = settings
        self.options = {
            "bind": bind or f"{settings.host}:{settings.port}",
            "workers": workers or settings.resolved_web_workers(),
            "threads": threads or settings.web_threads,
            "worker_class": PantauThreadWorker,
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
