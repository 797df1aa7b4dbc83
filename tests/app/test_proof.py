"""Proof of work: presence at the site, original photos, capture time, self-service — through the staff
API as an officer's phone sends them, against the real database."""
import io
import json
import random

from PIL import Image
from sqlalchemy import select

from app import proof
from app.store import db
from tests.app.staff.conftest import as_user, seed, staff_app  # noqa: F401  fixtures
from tests.app.staff.test_staff_permissions import DISPATCHED_DLH, to_state


def photo(seed_no: int, taken: str | None = None, size=(320, 240)) -> bytes:
    """A photo of its own (random blocks: a perceptual hash of its own), optionally with an EXIF time."""
    rng = random.Random(seed_no)
    small = Image.new("RGB", (8, 6))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(48)])
    image = small.resize(size, Image.NEAREST)
    out = io.BytesIO()
    if taken:
        exif = Image.Exif()
        exif[306] = taken
        image.save(out, "JPEG", quality=90, exif=exif)
    else:
        image.save(out, "JPEG", quality=90)
    return out.getvalue()


def offset(lat, lng, metres_north):
    return lat + metres_north / 111_195.0, lng


def resolve(officer, row, version, data, at=None, accuracy=10, note="Sudah dibersihkan"):
    form = {"version": str(version), "note": note, "photo": (io.BytesIO(data), "sesudah.jpg")}
    if at:
        form.update(lat=str(at[0]), lng=str(at[1]), accuracy=str(accuracy))
    return officer.post(f"/staff/api/reports/{row.id}/resolve?lang=id", data=form, content_type="multipart/form-data")


def flags(services, report_id):
    return [f["kind"] for f in proof.flags_of(services.engine, report_id)]


def test_the_band_index_finds_every_hash_within_seven_bits_and_nothing_beyond(sqlite_services):
    engine = sqlite_services.engine
    rng = random.Random(3)
    base = rng.getrandbits(64)
    for i in range(300):
        proof.index_photo(engine, "jakarta", f"r{i}", f"{i:032x}.jpg", "after", rng.getrandbits(64))
    for bits in range(0, 10):
        value = base
        for position in rng.sample(range(64), bits):
            value ^= 1 << position
        proof.index_photo(engine, "jakarta", "near", f"{1000 + bits:032x}.jpg", "after", value)
    proof.index_photo(engine, "kupang", "other-city", f"{5000:032x}.jpg", "after", base)
    found = proof.similar(engine, "jakarta", base, 7)
    near = sorted(m["distance"] for m in found if m["report_id"] == "near")
    assert near == list(range(0, 8))           # 0..7 bits apart: every one, whatever bands they flip
    assert all(m["report_id"] != "other-city" for m in found)   # one city's photos only
    assert proof.distance(base, base ^ (1 << 63)) == 1 and proof.bands_of(1 << 63)[3] == 1 << 15


def test_presence_counts_the_accuracy_and_never_verifies_a_vague_fix():
    class Row:
        lat, lng = -6.2, 106.8
    at_site = {"lat": offset(-6.2, 106.8, 120)[0], "lng": 106.8, "accuracy": 15}
    assert proof.presence(Row, at_site, 150)["verified"] is True
    assert proof.presence(Row, {**at_site, "lat": offset(-6.2, 106.8, 160)[0]}, 150)["verified"] is True
    far = proof.presence(Row, {**at_site, "lat": offset(-6.2, 106.8, 2000)[0]}, 150)
    assert far["verified"] is False and far["reason"] == "too_far" and 1990 < far["distance_m"] < 2010
    assert proof.presence(Row, {**at_site, "accuracy": 900}, 150)["reason"] == "imprecise"
    assert proof.presence(Row, None, 150)["reason"] == "no_location"


