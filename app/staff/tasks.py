"""The field officer's task list (/tugas): the agency's open work, deadline first, searchable, paged.

No Dash or Flask here: the screen (layouts/callbacks ``tugas``) and the benchmark call ``task_page``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import and_, case, exists, func, or_, select

from app.auth import permissions
from app.store import db
from app.store.tables import report_actions

TASK_STATES = ("dispatched", "in_progress", "reopened", "verified")
PAGE_SIZE = 20
COLUMNS = ("id", "ticket", "status", "category", "kelurahan_name", "kecamatan_name", "lat", "lng",
           "sla_due_at", "created_at", "version", "description")


@dataclass(frozen=True)
class TaskFilter:
    search: str = ""
    overdue: bool = False
    mine: bool = False
    state: str | None = None

    def __post_init__(self):
        if self.state is not None and self.state not in TASK_STATES:
            raise ValueError(f"state: one of {', '.join(TASK_STATES)}")
        if len(self.search) > 100:
            raise ValueError("search: at most 100 characters")


def _base(preset, user):
    r = db.reports
    conds = [r.c.city == preset.slug, r.c.status.in_(TASK_STATES), db.open_reports()]
    scoped = permissions.scope_agency(user.role, user.agency)
    if scoped:
        conds.append(r.c.agency == scoped)
    return conds


def _filtered(preset, user, flt: TaskFilter, now: datetime):
    r = db.reports
    conds = _base(preset, user)
    text = flt.search.strip()
    if text:
        like = f"%{text.lower().replace('%', '').replace('_', '')}%"
        conds.append(or_(func.lower(r.c.ticket).like(like), func.lower(r.c.kelurahan_name).like(like),
                         func.lower(r.c.kecamatan_name).like(like), func.lower(r.c.description).like(like)))
    if flt.overdue:
        conds.append(r.c.sla_due_at < now)
    if flt.mine:
        a = report_actions
        conds.append(exists().where(a.c.report_id == r.c.id, a.c.actor == user.actor))
    return conds


def task_page(engine, preset, user, flt: TaskFilter, page_no: int = 0, now: datetime | None = None) -> dict:
    """{items, total, counts (per state, before the state filter), page, pages}; deadline first."""
    now = now or datetime.now(timezone.utc)
    r = db.reports
    conds = _filtered(preset, user, flt, now)
    with engine.connect() as conn:
        # One pass for the counts per state and the overdue ones (the search's LIKE runs once).
        late = func.sum(case((r.c.sla_due_at < now, 1), else_=0))
        grouped = conn.execute(select(r.c.status, func.count(), late).where(*conds).group_by(r.c.status)).all()
        counts = {status: n for status, n, _ in grouped}
        overdue = sum(int(n_late or 0) for _, _, n_late in grouped)
        if flt.state:
            conds = [*conds, r.c.status == flt.state]
        total = counts.get(flt.state, 0) if flt.state else sum(counts.values())
        pages = max(1, -(-total // PAGE_SIZE))
        page_no = min(max(page_no, 0), pages - 1)
        rows = conn.execute(select(*[r.c[c] for c in COLUMNS]).where(*conds)
                            .order_by(r.c.sla_due_at.is_(None), r.c.sla_due_at, r.c.id)
                            .limit(PAGE_SIZE).offset(page_no * PAGE_SIZE)).all()
    items = []
    for row in rows:
        item = {c: getattr(row, c) for c in COLUMNS}
        due = item["sla_due_at"]
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=timezone.utc)
        item["remaining_s"] = (due - now).total_seconds() if due else None
        item["description"] = (item["description"] or "")[:140]
        items.append(item)
    return {"items": items, "total": total, "counts": {s: counts.get(s, 0) for s in TASK_STATES},
            "overdue": overdue, "page": page_no, "pages": pages}


def by_ticket(engine, preset, user, ticket: str):
    """The report row of a ticket this user may see (None otherwise)."""
    r = db.reports
    conds = [r.c.city == preset.slug, r.c.ticket == ticket]
    scoped = permissions.scope_agency(user.role, user.agency)
    if scoped:
        conds.append(r.c.agency == scoped)
    with engine.connect() as conn:
        return conn.execute(select(r).where(and_(*conds))).first()
