"""Item 5 (issue item 20): an Open311 dump (and an LA CSV) whose rows have no service_request_id,
replayed twice, is counted once: each row's id comes from its content."""
import json

from app.store import db
from ingest.sources.replay import read_records, replay
from tests.app.open311.conftest import LAT, LNG
from tests.helpers import drain


def _row(i, description="Sampah"):
    return {"service_code": "garbage", "lat": LAT + i * 0.001, "long": LNG, "description": description,
            "requested_datetime": f"2026-11-20T08:0{i}:00+07:00", "status": "open"}


def test_replaying_rows_without_ids_twice_counts_them_once(sqlite_services, tmp_path):
    services = sqlite_services
    dump = tmp_path / "dump.json"
    # Two rows alike in every field are two reports (the second gets its own occurrence number).
    rows = [_row(1), _row(2), _row(3), _row(3)]
    dump.write_text(json.dumps(rows))
    for _ in range(2):
        replay(dump, lambda batch: services.producer.submit_many(batch), progress=False)
        drain(services)
    assert db.count_reports(services.engine, services.preset.slug) == 4
    refs = [r.source_ref for r in read_records(dump)]
    assert len(set(refs)) == 4 and all(ref.startswith("content:") for ref in refs)
    assert [r.source_ref for r in read_records(dump)] == refs     # the same file, the same ids
