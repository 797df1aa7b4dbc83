"""Breaches read once for every resolution agree with a count from the reports themselves."""
from collections import Counter
from datetime import datetime, timedelta, timezone

import h3

from app import hexagg, queries
from tests.helpers import drain, raw_reports


def test_overdue_by_resolution_matches_the_reports(sqlite_services):
    services = sqlite_services
    now = datetime.now(timezone.utc)
    # Spread over ten days: some still within their SLA, most past it.
    accepted = services.producer.submit_many(raw_reports(300, seed=4, start=now - timedelta(days=10),
                                                         spread_s=10 * 86400)).accepted
    drain(services)
    ts = now.timestamp()
    overdue = [r for r in accepted if r.sla_due_at.timestamp() <= int(ts)]
    assert 0 < len(overdue) < len(accepted)
    by_res = queries.overdue_by_resolution(services.redis, services.keys, hexagg.MAP_RESOLUTIONS, ts, chunk=7)
    for res in hexagg.MAP_RESOLUTIONS:
        expected = Counter(f"{h3.cell_to_parent(r.h3_cell, res)}|{r.category}|o" for r in overdue)
        assert by_res[res] == expected
        assert queries.overdue_cells(services.redis, services.keys, res, ts) == expected
        assert sum(queries.hex_counts(services.redis, services.preset, res, metric="breaches", now=ts).values()) \
            == len(overdue)
    assert queries.kpis(services.redis, services.preset, now=ts)["sla_breaches"] == len(overdue)
