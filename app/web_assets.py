"""What a page downloads: per-page bundles, compressed answers, long-lived static files.

Dash puts every component library and every file of ``assets/`` on every page. The citizen
screens (/lapor, /lacak) are opened on cheap phones over 3G, so their first load leaves out
what they do not use: the wall's scripts and styles (``wall.js``, h3-js, socket.io), the kiosk's,
the data table, Bootstrap's components (the citizen screens use Bootstrap's CSS classes on plain
elements, from the theme's share they use: ``app/citizen_css.py``) and the core-js polyfill (every browser the form supports has what it fills in).
The map library (dash-leaflet) is fetched only when the citizen opens the map
(``window.pantauLazy``, ``assets/lapor.js``).
Their page also carries the screen's first layout, drawn ahead, and the page's own callbacks
(``pantau-first-layout``, ``pantau-first-dependencies``; ``callbacks/router.py`` draws them): Dash's
renderer gets them from the page's script instead of two requests, and the router need not run,
so nothing waits on a round trip between the bundles and a usable screen.

A citizen screen therefore must not render a component of a library left out here: the tests
(``tests/layouts/test_lapor_phone.py``) check the layouts' namespaces.

Answers are compressed with Brotli or gzip (Flask-Compress, at a level fast enough for a request).
Static files (component bundles, assets) are compressed ahead of time at the highest levels
(``precompress``: ``python -m app serve`` starts it in a process of its own at idle priority,
``make precompress`` at build time) into a folder keyed by each file's content hash, shared by every worker; a request only reads
the ready copy. Brotli 11 inside a request made a worker's first /lapor take 15.9 s on 3G (about a
second per bundle on a loaded machine); until a copy is ready the file is sent at level 5 (kept per
process). An asset whose URL carries Dash's ``?m=<mtime>`` fingerprint is cached by browsers for a
year (``immutable``).
"""
from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import brotli
import dash
from dash._utils import to_json
from flask import Flask, g, request
from flask_compress import Compress

from app import pwa
from config.settings import Settings

log = logging.getLogger(__name__)
LIGHT_PATHS = ("/lapor", "/lacak")
# Left out of the citizen screens' pages (matched against the script's or stylesheet's URL).
LEFT_OUT = re.compile(r"/dash_table/|/dash_bootstrap_components/|/dash_leaflet/|/deps/polyfill@"
                      r"|/assets/(wall|kiosk|dispatch|tugas)[^/]*$|/assets/vendor/"
                      r"|/assets/00-bootstrap-darkly")   # the theme's share they use instead: citizen-bootstrap
# The citizen screens' own files, left out of every other page: their share of the theme
# (app/citizen_css.py) and their first-load handover (assets/citizen-first-load.js).
CITIZEN_ONLY = re.compile(r"/assets/citizen-(bootstrap|first-load)")
# Each citizen screen leaves out the other's scripts.
LEFT_OUT_ON = {"/lapor": re.compile(r"/assets/lacak[^/]*\.js$"), "/lacak": re.compile(r"/assets/lapor[^/]*\.js$")}
# Fetched by the page itself when needed: {namespace: URL pattern}.
LAZY = {"dash_leaflet": re.compile(r"/dash_leaflet/")}
LIGHT_NAMESPACES = ("dash_html_components", "dash_core_components")
# The officer's phone (/tugas, layouts/tugas.py), opened over 3G too: only what its screens draw. The
# list has no map (dash-leaflet only on a task's own page, /tugas/<ticket>); neither uses Bootstrap's
# components, the data table, the polyfill nor the other screens' files.
OFFICER_PATH = "/tugas"
OFFICER_LEFT_OUT = re.compile(r"/dash_table/|/dash_bootstrap_components/|/deps/polyfill@"
                              r"|/assets/(wall|kiosk|dispatch|lapor|lacak|citizen)[^/]*$|/assets/vendor/")
OFFICER_LIST_LEFT_OUT = re.compile(r"/dash_leaflet/")
STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/")
YEAR = 31536000


def is_light_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def is_light(path: str) -> bool:
    return any(is_light_under(path, p) for p in LIGHT_PATHS)