def test_an_officer_resolves_at_the_site_away_from_it_and_with_a_reused_photo(services, as_user):
    rows = seed(services, count=6, categories=["garbage"])
    officer = as_user("dlh1")
    first, second, third, fourth = rows[:4]
    versions = {r.id: to_state(services, r, DISPATCHED_DLH) for r in rows[:4]}

    # Start at the site: the position and its distance are kept with the start.
    started = officer.post(f"/staff/api/reports/{first.id}/start",
                           json={"version": versions[first.id], "lat": first.lat, "lng": first.lng, "accuracy": 8})
    assert started.status_code == 200, started.get_json()
    assert started.get_json()["proof"]["presence"]["verified"] is True

    at_site = offset(first.lat, first.lng, 40)
    done = resolve(officer, first, versions[first.id] + 1, photo(1), at_site)
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "resolved" and body["proof"]["presence"]["verified"] is True
    assert body["proof"]["flags"] == [] and flags(services, first.id) == []

    # 2 km away: saved, and flagged "lokasi tidak terverifikasi" (the default setting flags).
    away = offset(second.lat, second.lng, 2000)
    flagged = resolve(officer, second, versions[second.id], photo(2), away)
    assert flagged.status_code == 200, flagged.get_json()
    assert flagged.get_json()["proof"]["flags"] == ["location_unverified"]
    stored = proof.flags_of(services.engine, second.id)
    assert [f["kind"] for f in stored] == ["location_unverified"] and 1900 < stored[0]["detail"]["distance_m"] < 2100
    # No location at all is just as unverified.
    assert resolve(officer, fourth, versions[fourth.id], photo(4)).get_json()["proof"]["flags"] == \
        ["location_unverified"]

    # The first report's after photo on a third report: refused, in Indonesian, nothing kept.
    before_files = sorted(p.name for p in (services.settings.data_dir / "photos").rglob("*.jpg"))
    refused = resolve(officer, third, versions[third.id], photo(1), offset(third.lat, third.lng, 10))
    assert refused.status_code == 422
    answer = refused.get_json()
    assert answer["field"] == "photo" and answer["message"].startswith("Foto ditolak: foto ini sudah pernah dipakai")
    assert first.ticket in answer["message"]
    assert sorted(p.name for p in (services.settings.data_dir / "photos").rglob("*.jpg")) == before_files
    # ...also when re-encoded smaller (a screenshot of it, a resend through a chat app).
    small = io.BytesIO()
    Image.open(io.BytesIO(photo(1))).resize((200, 150)).save(small, "JPEG", quality=60)
    assert resolve(officer, third, versions[third.id], small.getvalue()).status_code == 422
    r = db.reports
    with services.engine.connect() as conn:
        assert conn.execute(select(r.c.status).where(r.c.id == third.id)).scalar() == "dispatched"

    # Without a photo: refused with the Indonesian text, never resolved with another report's photo.
    missing = officer.post(f"/staff/api/reports/{third.id}/resolve?lang=id",
                           data={"version": str(versions[third.id]), "note": "x"})
    assert missing.status_code == 422 and missing.get_json()["message"].startswith("Pilih atau ambil foto")
    english = resolve(officer, third, versions[third.id], photo(1))
    assert english.status_code == 422
    english = officer.post(f"/staff/api/reports/{third.id}/resolve?lang=en",
                           data={"version": str(versions[third.id]), "photo": (io.BytesIO(photo(1)), "a.jpg")},
                           content_type="multipart/form-data")
    assert english.get_json()["message"].startswith("Photo refused: this photo was used before")
    # The task's detail carries the flags (the phone shows them).
    detail = officer.get(f"/staff/api/reports/{second.id}").get_json()
    assert [f["kind"] for f in detail["proof_flags"]] == ["location_unverified"]


def test_the_citizens_own_before_photo_is_refused(services, as_user):
    from app import photos

    rows = seed(services, count=2, categories=["garbage"])
    row = rows[0]
    before = photos.store_photo(services.settings, photo(7))
    with services.engine.begin() as conn:
        conn.execute(db.reports.update().where(db.reports.c.id == row.id).values(photos=json.dumps([before.ref])))
    version = to_state(services, row, DISPATCHED_DLH)
    answer = resolve(as_user("dlh1"), row, version, photo(7), (row.lat, row.lng))
    assert answer.status_code == 422
    assert answer.get_json()["message"].startswith("Foto ditolak: sama dengan foto sebelum dari warga")


