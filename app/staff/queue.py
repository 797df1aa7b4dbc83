"""The staff queue: filtered, sorted and paged reads of the reports table, and exports of the
filtered set (CSV, XLSX, GeoJSON) streamed in chunks so a large one never sits in memory."""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import h3
from sqlalchemy import and_, func, literal, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import Boolean

from app import sla
from app.auth import permissions
from app.hexagg import cell_range
from app.i18n import t
from app.reports import BASE_RESOLUTION, PRIORITIES
from app.store import db, search
from app.workflow import OPEN_STATUSES, Status
from config.catalogue import CATEGORIES
from app.store.tables import proof_flags

PAGE_SIZE = 50
SORTS = ("work", "age", "sla_due", "newest")
# "work": what needs a supervisor first: new and reopened reports, then the overdue, then by deadline
WORK_FIRST = ("new", "reopened")
SEARCH_MAX = 100
SEARCH_COUNT_MAX = 500      # a text search matching more is counted "500+" (counting all would read them)
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
    q: str | None = None     # a ticket, words of the description, or (staff) the reporter's phone
    date_from: date | None = None   # local days in the city's zone, both inclusive (``from``/``to``)
    date_to: date | None = None
    proof: str | None = None        # "flagged": resolutions whose proof of work was flagged (app.proof)

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
        q = (get("q") or "").strip() or None
        if q and len(q) > SEARCH_MAX:
            raise ValueError(f"q: at most {SEARCH_MAX} characters")
        days = [_day(name, get(name)) for name in ("from", "to")]
        if days[0] and days[1] and days[1] < days[0]:
            raise ValueError("to: must not be before from")
        proof = get("proof") or None
        if proof and proof not in PROOF_FILTERS:
            raise ValueError(f"proof: one of {', '.join(PROOF_FILTERS)}")
        return cls(statuses, get("category") or None, get("agency") or None, get("kecamatan") or None,
                   get("kelurahan") or None, cell, state, sort, q, days[0], days[1], proof)

    def as_params(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}
        if self.statuses:
            out["statuses"] = list(self.statuses)
        for name in ("date_from", "date_to"):
            if name in out:
                out[name] = out[name].isoformat()
        return out


PROOF_FILTERS = ("flagged",)


def _day(name: str, value) -> date | None:
    """A local calendar day written YYYY-MM-DD (the ``from``/``to`` of a drill-down link)."""
    if not value:
        return None
    try:
        if not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: a date written YYYY-MM-DD") from None


