"""Security headers on every answer, and a session cookie that stays on HTTPS when served over it."""
import pytest


@pytest.fixture
def client(sqlite_services):
    from app.factory import create_app

    sqlite_services.settings = sqlite_services.settings.with_(proxies=1)
    return create_app(sqlite_services.settings, sqlite_services).test_client()


@pytest.mark.parametrize("path", ["/", "/dispatch", "/login", "/wall", "/api/public/summary",
                                  "/open311/v2/services.json", "/healthz"])
def test_every_answer_refuses_framing_sniffing_and_referrer_leaks(client, path):
    response = client.get(path)
    assert response.status_code in (200, 302), (path, response.status_code)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_the_session_cookie_is_secure_over_https(client):
    plain = client.get("/login")
    assert "session=" in plain.headers["Set-Cookie"] and "Secure" not in plain.headers["Set-Cookie"]
    client.delete_cookie("session")
    https = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    cookie = https.headers["Set-Cookie"]
    assert "session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_livez_answers_without_touching_redis_or_sql(client):
    """The liveness probe (and bench/api.py's framework ceiling): 204, no body, the same headers."""
    response = client.get("/livez")
    assert response.status_code == 204 and response.data == b""
    assert response.headers["X-Content-Type-Options"] == "nosniff"