def _url_of(src) -> str:
    return (src.get("src") or src.get("href") or "") if isinstance(src, dict) else str(src)


class PantauDash(dash.Dash):
    """Dash with a lighter page for the citizen screens (see the module's text), and the page's
    language on ``<html lang>`` (``?lang=``, else the city's)."""

    default_language = "id"

    def interpolate_index(self, **kwargs):
        html = super().interpolate_index(**kwargs)
        try:
            lang = request.args.get("lang")
        except RuntimeError:
            lang = None
        lang = lang if lang in ("id", "en") else self.default_language
        html = html.replace("<html>", f'<html lang="{lang}">', 1)
        try:
            installable = is_light_under(request.path, "/lapor")
        except RuntimeError:
            installable = False
        if installable:
            # The form can be installed on the phone's home screen (app/web_lapor.py: the manifest).
            html = html.replace("</head>", f'<link rel="manifest" href="/lapor/manifest.webmanifest?lang={lang}">'
                                '<meta name="theme-color" content="#375a7f"></head>', 1)
        try:
            links = pwa.head_links(request.path)      # the officer's phone (/tugas): its manifest
        except RuntimeError:
            links = ""
        return html.replace("</head>", links + "</head>", 1) if links else html

    def _light(self) -> bool:
        try:
            return is_light(request.path)
        except RuntimeError:   # outside a request
            return False

    def _collect_and_register_resources(self, resources, include_async=True, url_attr="src"):
        # Every resource is still registered (so it can be served, also lazily); the light pages
        # only leave some out of their HTML.
        srcs = super()._collect_and_register_resources(resources, include_async, url_attr)
        try:
            path = request.path
        except RuntimeError:
            path = ""
        if is_light_under(path, OFFICER_PATH):
            return [src for src in srcs if not OFFICER_LEFT_OUT.search(_url_of(src).split("?", 1)[0])
                    and not (path == OFFICER_PATH and OFFICER_LIST_LEFT_OUT.search(_url_of(src).split("?", 1)[0]))]
        if not self._light():
            return [src for src in srcs if not CITIZEN_ONLY.search(_url_of(src).split("?", 1)[0])]
        kept = []
        screen = next((pattern for path, pattern in LEFT_OUT_ON.items() if is_light_under(request.path, path)), None)
        for src in srcs:
            url = _url_of(src)
            if screen is not None and screen.search(url.split("?", 1)[0]):
                continue
            if LEFT_OUT.search(url.split("?", 1)[0]):
                for namespace, pattern in LAZY.items():
                    if pattern.search(url):
                        urls = g.setdefault("pantau_lazy", {}).setdefault(namespace, [])
                        if url not in urls:
                            urls.append(url)
                continue
            kept.append(src)
        return kept

    # Set by the router (callbacks/router.py): ``first_page(pathname, search)`` answers the whole
    # layout with that screen drawn ahead, and the callbacks that page needs.
    first_page = None

    def _generate_scripts_html(self) -> str:
        html = super()._generate_scripts_html()
        if self._light():
            # Before the renderer and the screens' scripts: where to fetch a library left out.
            lazy = _data_block(json.dumps(g.get("pantau_lazy", {})))
            # Data, not script: the Content-Security-Policy runs no inline script but Dash's own.
            html = f'<script type="application/json" id="pantau-lazy">{lazy}</script>\n' + html
            html += self._first_load_blocks()
        return html

    def _first_load_blocks(self) -> str:
        """The screen's layout (drawn ahead) and the callbacks, as Dash would fetch them at start
        (``_dash-layout``, ``_dash-dependencies``): the screen's script hands them to the renderer,
        which then needs no round trip before the screen is usable (about 0.7 s on 3G)."""
        if self.first_page is None:
            return ""
        query = request.query_string.decode("latin-1")
        layout, callbacks = self.first_page(request.script_root + request.path, f"?{query}" if query else "")
        if self._extra_components:      # as Dash's own get_layout() does
            layout = dash.html.Div(children=[layout] + self._extra_components)
        for hook in self._hooks.get_hooks("layout"):
            layout = hook(layout)
        return "".join(f'<script type="application/json" id="pantau-first-{name}">{_data_block(to_json(value))}</script>\n'
                       for name, value in (("layout", layout), ("dependencies", callbacks)))