def day_bounds(preset, first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """[start of ``first``, start of the day after ``last``) in the city's zone, as UTC."""
    zone = ZoneInfo(preset.timezone)

    def start(day: date) -> datetime:
        return datetime.combine(day, time(0), zone).astimezone(timezone.utc)

    return (start(first) if first else None), (start(last + timedelta(days=1)) if last else None)


def _conditions(preset, flt: QueueFilter, user, now: datetime, text_cond=None):
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
        low, high = cell_range(flt.h3_cell, BASE_RESOLUTION)
        conds.append(r.c.h3_cell.between(low, high))
    if flt.q:
        conds.append(_search(flt.q, preset, user, text_cond))
    since, until = day_bounds(preset, flt.date_from, flt.date_to)
    if since:
        conds.append(r.c.created_at >= since)
    if until:
        conds.append(r.c.created_at < until)
    if flt.proof == "flagged":
        conds.append(r.c.id.in_(select(proof_flags.c.report_id).where(proof_flags.c.city == preset.slug)))
    if flt.sla_state:
        conds.append(db.open_reports())
        soon = now + sla.DUE_SOON
        conds.append({"breached": r.c.sla_due_at < now,
                      "due_soon": and_(r.c.sla_due_at >= now, r.c.sla_due_at < soon),
                      "ok": r.c.sla_due_at >= soon}[flt.sla_state])
    return conds


def search_kind(q: str, preset) -> tuple[str, object]:
    """What was typed: ("ticket", the ticket) — whole, without its city code, or spaced as read on the
    phone —, ("phone", its last nine digits or None), or ("text", its words)."""
    import re

    text = q.strip()
    ticket = re.sub(r"[\s-]", "", text.upper())
    code = preset.code.upper()
    body = ticket.removeprefix(code) if len(ticket) > 10 else ticket
    if re.fullmatch(r"[0-9A-Z]{10}", body) and re.search(r"\d", body) and (len(ticket) == 10 or ticket.startswith(code)):
        return "ticket", f"{preset.code}-{body[:5]}-{body[5:]}"
    if re.fullmatch(r"[+\d\s().-]+", text) and len(re.sub(r"\D", "", text)) >= 6:
        return "phone", search.phone_key(text)
    return "text", search.words_of(text)


def _search(q: str, preset, user, text_cond=None):
    """The search as one index read, never a scan of the reports: the ticket's unique index, the phone
    tail's expression index (staff only), the word index (``app.store.search``). ``text_cond`` is the
    word condition ``page`` chose for the number of matches (``search.text_condition``)."""
    from sqlalchemy import false

    r = db.reports
    kind, value = search_kind(q, preset)
    if kind == "ticket":
        return r.c.ticket == value
    if kind == "phone":
        if value is None or user is None:      # too short to name a number; only staff search phones
            return false()
        return search.phone_tail(r.c.reporter_phone) == value
    if not value:
        return false()
    return text_cond if text_cond is not None else words_match(value)


def _order(flt: QueueFilter, now: datetime | None = None):
    from sqlalchemy import case

    r = db.reports
    if flt.sort == "work":
        now = now or datetime.now(timezone.utc)
        rank = case((r.c.status.in_(WORK_FIRST), 0), (and_(db.open_reports(), r.c.sla_due_at < now), 1),
                    (db.open_reports(), 2), else_=3)
        return (rank, r.c.sla_due_at, r.c.created_at, r.c.id)
    if flt.sort == "sla_due":
        return (r.c.sla_due_at, r.c.id)
    if flt.sort == "newest":
        return (r.c.created_at.desc(), r.c.id)
    return (r.c.created_at, r.c.id)


def _work_rows(conn, preset, flt: QueueFilter, user, now: datetime, offset: int, limit: int,
               text_cond=None, fetch=None) -> list:
    """The "work" order without sorting every open report: one short index-ordered read per state
    (and, for the states in progress, one for the overdue and one for the rest), each at most
    ``offset + limit`` rows on the (city, status, sla_due_at / created_at) indexes, merged here.
    Same order as ``_order(flt)`` for ``work``: new and reopened, then overdue, then by deadline.
    ``fetch(conds, order, need)`` reads one of them (default: in SQL; a text search walks, ``_walk``)."""
    from dataclasses import replace

    from sqlalchemy import or_

    r = db.reports
    base = _conditions(preset, replace(flt, statuses=()), user, now, text_cond)
    need = offset + limit
    columns = [r.c[name] for name in QUEUE_COLUMNS]
    if fetch is None:
        def fetch(conds, order, need):
            return conn.execute(select(*columns).where(*conds).order_by(*order).limit(need)).all()
    found = []
    for status in flt.statuses or tuple(s.value for s in Status):
        here = [*base, r.c.status == status]
        if status in WORK_FIRST:
            reads = [(0, here)]
        elif status in OPEN_STATUSES:
            reads = [(1, [*here, r.c.sla_due_at < now]),
                     (2, [*here, or_(r.c.sla_due_at >= now, r.c.sla_due_at.is_(None))])]
        else:
            reads = [(3, here)]
        for rank, conds in reads:
            order = (r.c.created_at, r.c.id) if rank == 3 else (r.c.sla_due_at, r.c.created_at, r.c.id)
            for row in fetch(conds, order, need):
                found.append((_work_key(rank, row), row))
    found.sort(key=lambda item: item[0])
    return [item[-1] for item in found[offset:offset + limit]]


def _work_key(rank: int, row) -> tuple:
    due = None if rank == 3 else row.sla_due_at
    return (rank, due is None, due or row.created_at, row.created_at, row.id)


def _sort_key(flt: QueueFilter, now: datetime):
    """``_order(flt)`` in Python, for a search's few matches read at once (missing deadlines last)."""
    far = datetime.max.replace(tzinfo=timezone.utc)

    def aware(value):
        return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)

    if flt.sort == "work":
        def key(row):
            due, created = aware(row.sla_due_at), aware(row.created_at)
            if row.status in WORK_FIRST:
                rank = 0
            elif row.status in OPEN_STATUSES:
                rank = 1 if due is not None and due < now else 2
            else:
                rank, due = 3, None
            return (rank, due is None, due or created, created, row.id)
        return key
    if flt.sort == "sla_due":
        return lambda row: (aware(row.sla_due_at) or far, row.id)
    if flt.sort == "newest":
        return lambda row: (-aware(row.created_at).timestamp(), row.id)
    return lambda row: (aware(row.created_at), row.id)


