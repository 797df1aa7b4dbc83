"""wsgi.py serves the Dash pages, the API and the ops endpoints from one WSGI app."""
import importlib
import sys


def test_wsgi_serves_dash_and_ops(tmp_path, redis_url, sqlite_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PANTAU_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    sys.modules.pop("wsgi", None)
    wsgi = importlib.import_module("wsgi")
    client = wsgi.app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and b"_dash-config" in page.data
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["ok"] is True
    metrics = client.get("/metrics")
    assert b"pantau_stream_length" in metrics.data
    wsgi.app.extensions["pantau"].close()