def _data_block(text: str) -> str:
    """JSON safe inside a ``<script>`` element (``</`` could end it)."""
    return text.replace("</", "<\\/")


class _StaticCache:
    """Flask-Compress's cache: keeps the (level 5) compressed body of static files only (keys from
    ``_cache_key``) until their precompressed copy is ready; dynamic answers pass through."""

    def __init__(self):
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: bytes) -> None:
        if "static:" in key:
            self.data.setdefault(key, value)


# -- compressed ahead of time ------------------------------------------------------------------------
ASSETS = Path(__file__).resolve().parents[1] / "assets"
ENCODINGS = {"br": ".br", "gzip": ".gz"}
PRECOMPRESS_SUFFIXES = (".js", ".css", ".json", ".svg", ".ico", ".webmanifest")
PRECOMPRESS_MAX_BYTES = 1_200_000    # the two bundles past it (plotly, mathjax) no citizen screen loads


def compressed_dir(settings) -> Path:
    return Path(settings.data_dir) / "static-compressed"


def static_files() -> list[Path]:
    """The files Dash and ``assets/`` may serve that are worth compressing ahead of time: minified
    bundles of the component libraries in use and our own assets (no development builds)."""
    import dash_bootstrap_components
    import dash_leaflet

    roots = [Path(dash.__file__).parent, Path(dash_leaflet.__file__).parent,
             Path(dash_bootstrap_components.__file__).parent, ASSETS]
    found = []
    for root in roots:
        for path in root.rglob("*"):
            name = path.name
            if (path.suffix in PRECOMPRESS_SUFFIXES and ".dev." not in name and "/tests/" not in str(path)
                    and not (path.suffix == ".js" and ".min." not in name
                             and path.with_name(name[:-3] + ".min.js").exists())
                    and path.is_file() and 500 <= path.stat().st_size <= PRECOMPRESS_MAX_BYTES):
                found.append(path)
    return sorted(found)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def precompress(folder: Path, files: list[Path] | None = None) -> int:
    """Brotli 11 and gzip 9 copies of ``files`` (default ``static_files()``) in ``folder``, named by
    content hash; the copies already there are kept. Answers how many files were compressed now."""
    folder.mkdir(parents=True, exist_ok=True)
    made = 0
    for path in files if files is not None else static_files():
        data = path.read_bytes()
        digest = _digest(data)
        for encoding, suffix in ENCODINGS.items():
            target = folder / (digest + suffix)
            if target.exists():
                continue
            body = brotli.compress(data, quality=11) if encoding == "br" else gzip.compress(data, 9, mtime=0)
            partial = target.with_name(f"{target.name}.{os.getpid()}.part")
            partial.write_bytes(body)
            os.replace(partial, target)     # atomic: a worker never reads half a copy
            made += 1
    return made


def missing(folder: Path, files: list[Path] | None = None) -> list[Path]:
    """The files of ``files`` (default ``static_files()``) with a copy not yet in ``folder``."""
    wanted = files if files is not None else static_files()
    return [path for path in wanted
            if not all((folder / (_digest(path.read_bytes()) + suffix)).exists() for suffix in ENCODINGS.values())]


def _idle_priority() -> None:
    """In the compressor's process: run only on CPU nobody else wants (Linux ``SCHED_IDLE``),
    else at the lowest ``nice``."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (OSError, AttributeError):
        try:
            os.nice(19)
        except OSError:
            pass


def precompress_in_background(folder: Path, files: list[Path] | None = None) -> subprocess.Popen | None:
    """``python -m app.web_assets folder [files]`` in a process of its own at idle priority, unless
    nothing is missing or another process holds the folder's lock (one per folder at a time); the
    lock is handed to the child and released when it ends. None when no process was started.

    A process, not a thread of a web worker: a low-priority thread that holds a worker's GIL when
    the CPU is busy stalls every request of that worker until the scheduler gives it a turn
    (measured: the Open311 intake's p99 and throughput fell with the thread running)."""
    folder.mkdir(parents=True, exist_ok=True)
    todo = missing(folder, files)
    if not todo:
        return None
    lock = open(folder / ".lock", "w")   # noqa: SIM115 (handed to the child)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return None
        command = [sys.executable, "-m", "app.web_assets", str(folder), *(str(path) for path in todo)]
        return subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1],
                                stdout=subprocess.DEVNULL, pass_fds=(lock.fileno(),), preexec_fn=_idle_priority)
    finally:
        lock.close()     # the child holds its copy of the lock until it ends