WALK_FIRST = 500        # a text search with many matches walks the queue's order in windows from this
WALK_MAX = 64_000       # rows; past this the matches are too sparse along it: the word index decides


class _TooSparse(Exception):
    pass


class WordTest:
    """The search's rule tested on a row's own text (``word_query``): every word a word of the
    description or the address, the last also the start of one, case and accents folded (as FTS5
    ``unicode61 remove_diacritics`` and PostgreSQL's ``simple`` parser read them)."""

    def __init__(self, words: list[str]):
        alnum = r"[^\W_]"
        self.patterns = [re.compile(f"(?<!{alnum})" + re.escape(_fold(w)) + ("" if last else f"(?!{alnum})"))
                         for last, w in ((i == len(words) - 1, w) for i, w in enumerate(words))]

    def __call__(self, description, address) -> bool:
        text = _fold(f"{description or ''} {address or ''}")
        return all(p.search(text) for p in self.patterns)


def _fold(text: str) -> str:
    import unicodedata

    if text.isascii():
        return text.lower()
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def word_query(words: list[str], dialect: str) -> str:
    """The word index's query: every word whole, the last also as the start of one ("pohon tum"
    finds "pohon tumbang"). Whole words keep a common one cheap: a prefix of a word in every
    report would make the index merge the lists of every word it starts."""
    if dialect == "sqlite":
        return " ".join(f'"{w}"' for w in words[:-1]) + (" " if len(words) > 1 else "") + f'"{words[-1]}"*'
    return " & ".join([*words[:-1], f"{words[-1]}:*"])


def _walk(conn, columns, conds, order, need: int, test) -> list:
    """Rows along ``order`` whose text passes ``test``, until ``need`` are found or the rows end:
    windows of growing size read by the order's own index (never a sort of every match), each row
    read as its key and its text only; the rows found are then read whole by key."""
    r = db.reports
    key = literal_column("reports.rowid").label("_k") if conn.dialect.name == "sqlite" else r.c.id.label("_k")
    found, offset, window = [], 0, WALK_FIRST
    while len(found) < need:
        rows = conn.execute(select(key, r.c.description, r.c.address).where(*conds).order_by(*order)
                            .limit(window).offset(offset)).all()
        found += [row[0] for row in rows if test(row[1], row[2])]
        if len(rows) < window:
            break
        offset += window
        window *= 2
        if offset >= WALK_MAX and len(found) < need:
            raise _TooSparse
    found = found[:need]
    if not found:
        return []
    whole = {row._k: row for row in conn.execute(select(*columns, key).where(key.in_(found)))}
    return [whole[k] for k in found if k in whole]


def _text_keys(conn, words: list[str], few: int):
    """The keys of a text search's matches when they are at most ``few`` (else None), by the word
    index alone: SQLite's FTS5 stops at ``few + 1``. PostgreSQL's GIN index cannot stop early, so
    its planner's estimate tells a common word (None) from a rarer one ("read": the page's read
    then takes the index and checks the number itself)."""
    if conn.dialect.name == "sqlite":
        keys = [row[0] for row in conn.exec_driver_sql(
            "SELECT rowid FROM reports_fts WHERE reports_fts MATCH ? LIMIT ?", (word_query(words, "sqlite"), few + 1))]
        return keys if len(keys) <= few else None
    match = f"{search._TEXT_SQL} @@ to_tsquery('simple', %(q)s)"
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM reports WHERE {match}",
                                {"q": word_query(words, "postgresql")}).scalar()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return None if plan[0]["Plan"]["Plan Rows"] > few else "read"


def _count_walk(conn, conds, cap: int, test) -> int:
    """How many rows of ``conds`` pass ``test``, counting at most ``cap``: the rows streamed in the
    table's own order (no sort) and the read stopped there."""
    r = db.reports
    n = seen = 0
    result = conn.execution_options(stream_results=True, yield_per=2000).execute(
        select(r.c.description, r.c.address).where(*conds))
    try:
        for row in result:
            seen += 1
            if test(row.description, row.address):
                n += 1
                if n >= cap:
                    break
            if seen >= WALK_MAX * 4 and n < cap:
                raise _TooSparse
    finally:
        result.close()
    return n


