"""Fixtures for the stranger's attempts: the real app on a free port, display tokens, staff users."""
import threading

import pytest

from tests.conftest import make_settings


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
