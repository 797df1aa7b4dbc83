"""The officer's phone is installable and works offline (app/pwa.py): its service worker is served
from /tugas/sw.js allowed to control /tugas, without a session (it carries no data), never from a
stale HTTP cache; its manifest is named in the officer's language; a screen without a worker is a
404; on a several-city install every path is under the city's mount."""
from app.factory import create_app
from app.services import Services
from tests.conftest import make_settings


def _app(tmp_path, redis_url, sqlite_url, **extra):
    settings = make_settings(tmp_path, redis_url, sqlite_url, **extra)
    services = Services.open(settings)
    app = create_app(settings, services)
    app.config["TESTING"] = True
    return app, services


def test_worker_and_manifest_of_one_city(tmp_path, redis_url, sqlite_url):
    app, services = _app(tmp_path, redis_url, sqlite_url)
    try:
        client = app.test_client()
        worker = client.get("/tugas/sw.js")
        assert worker.status_code == 200 and worker.mimetype == "text/javascript"
        assert worker.headers["Service-Worker-Allowed"] == "/tugas"
        assert worker.headers["Cache-Control"] == "no-cache"
        assert "Set-Cookie" not in worker.headers              # no session is read or made
        assert b"pantau-tugas-" in worker.data and b"_dash-update-component" in worker.data
        manifest = client.get("/tugas/manifest.webmanifest?lang=en").get_json(force=True)
        assert manifest["name"] == "Pantau — Field tasks" and manifest["lang"] == "en"
        assert manifest["start_url"] == manifest["scope"] == "/tugas"
        assert [i["src"] for i in manifest["icons"]] == ["/assets/tugas-icon-192.png", "/assets/tugas-icon-512.png"]
        for icon in manifest["icons"]:
            assert client.get(icon["src"]).status_code == 200
        assert client.get("/tugas/manifest.webmanifest").get_json(force=True)["short_name"] == "Tugas"
        assert client.get("/lapor/sw.js").status_code == 404             # /lapor has its own: /lapor-sw.js
        assert client.get("/lacak/manifest.webmanifest").status_code == 404
        # The worker is no page script: Dash's pages never load it.
        page = client.get("/login").get_data(as_text=True)
        assert "tugas-sw.js" not in page and "lapor-sw.js" not in page
    finally:
        services.close()


def test_worker_and_manifest_under_a_city_mount(tmp_path, redis_url, sqlite_url):
    app, services = _app(tmp_path, redis_url, sqlite_url, cities=("jakarta", "kupang"))
    try:
        client = app.test_client()
        worker = client.get("/kupang/tugas/sw.js")
        assert worker.status_code == 200
        assert worker.headers["Service-Worker-Allowed"] == "/kupang/tugas"
        manifest = client.get("/kupang/tugas/manifest.webmanifest").get_json(force=True)
        assert manifest["start_url"] == manifest["scope"] == "/kupang/tugas"
        assert manifest["icons"][0]["src"] == "/kupang/assets/tugas-icon-192.png"
        assert client.get(manifest["icons"][0]["src"]).status_code == 200
    finally:
        services.close()