class words_match(ColumnElement):
    """Every match of a text search by the word index (``word_query``): the fallback of a sparse
    walk, and the condition of the counts and exports."""
    type = Boolean()
    inherit_cache = False

    def __init__(self, words: list[str]):
        self.words = list(words)


@compiles(words_match, "sqlite")
def _words_match_sqlite(element, compiler, **kw):
    bound = compiler.process(literal(word_query(element.words, "sqlite")), **kw)
    return f"reports.rowid IN (SELECT rowid FROM reports_fts WHERE reports_fts MATCH {bound})"


@compiles(words_match)
def _words_match_postgresql(element, compiler, **kw):
    bound = compiler.process(literal(word_query(element.words, "postgresql")), **kw)
    return f"{search._TEXT_SQL} @@ to_tsquery('simple', {bound})"


def text_condition(conn, words: list[str]):
    return words_match(words)


def _text_page(conn, preset, flt: QueueFilter, user, now: datetime, words: list[str], offset: int,
               count_cap: int | None):
    """A text search's page and count (at most ``count_cap``; None: no count). Few matches (at most
    ``search.FEW``): their keys from the word index, then one read of them with the other filters,
    ordered here. Many: the queue's own ordered reads walked, each row's text tested
    (``WordTest``), so a common word never collects every match. Answers (rows, total, few)."""
    from dataclasses import replace

    r = db.reports
    columns = [r.c[name] for name in QUEUE_COLUMNS]
    few = search.FEW
    keys = _text_keys(conn, words, few)
    plain = replace(flt, q=None)
    found = None
    if keys == "read":
        found = conn.execute(select(*columns).where(*_conditions(preset, plain, user, now), words_match(words))
                             .limit(few + 1)).all()
        found = found if len(found) <= few else None
    elif keys is not None:
        found = conn.execute(select(*columns).where(*_conditions(preset, plain, user, now),
                                                    literal_column("reports.rowid").in_(keys))).all() if keys else []
    if found is not None:
        found.sort(key=_sort_key(flt, now))
        return found[offset:offset + PAGE_SIZE], len(found), True
    test = WordTest(words)

    def fetch(conds, order, need):
        return _walk(conn, columns, conds, order, need, test)

    if flt.sort == "work":
        rows = _work_rows(conn, preset, plain, user, now, offset, PAGE_SIZE, fetch=fetch)
    else:
        rows = fetch(_conditions(preset, plain, user, now), _order(flt, now), offset + PAGE_SIZE)[offset:]
    total = None
    if count_cap is not None:       # state by state, as _capped_count
        total = 0
        for status in (plain.statuses or (None,)):
            here = replace(plain, statuses=(status,)) if status else plain
            total += _count_walk(conn, _conditions(preset, here, user, now), count_cap - total, test)
            if total >= count_cap:
                break
    return rows, total, False


def _capped_count(conn, preset, flt: QueueFilter, user, now: datetime, text_cond, cap: int) -> int:
    """How many match, counting at most ``cap``: one short index range per state (a planner given
    ``status IN (five states)`` may scan the table instead), stopping once ``cap`` is reached."""
    from dataclasses import replace

    r = db.reports
    # SQLite, a category among open states: one read of the open reports' (city, category) index beats
    # a range per state that must look up each row's category (PostgreSQL's planner does worse with it)
    if len(flt.statuses) < 2 or (flt.category and set(flt.statuses) <= set(OPEN_STATUSES)
                                 and conn.dialect.name == "sqlite"):
        conds = _conditions(preset, flt, user, now, text_cond)
        return conn.execute(select(func.count()).select_from(
            select(r.c.city).where(*conds).limit(cap).subquery())).scalar_one()
    base = _conditions(preset, replace(flt, statuses=()), user, now, text_cond)
    total = 0
    for status in flt.statuses:
        total += conn.execute(select(func.count()).select_from(
            select(r.c.city).where(*base, r.c.status == status).limit(cap - total).subquery())).scalar_one()
        if total >= cap:
            break
    return total