def test_capture_time_before_the_assignment_and_self_service_are_flagged(services, as_user):
    rows = seed(services, count=2, categories=["garbage"])
    row = rows[0]
    with services.engine.begin() as conn:   # a report an officer of DLH filed himself
        conn.execute(db.reports.update().where(db.reports.c.id == row.id)
                     .values(attributes=json.dumps({"filed_by": "dlh1"})))
    version = to_state(services, row, DISPATCHED_DLH)
    answer = resolve(as_user("dlh1"), row, version, photo(9, taken="2020:01:01 09:00:00"), (row.lat, row.lng))
    assert answer.status_code == 200, answer.get_json()
    assert sorted(flags(services, row.id)) == ["photo_before_assignment", "self_service"]


def test_the_refuse_setting_refuses_an_unverified_location(tmp_path, redis_url, sqlite_url):
    from app.auth.users import create_user
    from app.factory import create_app
    from app.services import Services
    from tests.app.staff.conftest import PASSWORD, Staff
    from tests.conftest import make_settings

    services = Services.open(make_settings(tmp_path, redis_url, sqlite_url, proof_location="refuse"))
    try:
        create_user(services.engine, services.preset, "dlh1", PASSWORD, "agency_officer", "DLH")
        server = create_app(services.settings, services)
        server.config["TESTING"] = True
        row = seed(services, count=1, categories=["garbage"])[0]
        version = to_state(services, row, DISPATCHED_DLH)
        officer = Staff(server, "dlh1")
        answer = resolve(officer, row, version, photo(11), offset(row.lat, row.lng, 2000))
        assert answer.status_code == 422
        assert answer.get_json()["message"].startswith("Ditolak: lokasi tidak terverifikasi")
        assert resolve(officer, row, version, photo(11), offset(row.lat, row.lng, 30)).status_code == 200
    finally:
        services.close()


def test_a_resend_with_the_same_idempotency_key_files_once(services, as_user):
    from app.staff import actions

    row = seed(services, count=1, categories=["garbage"])[0]
    version = to_state(services, row, DISPATCHED_DLH)
    officer = as_user("dlh1")

    def send():
        return officer.post(f"/staff/api/reports/{row.id}/resolve", content_type="multipart/form-data",
                            data={"version": str(version), "idempotency_key": "phone-queue-0001",
                                  "lat": str(row.lat), "lng": str(row.lng), "accuracy": "9",
                                  "photo": (io.BytesIO(photo(21)), "a.jpg")})
    first, again = send(), send()
    assert first.status_code == 200 and again.status_code == 200, (first.get_json(), again.get_json())
    assert again.get_json()["repeated"] is True and again.get_json()["version"] == first.get_json()["version"]
    assert [h["action"] for h in actions.history(services.engine, row.id)].count("resolve") == 1
    bad = officer.post(f"/staff/api/reports/{row.id}/start", json={"version": version, "idempotency_key": "x y"})
    assert bad.status_code == 422 and bad.get_json()["field"] == "idempotency_key"


def test_a_citizens_photo_is_hashed_at_intake_and_refused_as_proof(services, as_user):
    from app.factory import create_app
    from app.open311 import api_keys
    from tests.helpers import drain

    server = create_app(services.settings, services)
    server.config["TESTING"] = True
    _, secret = api_keys.create_key(services.engine, "test client")
    row = seed(services, count=1, categories=["garbage"])[0]
    answer = server.test_client().post("/open311/v2/requests.json", content_type="multipart/form-data", data={
        "api_key": secret, "service_code": "garbage", "lat": str(row.lat), "long": str(row.lng),
        "description": "Sampah menumpuk", "media": (io.BytesIO(photo(31)), "sampah.jpg")})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    drain(services)
    ticket = answer.get_json()[0]["service_request_id"]
    with services.engine.connect() as conn:
        filed = conn.execute(select(db.reports).where(db.reports.c.ticket == ticket)).first()
        hashed = conn.execute(select(proof.photo_hashes.c.kind).where(
            proof.photo_hashes.c.report_id == filed.id)).scalars().all()
    assert hashed == ["before"]          # from the upload's own bytes, before its metadata was stripped
    # The citizen's photo of that report, sent as the proof of another one: refused.
    version = to_state(services, row, DISPATCHED_DLH)
    refused = resolve(as_user("dlh1"), row, version, photo(31), (row.lat, row.lng))
    assert refused.status_code == 422 and ticket in refused.get_json()["message"]
