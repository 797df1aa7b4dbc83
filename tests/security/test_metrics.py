"""A stranger reads /metrics (how busy the city is, every consumer's name) from the internet,
directly or through the city's proxy; the operator's scraper still gets it."""
import pytest


def _client(services, **settings):
    from app.factory import create_app

    services.settings = services.settings.with_(**settings)
    return create_app(services.settings, services).test_client()


def test_without_a_token_only_this_machine_reads_metrics(sqlite_services):
    client = _client(sqlite_services)
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 403 and "PANTAU_METRICS_TOKEN" in remote.get_data(as_text=True)
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"},
                         environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert proxied.status_code == 403          # the proxy is local, the client is not
    local = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 200 and "pantau_stream_length" in local.get_data(as_text=True)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic c2NyYXBlcjpzZWNyZXQ=", "Bearer "])
def test_with_a_token_a_missing_or_wrong_one_is_refused_even_from_loopback(sqlite_services, authorization):
    client = _client(sqlite_services, metrics_token="s3cret-scraper-token")
    headers = {"Authorization": authorization} if authorization else {}
    refused = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "pantau_stream" not in refused.get_data(as_text=True)


def test_with_the_token_the_scraper_reads_metrics_from_anywhere(sqlite_services):
    client = _client(sqlite_services, metrics_token="s3cret-scraper-token")
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scraper-token",
                                         "X-Forwarded-For": "198.51.100.7"},
                    environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert ok.status_code == 200 and "pantau_stream_length" in ok.get_data(as_text=True)
    assert ok.headers["Cache-Control"] == "no-store"
