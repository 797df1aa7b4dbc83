"""The report form's plain endpoints (app/web_lapor.py, app/lapor_intake.py), as a phone uses them:
a photo upload in words when refused, a report kept offline sent twice files once, the service
worker and the manifest; every bad request a precise 4xx."""
import io
import json
import os

import pytest
from PIL import Image
from sqlalchemy import func, select

from app import photos, web_assets
from app.factory import create_app
from app.store import db
from tests.helpers import drain


@pytest.fixture
def app(sqlite_services):
    return create_app(sqlite_services.settings, sqlite_services)


def _token(client) -> str:
    answer = client.get("/lapor/token")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    return answer.get_json()["token"]


def _jpeg(size=(1600, 1200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 140, 60)).save(out, "JPEG")
    return out.getvalue()


def _upload(client, data: bytes, token, lang="id", name="foto.jpg"):
    return client.post(f"/lapor/photo?lang={lang}", data={"token": token, "photo": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_photo_is_uploaded_pending_and_refused_in_the_citizens_words(app, sqlite_services):
    client = app.test_client()
    token = _token(client)
    answer = _upload(client, _jpeg(), token)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert photos.is_ref(body["ref"]) and body["preview"].startswith("data:image/jpeg;base64,")
    assert body["message"].startswith("Foto terlampir")
    # Pending until its report is filed: never served.
    assert photos.photo_path(sqlite_services.settings, body["ref"], pending=True).is_file()
    assert client.get(f"/photos/{body['ref']}").status_code == 404
    # Not an image: 415, in the citizen's language, never "photo: rule".
    refused = _upload(client, b"bukan gambar" * 50, token, lang="en")
    assert refused.status_code == 415
    assert refused.get_json()["message"].startswith("This file is not a JPEG")
    # Past the limit: 413 without decoding it.
    big = _upload(client, b"\xff\xd8\xff" + b"\0" * photos.MAX_BYTES, token)
    assert big.status_code == 413 and big.get_json()["message"].startswith("Foto terlalu besar")
    # No form visit, no file: precise 400s.
    assert _upload(client, _jpeg((20, 20)), "made.up.token").status_code == 400
    assert client.post("/lapor/photo", data={"token": token}).status_code == 400


def _kept(token, **extra):
    body = {"token": token, "key": "k" * 8 + "0123456789abcdef", "category": "flooding", "lat": -6.1268,
            "lng": 106.7930, "description": "Air setinggi lutut (dikirim tanpa sinyal)"}
    body.update(extra)
    return body


def test_a_report_kept_offline_sent_twice_files_once_with_its_photo(app, sqlite_services):
    client = app.test_client()
    token = _token(client)
    ref = _upload(client, _jpeg(), token).get_json()["ref"]
    body = _kept(token, photo=ref, phone="0812 3456 7890")
    first = client.post("/lapor/send?lang=en", json=body)
    assert first.status_code == 201, first.get_json()
    answer = first.get_json()
    assert answer["ticket"].startswith("JKT-") and answer["heading"] == "Report received. Your ticket number:"
    assert answer["track"].startswith(f"/lacak/{answer['ticket']}?lang=en#k=")
    # The answer was lost on a bad network: the phone sends it again, with a new visit.
    again = client.post("/lapor/send?lang=en", json={**body, "token": _token(client)})
    assert again.status_code == 201 and again.get_json() == answer
    drain(sqlite_services)
    with sqlite_services.engine.connect() as conn:
        rows = conn.execute(select(db.reports.c.id, db.reports.c.photos)
                            .where(db.reports.c.description == body["description"])).all()
    assert len(rows) == 1
    assert ref in json.dumps(rows[0].photos if not isinstance(rows[0].photos, str) else rows[0].photos)
    assert photos.photo_path(sqlite_services.settings, ref).is_file()   # attached: kept for good


def test_a_kept_report_is_refused_in_words_per_field_and_bad_bodies_get_a_400(app, sqlite_services):
    client = app.test_client()
    token = _token(client)
    refused = client.post("/lapor/send?lang=id", json=_kept(token, category=None, lat=None, phone="abc"))
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]
    assert set(errors) == {"category", "location", "phone"}
    assert not any(":" in e.split(" ")[0] for e in errors.values())   # words, never "field: rule"
    outside = client.post("/lapor/send?lang=en", json=_kept(token, lat=-7.8, lng=110.4)).get_json()["errors"]
    assert "outside DKI Jakarta" in outside["location"]
    for bad in (None, [], _kept("made.up.token"), _kept(token, key="short"), _kept(token, lat="-6.1"),
                _kept(token, lat=float("nan")), _kept(token, description=123),
                _kept(token, photo="../../etc/passwd")):
        answer = client.post("/lapor/send", data=json.dumps(bad), content_type="application/json")
        assert answer.status_code == 400, (bad, answer.get_json())
    assert client.post("/lapor/send", data="{", content_type="application/json").status_code == 400
    expired = client.post("/lapor/send", json=_kept(token, photo="0" * 32 + ".jpg"))
    assert expired.status_code == 410 and "Unggah foto lagi" in expired.get_json()["message"]


def test_the_service_worker_and_the_manifest(app):
    client = app.test_client()
    worker = client.get("/lapor-sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache" and b"addEventListener(\"fetch\"" in worker.data
    manifest = client.get("/lapor/manifest.webmanifest?lang=en")
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.get_json(force=True)
    assert body["start_url"] == "/lapor?lang=en" and body["scope"] == "/lapor" and body["display"] == "standalone"
    assert body["name"] == "Report to DKI Jakarta" and {i["sizes"] for i in body["icons"]} == {"192x192", "512x512"}
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    page = client.get("/lapor?lang=en").get_data(as_text=True)
    assert '<link rel="manifest" href="/lapor/manifest.webmanifest?lang=en">' in page
    assert "lapor-sw.js" not in page   # registered by the page, never run as a page script


def test_static_files_are_sent_from_their_copies_compressed_ahead_of_time(sqlite_services, tmp_path):
    folder = web_assets.compressed_dir(sqlite_services.settings)
    css = web_assets.ASSETS / "lapor.css"
    assert web_assets.precompress(folder, [css]) == 2 and web_assets.precompress(folder, [css]) == 0
    digest = web_assets._digest(css.read_bytes())
    marked = b"/* the copy made ahead of time */"
    (folder / f"{digest}.br").write_bytes(__import__("brotli").compress(css.read_bytes() + marked))
    client = create_app(sqlite_services.settings, sqlite_services).test_client()
    answer = client.get("/assets/lapor.css?m=1", headers={"Accept-Encoding": "gzip, br"})
    assert answer.headers["Content-Encoding"] == "br"
    assert __import__("brotli").decompress(answer.data).endswith(marked)
    assert "immutable" in answer.headers["Cache-Control"]
    gz = client.get("/assets/lapor.css?m=1", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    # A file with no copy yet is still compressed (at a level fast enough for a request).
    other = client.get("/assets/lacak.js?m=1", headers={"Accept-Encoding": "br"})
    assert other.headers["Content-Encoding"] == "br"


def test_one_process_at_a_time_compresses_ahead_of_time(tmp_path):
    folder = tmp_path / "static-compressed"
    files = [web_assets.ASSETS / "lapor.js", web_assets.ASSETS / "lacak.js"]
    first = web_assets.precompress_in_background(folder, files)
    assert first is not None
    # Its own process at idle priority: never a thread holding a web worker's GIL.
    assert first.pid != os.getpid()
    try:
        assert os.sched_getscheduler(first.pid) == os.SCHED_IDLE or os.getpriority(os.PRIO_PROCESS, first.pid) == 19
    except ProcessLookupError:
        pass    # already done
    # While it holds the folder's lock, no second compressor starts.
    assert web_assets.precompress_in_background(folder, files) is None or first.poll() is not None
    assert first.wait(timeout=120) == 0
    assert len(list(folder.glob("*.br"))) == 2 and len(list(folder.glob("*.gz"))) == 2
    assert web_assets.missing(folder, files) == []
    # Nothing missing: no process at all.
    assert web_assets.precompress_in_background(folder, files) is None
    (folder / (web_assets._digest(files[0].read_bytes()) + ".br")).unlink()
    again = web_assets.precompress_in_background(folder, files)   # the lock is free again
    assert again is not None and again.wait(timeout=60) == 0
    assert web_assets.missing(folder, files) == []
