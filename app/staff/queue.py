"""The staff queue: filtered, sorted and paged reads of the reports table, and exports of the
filtered set (CSV, XLSX, GeoJSON) streamed in chunks so a large one never sits in memory."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, fields
from datetime import datetime, timezone

import h3
from sqlalchemy import and_, func, select

from app import sla
from app.auth import permissions
from app.store import db
from app.workflow import OPEN_STATUSES

PAGE_SIZE = 50
SORTS = ("age", "sla_due", "newest")
SLA_STATES = ("breached", "due_soon", "ok")
QUEUE_COLUMNS = ("id", "ticket", "category", "status", "priority", "agency", "team", "kecamatan_name",
                 "kelurahan_name", "created_at", "sla_due_at", "version", "lat", "lng", "h3_cell",
                 "resolved_at")
EXPORT_COLUMNS = ("ticket", "category", "status", "priority", "agency", "team", "kecamatan_code",
                  "kecamatan_name", "kelurahan_code", "kelurahan_name", "address", "description",
                  "lat", "lng", "h3_cell", "created_at", "sla_due_at", "resolved_at")


@dataclass(frozen=True)
class QueueFilter:
    statuses: tuple[str, ...] = ()
    category: str | None = None
    agency: str | None = None
    kecamatan_code: str | None = None
    kelurahan_code: str | None = None
    h3_cell: str | None = None
    sla_state: str | None = None
    sort: str = "age"

    @classmethod
    def from_params(cls, params) -> "QueueFilter":
        """From query parameters or a dict; ``status`` may repeat or be comma-separated."""
        get = params.get
        raw = params.getlist("status") if hasattr(params, "getlist") else get("status") or []
        raw = [raw] if isinstance(raw, str) else raw
        statuses = tuple(s for part in raw for s in str(part).split(",") if s)
        sort = get("sort") or "age"
        if sort not in SORTS:
            raise ValueError(f"sort: one of {', '.join(SORTS)}")
        state = get("sla") or get("sla_state") or None
        if state and state not in SLA_STATES:
            raise ValueError(f"sla: one of {', '.join(SLA_STATES)}")
        cell = get("h3") or get("h3_cell") or None
        if cell and not h3.is_valid_cell(cell):
            raise ValueError("h3: not an H3 cell id")
        return cls(statuses, get("category") or None, get("agency") or None, get("kecamatan") or None,
                   get("kelurahan") or None, cell, state, sort)

    def as_params(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}
        if self.statuses:
            out["statuses"] = list(self.statuses)
        return out


def _cell_range(cell: str, fine: int) -> tuple[str, str]:
    """All res-``fine`` descendants of ``cell`` form one contiguous range of H3 ids (the unused
    finer digits are fixed): a range scan on the h3_cell index, however coarse the cell."""
    res = h3.get_resolution(cell)
    if res >= fine:
        parent = h3.cell_to_parent(cell, fine) if res > fine else cell
        return parent, parent
    value = h3.str_to_int(cell)
    value = (value & ~(0xF << 52)) | (fine << 52)
    low = high = value
    for r in range(res + 1, fine + 1):
        shift = (15 - r) * 3
        low &= ~(0b111 << shift)          # digit 0
        high = (high & ~(0b111 << shift)) | (0b110 << shift)   # digit 6
    return h3.int_to_str(low), h3.int_to_str(high)


def _conditions(preset, flt: QueueFilter, user, now: datetime):
    from app.reports import BASE_RESOLUTION

    r = db.reports
    conds = [r.c.city == preset.slug]
    scoped = permissions.scope_agency(user.role, user.agency) if user is not None else None
    if scoped:
        conds.append(r.c.agency == scoped)
    if flt.statuses:
        conds.append(r.c.status.in_(flt.statuses) if len(flt.statuses) > 1 else r.c.status == flt.statuses[0])
        if set(flt.statuses) <= set(OPEN_STATUSES):
            conds.append(db.open_reports())   # implied, and lets the open-reports partial indexes serve
    for column, value in ((r.c.category, flt.category), (r.c.agency, flt.agency),
                          (r.c.kecamatan_code, flt.kecamatan_code), (r.c.kelurahan_code, flt.kelurahan_code)):
        if value:
            conds.append(column == value)
    if flt.h3_cell:
        low, high = _cell_range(flt.h3_cell, BASE_RESOLUTION)
        conds.append(r.c.h3_cell.between(low, high))
    if flt.sla_state:
        conds.append(db.open_reports())
        soon = now + sla.DUE_SOON
        conds.append({"breached": r.c.sla_due_at < now,
                      "due_soon": and_(r.c.sla_due_at >= now, r.c.sla_due_at < soon),
                      "ok": r.c.sla_due_at >= soon}[flt.sla_state])
    return conds


def _order(flt: QueueFilter):
    r = db.reports
    if flt.sort == "sla_due":
        return (r.c.sla_due_at, r.c.id)
    if flt.sort == "newest":
        return (r.c.created_at.desc(), r.c.id)
    return (r.c.created_at, r.c.id)


def page(engine, preset, flt: QueueFilter, user, page_no: int = 0, now: datetime | None = None,
         count_limit: int = 10_000) -> dict:
    """One page of 50 with an SLA view per row; ``total`` counts up to ``count_limit`` (shown '10000+')."""
    now = now or datetime.now(timezone.utc)
    r = db.reports
    conds = _conditions(preset, flt, user, now)
    query = (select(*[r.c[name] for name in QUEUE_COLUMNS]).where(*conds).order_by(*_order(flt))
             .limit(PAGE_SIZE).offset(max(page_no, 0) * PAGE_SIZE))
    capped = select(r.c.id).where(*conds).limit(count_limit + 1).subquery()
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        total = conn.execute(select(func.count()).select_from(capped)).scalar_one()
    items = []
    for row in rows:
        view = sla.assess(row, preset, now)
        item = {name: getattr(row, name) for name in QUEUE_COLUMNS}
        for key in ("created_at", "sla_due_at", "resolved_at"):
            item[key] = item[key].isoformat() if item[key] else None
        item.update(sla_state=view["state"], overdue=view["overdue"],
                    expected_datetime=view["expected_datetime"].isoformat(),
                    countdown=sla.countdown(view["remaining_s"]))
        items.append(item)
    return {"items": items, "page": page_no, "page_size": PAGE_SIZE, "total": min(total, count_limit),
            "total_capped": total > count_limit}


def count(engine, preset, flt: QueueFilter, user, now: datetime | None = None) -> int:
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.reports)
                            .where(*_conditions(preset, flt, user, now))).scalar_one()


def iter_rows(engine, preset, flt: QueueFilter, user, chunk: int = 5000, now: datetime | None = None):
    """Every matching row (EXPORT_COLUMNS), streamed from the database in chunks."""
    now = now or datetime.now(timezone.utc)
    r = db.reports
    query = (select(*[r.c[name] for name in EXPORT_COLUMNS]).where(*_conditions(preset, flt, user, now))
             .order_by(*_order(flt)))
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
        for row in result:
            yield row


def _cell(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """Text as a spreadsheet must show it, never run it: a leading ``'`` before a formula start."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _sheet_cell(value):
    """A CSV/XLSX cell: numbers stay numbers; every other value is inert text."""
    value = _cell(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return spreadsheet_text(str(value))


def write_export(rows, fmt: str, out, progress=None) -> int:
    """Write ``rows`` to the binary file ``out`` as csv, xlsx or geojson; returns the row count.
    ``progress(n)`` is called every 5,000 rows."""
    n = 0
    if fmt == "csv":
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([_sheet_cell(v) for v in row])
            n += 1
            if progress and n % 5000 == 0:
                progress(n)
        text.flush()
        text.detach()
    elif fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        book = Workbook(write_only=True)
        sheet = book.create_sheet("reports")
        sheet.append(list(EXPORT_COLUMNS))

        def xlsx_cell(value):
            if isinstance(value, datetime):
                return value.replace(tzinfo=None)
            value = _sheet_cell(value)
            if not isinstance(value, str):
                return value
            cell = WriteOnlyCell(sheet, value)
            cell.data_type = "s"     # text, whatever it starts with: openpyxl would make "=..." a formula
            return cell

        for row in rows:
            sheet.append([xlsx_cell(v) for v in row])
            n += 1
            if progress and n % 5000 == 0:
                progress(n)
        book.save(out)
    elif fmt == "geojson":
        out.write(b'{"type":"FeatureCollection","features":[')
        for row in rows:
            props = {k: _cell(v) for k, v in zip(EXPORT_COLUMNS, row) if k not in ("lat", "lng")}
            feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [row.lng, row.lat]},
                       "properties": props}
            out.write((b"," if n else b"") + json.dumps(feature, separators=(",", ":")).encode())
            n += 1
            if progress and n % 5000 == 0:
                progress(n)
        out.write(b"]}")
    else:
        raise ValueError("format: one of csv, xlsx, geojson")
    return n
