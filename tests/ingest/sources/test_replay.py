"""Replaying real LA 311 exports and Open311 dumps into the pipeline."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ingest.sources import RawReport, Rejected
from ingest.sources.replay import ReplayStats, read_records, replay

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
LA_2017 = DATA / "la311_2017-12-27_to_2018-01-04.csv"
LA_2020 = DATA / "la311_2020-01_sample.csv"


def needs(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"real data file {path} is absent")


def rows_without_coordinates(path: Path, lat: str, lng: str) -> int:
    """Counted independently of the reader, with pandas."""
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(path, usecols=[lat, lng], dtype=str, keep_default_na=False)
    as_number = lambda col: pd.to_numeric(frame[col].str.strip(), errors="coerce").fillna(0)  # noqa: E731
    return int(((as_number(lat) == 0) | (as_number(lng) == 0)).sum())


def split(records) -> tuple[list[RawReport], list[Rejected]]:
    reports, rejected = [], []
    for record in records:
        (rejected if isinstance(record, Rejected) else reports).append(record)
    return reports, rejected


# --------------------------------------------------------------------------- LA 311

@needs(LA_2017)
def test_la_2017_file_yields_every_row_and_rejects_exactly_the_rows_without_coordinates():
    reports, rejected = split(read_records(LA_2017))

    assert len(reports) + len(rejected) == 19_999
    assert Counter(r.reason for r in rejected) == {
        "no coordinates": rows_without_coordinates(LA_2017, "Latitude", "Longitude")}
    assert all(r.source_ref for r in rejected)
    assert len({r.source_ref for r in reports}) == len(reports)


@needs(LA_2017)
def test_la_2017_times_are_converted_from_los_angeles_to_utc():
    first = next(r for r in read_records(LA_2017) if r.source_ref == "1-866505430")

    assert first.created_at == datetime(2017, 12, 27, 21, 36, 22, tzinfo=timezone.utc)
    assert first.created_at.isoformat() == "2017-12-27T21:36:22+00:00"
    assert first.resolved_at == datetime(2018, 1, 3, 15, 33, 56, tzinfo=timezone.utc)  # 07:33:56 AM PST
    assert first.status == "closed"
    assert first.category == "Metal/Household Appliances"
    assert first.description == "Metal/Household Appliances at 374 N AVENUE 51, 90042"
    assert first.address == "374 N AVENUE 51, 90042"
    assert first.source == "replay"
    assert first.reporter_name is first.reporter_phone is first.reporter_email is None
    assert (first.lat, first.lng) == (34.1095977153, -118.203873344)


@needs(LA_2017)
def test_la_statuses_map_and_closing_never_precedes_creation():
    reports, _ = split(read_records(LA_2017))

    by_la_status = Counter((r.attributes["la_status"], r.status) for r in reports)
    assert set(by_la_status) <= {("Closed", "closed"), ("Referred Out", "closed"),
                                 ("Cancelled", "rejected"), ("Open", None)}
    assert all(r.resolved_at >= r.created_at for r in reports if r.resolved_at)
    assert all(r.resolved_at is None for r in reports if r.status is None)
    assert all(r.created_at.tzinfo is timezone.utc for r in reports)


@needs(LA_2020)
def test_la_2020_layout_parses():
    reports, rejected = split(read_records(LA_2020))

    assert len(reports) + len(rejected) == 10_000
    assert Counter(r.reason for r in rejected) == {
        "no coordinates": rows_without_coordinates(LA_2020, "latitude", "longitude")}
    first = next(r for r in reports if r.source_ref == "1-1523590121")
    # 1/1/20 0:05 PST
    assert first.created_at == datetime(2020, 1, 1, 8, 5, tzinfo=timezone.utc)
    assert first.resolved_at == datetime(2020, 1, 2, 16, 43, tzinfo=timezone.utc)
    assert first.category == "Illegal Dumping Pickup"
    assert {r.status for r in reports} == {"closed", "rejected", None}


def test_la_bad_rows_are_rejected_with_the_value_and_dst_is_deterministic(tmp_path):
    header = "SRNumber,CreatedDate,ClosedDate,RequestType,Status,RequestSource,Latitude,Longitude,Address\n"
    path = tmp_path / "la.csv"
    path.write_text(header
                    + "1-1,13/45/2017 01:00:00 PM,,Bulky Items,Open,Call,34.1,-118.2,A ST\n"
                    + "1-2,11/05/2017 01:30:00 AM,11/04/2017 09:00:00 AM,Bulky Items,Closed,Call,34.1,-118.2,B ST\n"
                    + "1-3,11/06/2017 09:00:00 AM,,Graffiti Removal,Closed,Call,0,0,C ST\n"
                    + "1-4,11/06/2017 09:00:00 AM,,Graffiti Removal,Pending,Call,abc,-118.2,D ST\n"
                    + "1-5,11/06/2017 09:00:00 AM,garbage,Graffiti Removal,Cancelled,Call,34.1,-118.2,E ST\n")

    records = list(read_records(path))

    assert records[0] == Rejected(2, "bad CreatedDate '13/45/2017 01:00:00 PM'", "1-1")
    # 01:30 on the fall-back night happens twice: the first (daylight, UTC-7) occurrence is taken
    assert records[1].created_at == datetime(2017, 11, 5, 8, 30, tzinfo=timezone.utc)
    assert records[1].resolved_at == records[1].created_at   # closed "before" creation: clamped
    assert records[2] == Rejected(4, "no coordinates", "1-3")
    assert records[3] == Rejected(5, "bad Latitude 'abc'", "1-4")
    assert records[4] == Rejected(6, "bad ClosedDate 'garbage'", "1-5")


# --------------------------------------------------------------------------- Open311

def service_request(number: int, **changes) -> dict:
    request = {
        "service_request_id": f"SR-{number}", "status": "closed", "service_code": "flood",
        "service_name": "Banjir", "description": f"Genangan air nomor {number}",
        "requested_datetime": f"2024-01-15T0{number}:00:00+07:00",
        "updated_datetime": f"2024-01-15T0{number}:30:00+07:00",
        "address": "Jl. Sudirman", "lat": -6.2, "long": 106.8,
        "media_url": f"https://example.com/{number}.jpg",
        "first_name": "Siti", "last_name": "Rahmawati", "phone": "+62 812-0000-0000",
        "email": "siti@example.com",
    }
    request.update(changes)
    return request


EXPECTED_FIRST = RawReport(
    category="flood", lat=-6.2, lng=106.8, description="Genangan air nomor 1",
    created_at=datetime(2024, 1, 14, 18, 0, tzinfo=timezone.utc), source="replay", source_ref="SR-1",
    status="closed", resolved_at=datetime(2024, 1, 14, 18, 30, tzinfo=timezone.utc),
    reporter_name="Siti Rahmawati", reporter_phone="+62 812-0000-0000", reporter_email="siti@example.com",
    photos=("https://example.com/1.jpg",), address="Jl. Sudirman")


@pytest.mark.parametrize("wrapped", [False, True])
def test_open311_json_round_trips(tmp_path, wrapped):
    requests = [service_request(1), service_request(2, status="open", service_code=None)]
    path = tmp_path / "requests.json"
    path.write_text(json.dumps({"service_requests": requests} if wrapped else requests, indent=2))

    first, second = read_records(path)

    assert first == EXPECTED_FIRST
    assert (second.category, second.status, second.resolved_at) == ("Banjir", None, None)


def test_open311_ndjson_rejects_malformed_lines_precisely_and_keeps_going(tmp_path):
    lines = [
        json.dumps(service_request(1)),
        '{"service_request_id": "SR-2", "lat": -6.2,',             # truncated
        json.dumps(service_request(3, lat=None)),
        json.dumps(service_request(4, lat=95.5)),
        json.dumps(service_request(5, requested_datetime="yesterday")),
        "",
        json.dumps(service_request(6, requested_datetime="2024-01-15T06:00:00")),
        json.dumps(["not", "an", "object"]),
        json.dumps(service_request(7, service_code=None, service_name=None)),
        json.dumps(service_request(8, status="in progress")),
        json.dumps(service_request(9)),
    ]
    path = tmp_path / "requests.ndjson"
    path.write_text("\n".join(lines) + "\n")

    records = list(read_records(path))

    assert records[0] == EXPECTED_FIRST
    assert records[1] == Rejected(2, "bad JSON at line 2: Expecting property name enclosed in double quotes"
                                     " (column 44)")
    assert records[2:9] == [
        Rejected(3, "missing lat/long", "SR-3"),
        Rejected(4, "lat out of range [-90, 90]: 95.5", "SR-4"),
        Rejected(5, "bad requested_datetime 'yesterday'", "SR-5"),
        Rejected(7, "no UTC offset in requested_datetime '2024-01-15T06:00:00'", "SR-6"),
        Rejected(8, "not a service request object: list"),
        Rejected(9, "missing service_code/service_name", "SR-7"),
        Rejected(10, "bad status 'in progress'", "SR-8"),
    ]
    assert records[9].source_ref == "SR-9"
    assert len(records) == 10


def test_open311_json_that_does_not_parse_is_one_rejection_not_an_exception(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"service_request_id": "SR-1",\n')

    assert list(read_records(path)) == [
        Rejected(3, "bad JSON at line 3: Expecting property name enclosed in double quotes (column 1)")]


@pytest.mark.parametrize("content", ["name,age\nAni,30\n", "", "hello world\n", "SRNumber;CreatedDate\n"])
def test_unknown_format_raises_before_yielding(tmp_path, content):
    path = tmp_path / "other.csv"
    path.write_text(content)

    with pytest.raises(ValueError, match="not a LA 311 CSV or Open311 JSON/NDJSON file"):
        read_records(path)


# --------------------------------------------------------------------------- replay

class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def write_ndjson(path: Path, minutes: list[int]) -> Path:
    path.write_text("".join(json.dumps(service_request(
        1, service_request_id=f"SR-{i}", requested_datetime=f"2024-01-15T{m // 60:02d}:{m % 60:02d}:00+07:00"))
        + "\n" for i, m in enumerate(minutes)))
    return path


def test_replay_as_fast_as_possible_submits_everything_in_batches(tmp_path):
    path = write_ndjson(tmp_path / "r.ndjson", list(range(0, 25)))
    path.write_text(path.read_text() + "{oops\n")
    batches: list[list[RawReport]] = []
    fake = FakeTime()

    stats = replay(path, batches.append, batch=10, progress=False, clock=fake.clock, sleep=fake.sleep)

    assert [len(b) for b in batches] == [10, 10, 5]
    assert stats == ReplayStats(read=26, submitted=25, rejected=1,
                                rejected_by_reason=Counter({"bad JSON": 1}), seconds=0.0)
    assert fake.slept == []


def test_replay_paces_source_time_sixty_times_faster(tmp_path):
    # two hours of source time, one report out of order
    minutes = [0, 1, 5, 5, 30, 29, 60, 90, 120]
    path = write_ndjson(tmp_path / "r.ndjson", minutes)
    submitted: list[RawReport] = []
    fake = FakeTime()

    stats = replay(path, submitted.extend, speedup=60, progress=False, clock=fake.clock, sleep=fake.sleep)

    assert stats.submitted == len(minutes)
    assert sum(fake.slept) == pytest.approx(120 * 60 / 60)
    assert stats.seconds == pytest.approx(120.0)
    assert [r.source_ref for r in submitted] == [f"SR-{i}" for i in range(len(minutes))]


@needs(LA_2017)
def test_replay_of_the_la_file_counts_what_it_rejects(capsys):
    submitted = []

    stats = replay(LA_2017, lambda b: submitted.append(len(b)), progress=False)

    assert stats.read == 19_999
    assert stats.submitted == sum(submitted) == 19_999 - stats.rejected
    assert stats.rejected_by_reason == {"no coordinates": stats.rejected}
    assert max(submitted) == 500
    assert capsys.readouterr() == ("", "")
