"""``python -m ingest replay FILE --shift-to-now``: a real file's dates moved so that it ends now
(the LA 311 sample of 2017/18 becomes the city's last week), every report by the same offset."""
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.services import Services
from app.store import db
from ingest.sources import RawReport
from ingest.sources.replay import read_records, replay
from tests.conftest import ROOT, make_settings, shared_file
from tests.helpers import drain

LA_FILE = "la311_2017-12-27_to_2018-01-04.csv"


def test_shift_moves_every_report_by_one_offset_to_end_now():
    path = shared_file(LA_FILE)
    original = [r for r in read_records(path) if isinstance(r, RawReport)]
    now = datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)
    sent = []
    stats = replay(path, sent.extend, progress=False, shift_to=now)
    assert stats.submitted == len(sent) == len(original)
    newest = max(r.created_at for r in original)
    assert stats.shift == now - newest
    assert max(r.created_at for r in sent) == now
    # one offset for all: the file's own spacing (its week) and every resolution time are kept
    for before, after in zip(original, sent):
        assert after.source_ref == before.source_ref
        assert after.created_at - before.created_at == stats.shift
        if before.resolved_at is not None:
            assert after.resolved_at - before.resolved_at == stats.shift
    span = max(r.created_at for r in sent) - min(r.created_at for r in sent)
    assert timedelta(days=7) < span < timedelta(days=10)
    with pytest.raises(ValueError):
        replay(path, sent.extend, progress=False, shift_to=datetime(2026, 12, 2, 9, 30))   # naive


@pytest.fixture
def la_services(tmp_path, redis_url, sqlite_url):
    shared_file("la_neighborhood_councils_2019.geojson")
    svc = Services.open(make_settings(tmp_path, redis_url, sqlite_url, city="la"))
    yield svc
    svc.close()


def test_replay_command_shifted_la_sample_becomes_a_live_week(la_services, tmp_path):
    path = shared_file(LA_FILE)
    env = {"REDIS_URL": la_services.redis_url, "DATABASE_URL": la_services.settings.resolved_database_url(),
           "PANTAU_CITY": "la", "PANTAU_BOUNDARIES": str(path.parent), "PANTAU_DATA_DIR": str(tmp_path / "r"),
           "SECRET_KEY": "x", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    before = datetime.now(timezone.utc)
    run = subprocess.run([sys.executable, "-m", "ingest", "replay", str(path), "--shift-to-now", "--no-progress"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["shifted_by_s"] > 8 * 365 * 86400     # from 2018 to now
    drain(la_services, batch_size=2000)
    r = db.reports.c
    with la_services.engine.connect() as conn:
        newest, oldest, count = conn.execute(select(func.max(r.created_at), func.min(r.created_at), func.count())
                                             .where(r.city == "la")).one()
    newest = newest if newest.tzinfo else newest.replace(tzinfo=timezone.utc)
    oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=timezone.utc)
    assert count == summary["accepted"] > 0
    # the file's newest row is filed "now"; the newest the city accepted (inside LA, with a place) just before
    assert before - timedelta(hours=6) <= newest <= datetime.now(timezone.utc)
    assert newest - oldest < timedelta(days=10)
