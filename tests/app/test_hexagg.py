"""The pure aggregation functions, without Redis."""
from datetime import datetime, timezone

import h3
import pytest

from app import hexagg
from app.hexagg import Effects, Record
from app.store.keys import Keys

KEYS = Keys("jakarta")
TZ = "Asia/Jakarta"
CELL = h3.latlng_to_cell(-6.2, 106.8, 12)


def _record(state="o", created=1_700_000_000, version=1, due=0):
    return Record(CELL, "flood", created, state, version, 0, due)


def test_a_new_report_counts_once_per_resolution_and_granularity():
    effects = Effects.empty()
    now = 1_700_000_100
    assert hexagg.apply_created(effects, KEYS, "r1", None, _record(), now, TZ) is not None
    # 5 resolutions x 4 granularities, all +1
    assert len(effects.nonzero_incr()) == 4 * len(hexagg.STORED_RESOLUTIONS) and all(d == 1 for *_, d in effects.nonzero_incr())
    assert hexagg.apply_created(effects, KEYS, "r1", _record(), _record(), now, TZ) is None


def test_old_buckets_past_retention_are_not_written():
    effects = Effects.empty()
    hexagg.apply_created(effects, KEYS, "r1", None, _record(created=1_500_000_000), 1_700_000_000, TZ)
    assert {key.split(":")[4] for key, _, _ in effects.nonzero_incr()} == {"all"}


def test_status_moves_between_states_and_ignores_stale_versions():
    effects = Effects.empty()
    now = 1_700_000_100
    moved = hexagg.apply_status(effects, KEYS, "r1", _record(due=1_700_050_000), "resolved", 2, now, None, now, TZ)
    assert moved.state == "r" and moved.resolved_ts == now
    assert "r1" in effects.sla_remove
    totals = {}
    for key, field, delta in effects.nonzero_incr():
        if ":hex:" in key:
            totals[field.split("|")[2]] = totals.get(field.split("|")[2], 0) + delta
    kept = 4 * len(hexagg.STORED_RESOLUTIONS)     # four time buckets at each kept resolution
    assert totals == {"o": -kept, "r": kept}
    assert hexagg.apply_status(Effects.empty(), KEYS, "r1", moved, "reopened", 2, now, None, now, TZ) is None


def test_windows_are_bucket_aligned_in_the_city_zone():
    now = datetime(2026, 11, 25, 3, 30, tzinfo=timezone.utc).timestamp()   # 10:30 WIB
    granularity, buckets, start = hexagg.window_buckets("today", now, TZ)
    assert granularity.name == "d" and len(buckets) == 1
    assert datetime.fromtimestamp(start, timezone.utc) == datetime(2026, 11, 24, 17, 0, tzinfo=timezone.utc)
    granularity, buckets, start = hexagg.window_buckets("24h", now, TZ)
    assert len(buckets) == 24 and start == (int(now) // 3600 - 23) * 3600
    with pytest.raises(ValueError, match="unknown window"):
        hexagg.window_buckets("fortnight", now, TZ)


def test_median_from_histogram_is_within_a_bin():
    seconds = [600, 1200, 3600, 7200, 86400]
    histogram = {}
    for s in seconds:
        histogram[hexagg.ttr_bin(s)] = histogram.get(hexagg.ttr_bin(s), 0) + 1
    median = hexagg.median_from_histogram(histogram)
    assert 3600 / 1.13 <= median <= 3600 * 1.13
    assert hexagg.median_from_histogram({}) is None


def test_record_round_trips():
    record = Record(CELL, "garbage", 1, "x", 3, 0, 99)
    assert Record.decode(record.encode()) == record


def test_duplicate_index_holds_the_open_reports_of_the_last_day():
    now = 1_700_000_100
    key = KEYS.dup_index("flood", h3.cell_to_parent(CELL, 9))
    effects = Effects.empty()
    hexagg.apply_created(effects, KEYS, "new", None, _record(created=now - 60), now, TZ)
    hexagg.apply_created(effects, KEYS, "old", None, _record(created=now - hexagg.DAY - 1), now, TZ)
    hexagg.apply_created(effects, KEYS, "done", None, _record(state="r", created=now - 60), now, TZ)
    assert effects.dup_add == {key: {"new": now - 60}}
    assert effects.expire[key] > now + hexagg.DAY
    # Resolved in the same batch: out again, and nothing left to remove twice.
    resolved = hexagg.apply_status(effects, KEYS, "new", _record(created=now - 60), "resolved", 2, now, None, now, TZ)
    assert effects.dup_add == {key: {}} and effects.dup_remove == {key: {"new"}}
    # Reopened (a disputed resolution): back in the index.
    hexagg.apply_status(effects, KEYS, "new", resolved, "in_progress", 3, now, None, now, TZ)
    assert effects.dup_add == {key: {"new": now - 60}} and effects.dup_remove == {key: set()}
