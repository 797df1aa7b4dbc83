"""Fixtures for the stranger's attempts: the real app (real Redis, real SQLite), an Open311 key,
the app on a free port for sockets, display tokens."""
import threading

import pytest

from app.followup import change_status
from app.open311 import api_keys
from tests.conftest import make_settings


@pytest.fixture
def public_app(sqlite_services):
    """(test client, services, Open311 key) with the app built from the test's settings."""
    from app.factory import create_app

    server = create_app(sqlite_services.settings, sqlite_services)
    server.config["TESTING"] = True
    _, secret = api_keys.create_key(sqlite_services.engine, "stranger test")
    return server.test_client(), sqlite_services, secret


def resolve(services, report_id, note="Sudah ditangani"):
    """Move a report to resolved as staff would (the after photo aside)."""
    from sqlalchemy import select

    from app.store import db

    with services.engine.connect() as conn:
        version = conn.execute(select(db.reports.c.version).where(db.reports.c.id == report_id)).scalar_one()
    for status, actor, fields, text in (("verified", "operator:oper1", {}, None),
                                        ("dispatched", "supervisor:super1", {"agency": "DLH"}, None),
                                        ("resolved", "agency_officer:dlh1", {}, note)):
        version = change_status(services.engine, services.producer, report_id, status, actor, note=text,
                                expected_version=version, **fields)["version"]


def page_text(component) -> str:
    """Every string in a Dash layout tree (children and props), for "does X appear" checks."""
    import json

    from plotly.utils import PlotlyJSONEncoder

    return json.dumps(component, cls=PlotlyJSONEncoder, ensure_ascii=False)


@pytest.fixture
def wall_server(tmp_path, redis_url, sqlite_url):
    """The real web app (Flask + Dash + Socket.IO) on a free loopback port, with quick socket checks."""
    from werkzeug.serving import make_server

    from app.factory import create_app
    from app.services import Services

    settings = make_settings(tmp_path, redis_url, sqlite_url, display_check_s=1.0, socket_join_s=2.0,
                             sockets_per_address=4)
    services = Services.open(settings)
    server = create_app(settings, services)
    httpd = make_server("127.0.0.1", 0, server, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server.config["BASE_URL"] = f"http://127.0.0.1:{httpd.server_port}"
    yield server
    server.extensions["pantau_socket_watch"].stop()
    server.extensions["pantau_live"].stop()
    httpd.shutdown()
    services.close()


def display_token(services, name="Ruang kontrol 1") -> tuple[str, str]:
    """A display token made as the CLI makes it: (display id, token)."""
    from app.auth import displays

    record, token = displays.create_display(services.engine, services.preset.slug, name)
    return record.display_id, token
