"""Replaying real LA 311 data: per-hex counts equal an independent pandas + h3 computation."""
import subprocess
import sys
import time
import json

import h3
import pandas as pd
import pytest

from app import hexagg, queries
from app.services import Services
from app.store import db
from tests.conftest import ROOT, make_settings, shared_file
from tests.helpers import drain, dump_aggregates

LA_FILE = "la311_2017-12-27_to_2018-01-04.csv"


@pytest.fixture
def la_services(tmp_path, redis_url, sqlite_url):
    shared_file("la_neighborhood_councils_2019.geojson")
    svc = Services.open(make_settings(tmp_path, redis_url, sqlite_url, city="la"))
    yield svc
    svc.close()


def _independent_counts(path, preset, resolution):
    frame = pd.read_csv(path, usecols=["SRNumber", "RequestType", "Latitude", "Longitude"])
    with_coords = frame.dropna(subset=["Latitude", "Longitude"])
    with_coords = with_coords[(with_coords.Latitude != 0) & (with_coords.Longitude != 0)]
    (south, west), (north, east) = preset.bounds
    inside = with_coords[with_coords.Latitude.between(south, north) & with_coords.Longitude.between(west, east)]
    cells = [h3.cell_to_parent(h3.latlng_to_cell(lat, lng, 12), resolution)
             for lat, lng in zip(inside.Latitude, inside.Longitude)]
    return pd.Series(cells).value_counts().to_dict(), len(frame) - len(with_coords), len(with_coords) - len(inside)


def test_la311_replay_matches_pandas_and_counts_skipped_rows(la_services, tmp_path):
    path = shared_file(LA_FILE)
    env = {"REDIS_URL": la_services.redis_url, "DATABASE_URL": la_services.settings.resolved_database_url(),
           "PANTAU_CITY": "la", "PANTAU_BOUNDARIES": str(path.parent), "PANTAU_DATA_DIR": str(tmp_path / "r"),
           "SECRET_KEY": "x", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "ingest", "replay", str(path), "--no-progress"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    drain(la_services, batch_size=2000)

    for resolution in (6, 8, 10):
        expected, no_coords, outside = _independent_counts(path, la_services.preset, resolution)
        got = queries.hex_counts(la_services.redis, la_services.preset, resolution, metric="open")
        got_all = {}
        for field, count in queries.cell_category_counts(la_services.redis, la_services.keys, resolution,
                                                         None).items():
            cell = field.split("|")[0]
            got_all[cell] = got_all.get(cell, 0) + count
        assert got_all == expected
        assert sum(got.values()) <= sum(expected.values())
    assert summary["read"] == 19_999
    assert summary["skipped_by_reason"] == {"no coordinates": no_coords}
    assert summary["refused_by_validation"] == outside
    assert db.count_reports(la_services.engine, "la") == summary["accepted"] == 19_999 - no_coords - outside

    # The same file replayed again counts nothing twice.
    at = time.time() + 300          # both dumps judge "older than a day" against the same moment
    before = dump_aggregates(la_services.redis, la_services.keys, at)
    run = subprocess.run([sys.executable, "-m", "ingest", "replay", str(path), "--no-progress"],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0
    drain(la_services, batch_size=2000)
    assert db.count_reports(la_services.engine, "la") == summary["accepted"]
    total = sum(queries.cell_category_counts(la_services.redis, la_services.keys, 6, None).values())
    assert total == summary["accepted"]
    assert dump_aggregates(la_services.redis, la_services.keys, at) == before


def test_unknown_file_format_is_a_clear_error(la_services, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\nworld\n")
    env = {"REDIS_URL": la_services.redis_url, "DATABASE_URL": la_services.settings.resolved_database_url(),
           "PANTAU_CITY": "la", "PANTAU_DATA_DIR": str(tmp_path / "r"), "SECRET_KEY": "x",
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "ingest", "replay", str(bad)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "not a LA 311 CSV or Open311 JSON/NDJSON file" in run.stderr