class _Precompressed:
    """The ready copies of one process: read from ``folder`` once found, by content hash."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.found: dict[tuple[str, str], bytes] = {}

    def get(self, data: bytes, encoding: str) -> bytes | None:
        if self.folder is None:
            return None
        key = (_digest(data), encoding)
        body = self.found.get(key)
        if body is None:
            try:
                body = (self.folder / (key[0] + ENCODINGS[encoding])).read_bytes()
            except OSError:
                return None
            self.found[key] = body
        return body


def _accepted(header: str) -> str | None:
    offered = {part.split(";", 1)[0].strip().lower(): ("q=0" not in part.replace(" ", ""))
               for part in (header or "").split(",")}
    for encoding in ENCODINGS:
        if offered.get(encoding):
            return encoding
    return None


def _cache_key(req) -> str:
    if req.method == "GET" and req.path.startswith(STATIC_PREFIXES):
        return "static:" + req.full_path
    return "dynamic"


def install(server: Flask, folder: Path | None = None) -> None:
    """Compression and cache lifetimes on ``server``'s answers; ``folder``: the copies compressed
    ahead of time (``precompress``), if any."""
    ready = _Precompressed(folder)
    server.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"], COMPRESS_BR_LEVEL=5, COMPRESS_LEVEL=6, COMPRESS_MIN_SIZE=500,
        COMPRESS_MIMETYPES=["text/html", "text/css", "text/plain", "text/javascript", "application/javascript",
                            "application/json", "application/geo+json", "image/svg+xml",
                            "application/manifest+json"],
        COMPRESS_CACHE_BACKEND=_StaticCache, COMPRESS_CACHE_KEY=_cache_key,
        COMPRESS_STREAMS=False)

    @server.after_request
    def _cache_lifetimes(response):
        # Registered before Compress's hook, so it runs after it (Flask runs them in reverse).
        if request.path.startswith("/assets/") and request.args.get("m") and response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        elif request.path.startswith("/_dash-component-suites/") and response.status_code == 200 \
                and "max-age" in (response.headers.get("Cache-Control") or ""):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        return response

    Compress(server)

    @server.after_request
    def _buffer_static(response):
        # Registered after Compress's hook, so it runs before it: a static file is sent as a stream
        # (send_file), which Compress would not cache; buffered here, it is compressed once and kept.
        if request.path.startswith(STATIC_PREFIXES) and response.status_code == 200 and response.is_streamed:
            response.direct_passthrough = False
            response.make_sequence()
        if request.path.startswith(STATIC_PREFIXES) and response.status_code == 200 \
                and "Content-Encoding" not in response.headers and not response.is_streamed:
            encoding = _accepted(request.headers.get("Accept-Encoding", ""))
            body = ready.get(response.get_data(), encoding) if encoding else None
            if body is not None:
                # Compress sees the encoding set and leaves the answer alone.
                response.set_data(body)
                response.headers["Content-Encoding"] = encoding
                response.vary.add("Accept-Encoding")
        return response


def main(argv=None) -> int:
    """``python -m app.web_assets [FOLDER [FILE...]]``: compress the static files (or those named)
    ahead of time; the folder defaults to the settings' data folder's ``static-compressed``."""
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else compressed_dir(Settings.for_command())
    files = [Path(name) for name in argv[1:]] or None
    try:
        made = precompress(folder, files)
    except OSError as err:
        log.warning("static files not compressed ahead of time: %s", err)
        return 1
    print(f"{made} compressed copies made in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