def _page_rows(conn, preset, flt: QueueFilter, user, now: datetime, offset: int, text_cond, count_cap):
    r = db.reports
    if flt.sort == "work":
        rows = _work_rows(conn, preset, flt, user, now, offset, PAGE_SIZE, text_cond)
    else:
        conds = _conditions(preset, flt, user, now, text_cond)
        rows = conn.execute(select(*[r.c[name] for name in QUEUE_COLUMNS]).where(*conds)
                            .order_by(*_order(flt, now)).limit(PAGE_SIZE).offset(offset)).all()
    total = _capped_count(conn, preset, flt, user, now, text_cond, count_cap) if count_cap is not None else None
    return rows, total


def page(engine, preset, flt: QueueFilter, user, page_no: int = 0, now: datetime | None = None,
         count_limit: int = 10_000, with_total: bool = True) -> dict:
    """One page of 50 with an SLA view per row; ``total`` counts up to ``count_limit`` (shown '10000+');
    ``with_total=False``: the page alone (a push keeps its count by ``counts_of``), total None."""
    now = now or datetime.now(timezone.utc)
    r = db.reports
    offset = max(page_no, 0) * PAGE_SIZE
    kind, words = search_kind(flt.q, preset) if flt.q else (None, None)
    with engine.connect() as conn:
        if kind == "text" and words:
            try:
                rows, total, few = _text_page(conn, preset, flt, user, now, words, offset,
                                              min(count_limit, SEARCH_COUNT_MAX) + 1 if with_total else None)
                count_limit = count_limit if few else min(count_limit, SEARCH_COUNT_MAX)
            except _TooSparse:      # a common word, rare along this order: the word index collects them
                rows, total = _page_rows(conn, preset, flt, user, now, offset, text_condition(conn, words),
                                         min(count_limit, SEARCH_COUNT_MAX) + 1 if with_total else None)
                count_limit = min(count_limit, SEARCH_COUNT_MAX)
        else:
            rows, total = _page_rows(conn, preset, flt, user, now, offset, None,
                                     count_limit + 1 if with_total else None)
    items = []
    for row in rows:
        view = sla.assess(row, preset, now)
        item = {name: getattr(row, name) for name in QUEUE_COLUMNS}
        for key in ("created_at", "sla_due_at", "resolved_at"):
            item[key] = item[key].isoformat() if item[key] else None
        item.update(sla_state=view["state"], overdue=view["overdue"],
                    expected_datetime=view["expected_datetime"].isoformat(),
                    countdown=sla.countdown(view["remaining_s"]), remaining_s=view["remaining_s"])
        items.append(item)
    if total is None:
        return {"items": items, "page": page_no, "page_size": PAGE_SIZE, "total": None, "total_capped": None}
    return {"items": items, "page": page_no, "page_size": PAGE_SIZE, "total": min(total, count_limit),
            "total_capped": total > count_limit}


def state_counts(engine, preset, flt: QueueFilter, user, now: datetime | None = None) -> dict[str, int]:
    """How many reports of each state match the other filters (the state filter itself left out)."""
    from dataclasses import replace

    now = now or datetime.now(timezone.utc)
    r = db.reports
    conds = _conditions(preset, replace(flt, statuses=()), user, now)
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.status, func.count()).where(*conds).group_by(r.c.status)).all()
    return {status: n for status, n in rows}


def counts_of(engine, preset, flt: QueueFilter, user, report_ids: list[str],
              now: datetime | None = None) -> tuple[dict[str, int], int]:
    """What the given reports add to the console's counts: per state (the state filter left out, as
    ``state_counts``) and how many match the whole filter (the page's total). One read by key."""
    from dataclasses import replace

    now = now or datetime.now(timezone.utc)
    r = db.reports
    if not report_ids:
        return {}, 0
    conds = _conditions(preset, replace(flt, statuses=()), user, now)
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.status, func.count()).where(*conds, r.c.id.in_(report_ids))
                            .group_by(r.c.status)).all()
    per_state = {status: n for status, n in rows}
    matching = sum(n for status, n in per_state.items() if not flt.statuses or status in flt.statuses)
    return per_state, matching


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
             .order_by(*_order(flt, now)))
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
        for row in result:
            yield row


TIME_COLUMNS = ("created_at", "sla_due_at", "resolved_at")
CODE_COLUMNS = {"status": "dispatch.status.", "priority": "dispatch.priority."}
# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_WIDTHS = {"ticket": 18, "description": 60, "address": 40, "kecamatan_name": 22, "kelurahan_name": 22,
                 "category": 22, "created_at": 18, "sla_due_at": 18, "resolved_at": 18}


