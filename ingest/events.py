"""The report events on the stream: how they are written and read back.

Two kinds: ``created`` carries the whole validated report (private contact
included: the stream is internal), ``status`` carries one accepted status
change with its new version. Every event has a stable ``event_id`` so the
consumers can make its effect happen exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import orjson

from app import hexagg
from app.reports import Report, public_summary_of

CREATED, STATUS = "created", "status"


@dataclass(frozen=True)
class Event:
    entry_id: str          # the stream entry id
    kind: str
    event_id: str
    report_id: str
    report: Report | None = None     # created
    change: dict | None = None       # status
    data: dict | None = None         # created, read without building the report (``full=False``)
    record: str | None = None        # created: the aggregate record (``hexagg.Record.encode``), when written
    summary: str | None = None       # created: the public summary as JSON, when written


def _json(value) -> str:
    """Compact JSON (orjson: a fifth of the standard library's time on a report; UTF-8 as is)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def created_fields(report: Report) -> dict:
    """The whole report (``data``), and what the aggregator reads of it ready made: its aggregate
    record (``agg``) and public summary (``summary``), computed once here from the same dict, so the
    aggregator decodes no report JSON (an entry without them, written before, is read from ``data``)."""
    data = report.to_dict()
    return {"kind": CREATED, "event_id": f"{report.id}:created", "report_id": report.id,
            "data": _json(data), "agg": hexagg.record_from_dict(data).encode(),
            "summary": _json(public_summary_of(data))}


def status_fields(change: dict) -> dict:
    data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in change.items()}
    return {"kind": STATUS, "event_id": change["event_id"], "report_id": change["report_id"],
            "data": _json(data)}


def decode(entry_id: str, fields: dict, full: bool = True) -> Event:
    """Read one stream entry; raises ValueError for an entry no consumer can use.

    ``full=False`` leaves a created event's report as its dict (``data``): the aggregator needs a
    few fields of it, and building the whole ``Report`` is most of its decoding time.
    """
    try:
        kind = fields["kind"]
        if kind == CREATED and not full and fields.get("agg") and fields.get("summary"):
            record = fields["agg"]
            if record.count("|") != 6 or not isinstance(fields.get("report_id"), str):
                raise ValueError("agg malformed")
            return Event(entry_id, kind, fields["event_id"], fields["report_id"], record=record,
                         summary=fields["summary"])
        data = orjson.loads(fields["data"])
        if kind == CREATED and not full:
            for key in ("id", "h3_cell", "category", "created_at", "status", "ticket"):
                if not isinstance(data.get(key), str):
                    raise ValueError(f"{key} missing")
            return Event(entry_id, kind, fields["event_id"], data["id"], data=data)
        if kind == CREATED:
            report = Report.from_dict(data)
            if fields.get("duplicate_of"):    # found by the intake script as it appended the event
                report = replace(report, duplicate_of=tuple(fields["duplicate_of"].split()))
            return Event(entry_id, kind, fields["event_id"], report.id, report=report)
        if kind == STATUS:
            for key in ("occurred_at", "resolved_at", "sla_due_at"):
                if data.get(key):
                    data[key] = datetime.fromisoformat(data[key])
            return Event(entry_id, kind, fields["event_id"], data["report_id"], change=data)
    except (KeyError, TypeError, ValueError) as err:     # orjson.JSONDecodeError is a ValueError
        raise ValueError(f"unreadable event {entry_id}: {err}") from None
    raise ValueError(f"unknown event kind {kind!r} in {entry_id}")