def _cell(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def spreadsheet_text(value: str) -> str:
    """Text as a spreadsheet must show it, never run it: a leading ``'`` before a formula start."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _safe(value):
    """A CSV/XLSX cell: numbers stay numbers; every other value is inert text."""
    if value is None or isinstance(value, (bool, int, float, datetime)):
        return value
    return spreadsheet_text(str(value))


class ExportWords:
    """The export in the reader's language: headers, state/priority/category names, local times."""

    def __init__(self, preset=None, lang: str = "id"):
        from zoneinfo import ZoneInfo

        self.lang = lang if lang in ("id", "en") else "id"
        self.zone = ZoneInfo(preset.timezone) if preset is not None else timezone.utc
        self.zone_label = preset.tz_label if preset is not None else "UTC"
        self.headers = [t(f"dispatch.col.{c}", self.lang, zone=self.zone_label) for c in EXPORT_COLUMNS]
        self.categories = {c.code: c.name(self.lang) for c in CATEGORIES}
        self.codes = {col: {code: t(prefix + code, self.lang) for code in _codes(col)}
                      for col, prefix in CODE_COLUMNS.items()}

    def local(self, value):
        """An aware local datetime (naive for a spreadsheet cell: the header names the zone)."""
        if value is None:
            return None
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(self.zone).replace(tzinfo=None)

    def values(self, row, text_times: bool):
        out = []
        for name, value in zip(EXPORT_COLUMNS, row):
            if name in TIME_COLUMNS:
                local = self.local(value)
                out.append(local.strftime("%Y-%m-%d %H:%M") if text_times and local else local)
            elif name == "category":
                out.append(self.categories.get(value, value))
            elif name in self.codes:
                out.append(self.codes[name].get(value, value))
            else:
                out.append(_safe(value))
        return out


def _codes(column: str):
    return [s.value for s in Status] if column == "status" else list(PRIORITIES)


def export_name(preset, fmt: str, now: datetime | None = None) -> str:
    """``pantau-jakarta-2026-12-01.csv``: the city and the local date."""
    from zoneinfo import ZoneInfo

    now = now or datetime.now(timezone.utc)
    return f"pantau-{preset.slug}-{now.astimezone(ZoneInfo(preset.timezone)).date().isoformat()}.{fmt}"


def write_export(rows, fmt: str, out, progress=None, preset=None, lang: str = "id", delimiter: str = ";") -> int:
    """Write ``rows`` to the binary file ``out`` as csv, xlsx or geojson; returns the row count.
    Headers and values are in ``lang``, times in the city's zone (``preset``; UTC without one).
    The CSV carries a UTF-8 byte-order mark and ``;`` between fields (what Excel in an Indonesian
    locale reads as columns); the XLSX a frozen header, a filter and column widths.
    ``progress(n)`` is called every 5,000 rows."""
    words = ExportWords(preset, lang)
    n = 0
    if fmt == "csv":
        if delimiter not in (";", ",", "\t"):
            raise ValueError("delimiter: one of ; , or tab")
        text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
        writer = csv.writer(text, delimiter=delimiter)
        writer.writerow(words.headers)
        for row in rows:
            writer.writerow(words.values(row, text_times=True))
            n += 1
            if progress and n % 5000 == 0:
                progress(n)
        text.flush()
        text.detach()
    elif fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        book = Workbook(write_only=True)
        sheet = book.create_sheet("laporan" if words.lang == "id" else "reports")
        sheet.freeze_panes = "A2"
        for i, name in enumerate(EXPORT_COLUMNS, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = EXPORT_WIDTHS.get(name, 14)
        bold = Font(bold=True)
        header = []
        for label in words.headers:
            cell = WriteOnlyCell(sheet, value=label)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        time_at = {EXPORT_COLUMNS.index(c) for c in TIME_COLUMNS}
        for row in rows:
            values = words.values(row, text_times=False)
            cells = []
            for i, value in enumerate(values):
                if i in time_at and value is not None:
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = "yyyy-mm-dd hh:mm"
                    cells.append(cell)
                elif isinstance(value, str):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"     # text, whatever it starts with: openpyxl would make "=..." a formula
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
            n += 1
            if progress and n % 5000 == 0:
                progress(n)
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(EXPORT_COLUMNS))}{n + 1}"
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
