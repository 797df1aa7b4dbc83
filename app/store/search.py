"""Search indexes of the reports table, kept by the database itself on every insert and update.

* **Words** of the description and the address: SQLite FTS5 (``reports_fts``, external content on
  the reports' rowid; new rows are indexed in one statement per batch by the bulk write,
  ``app.store.db.bulk_insert_ignore``, edits and deletions by two triggers), PostgreSQL a GIN index on
  ``to_tsvector('simple', description || ' ' || address)`` (an expression index: no trigger needed).
  The console (``app.staff.queue``) asks for every word whole but the last, which may be the
  start of one ("pohon tum" finds "pohon tumbang"): a prefix of a word in every report ("jalan*")
  made FTS5 merge a million postings. ``text_match`` below still takes each word as a prefix.
* **The reporter's phone** by its last nine digits (``0812 3456 7890``, ``+62 812-3456-7890`` and
  ``6281234567890`` all end ``234567890``): an expression index on (city, the digits' tail), the
  same expression in the query, so a lookup is one index probe. Staff only (``app.staff.queue``).

A SQLite ``VACUUM`` may renumber the rowids of a table without an integer primary key: run
``python -m app.store.search rebuild`` after one (nothing in Pantau vacuums).
"""
from __future__ import annotations

import re
import sys

from sqlalchemy import DDL, Index, event, func, literal, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.types import Boolean, String

from app.store import db
from config.settings import Settings

PHONE_DIGITS = 9        # the tail that identifies a number whatever its prefix (0, 62, +62)
WORDS_MAX = 6
_MARKS = (" ", "-", "(", ")", ".", "+")


class phone_tail(FunctionElement):
    """The last nine digits of a phone column (its separators and ``+`` removed)."""
    type = String()
    inherit_cache = True
    name = "phone_tail"


def _stripped(compiler, element, **kw) -> str:
    inner = compiler.process(list(element.clauses)[0], **kw)
    for mark in _MARKS:
        inner = f"replace({inner}, '{mark}', '')"
    return inner


@compiles(phone_tail, "sqlite")
def _phone_tail_sqlite(element, compiler, **kw):
    return f"substr({_stripped(compiler, element, **kw)}, -{PHONE_DIGITS})"


@compiles(phone_tail)
def _phone_tail_default(element, compiler, **kw):
    return f"right({_stripped(compiler, element, **kw)}, {PHONE_DIGITS})"


def phone_key(value: str) -> str | None:
    """The indexed form of a typed number, or None when it has too few digits to be one."""
    digits = re.sub(r"\D", "", value or "")
    return digits[-PHONE_DIGITS:] if len(digits) >= PHONE_DIGITS else None


_TEXT_SQL = "to_tsvector('simple', (coalesce(description, '') || ' ') || coalesce(address, ''))"

Index("ix_reports_city_phone_tail", db.reports.c.city, phone_tail(db.reports.c.reporter_phone))
_r = db.reports
# the same expression as _TEXT_SQL (constants inline, so the query's text matches the index's)
Index("ix_reports_text", func.to_tsvector(literal_column("'simple'"), func.coalesce(_r.c.description, literal_column("''"))
                                          .op("||")(literal_column("' '"))
                                          .op("||")(func.coalesce(_r.c.address, literal_column("''")))),
      postgresql_using="gin", _table=_r).ddl_if(dialect="postgresql")

FTS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS reports_fts USING fts5(description, address, content='reports', "
    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS reports_fts_delete AFTER DELETE ON reports BEGIN "
    "INSERT INTO reports_fts(reports_fts, rowid, description, address) "
    "VALUES ('delete', old.rowid, old.description, old.address); END",
    "CREATE TRIGGER IF NOT EXISTS reports_fts_update AFTER UPDATE OF description, address ON reports BEGIN "
    "INSERT INTO reports_fts(reports_fts, rowid, description, address) "
    "VALUES ('delete', old.rowid, old.description, old.address); "
    "INSERT INTO reports_fts(rowid, description, address) VALUES (new.rowid, new.description, new.address); END",
)
# No insert trigger (migration 0006 drops the one 0004 made): a per-row trigger into FTS5 made each
# insert three times as costly once the table had its dozen indexes (SQLite runs the batch's
# inserts and then one INSERT … SELECT, ``db.SQLITE_INDEX_NEW_WORDS``, for a third of the time).
FTS_TRIGGERS = ("reports_fts_insert", "reports_fts_delete", "reports_fts_update")
# the FTS5 table's own storage, reflected as tables: not part of the metadata (migrations ignore them)
FTS_TABLES = ("reports_fts", "reports_fts_data", "reports_fts_idx", "reports_fts_docsize", "reports_fts_config",
              "reports_fts_content")

for _statement in FTS_DDL:
    event.listen(db.reports, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
event.listen(db.reports, "before_drop", DDL("DROP TABLE IF EXISTS reports_fts").execute_if(dialect="sqlite"))


def create_sqlite_index(conn) -> None:
    """The FTS5 table and its triggers, filled from the reports already there (migration 0004)."""
    for statement in FTS_DDL:
        conn.exec_driver_sql(statement)
    rebuild(conn)


def rebuild(conn) -> None:
    """Refill the word index from the reports (SQLite; PostgreSQL's index is never stale)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("INSERT INTO reports_fts(reports_fts) VALUES ('rebuild')")


def drop_triggers(conn) -> None:
    """Bulk loads (bench, restore) drop the triggers, load, then ``create_sqlite_index``."""
    for name in FTS_TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def words_of(query: str) -> list[str]:
    """The words searched: letters and digits only (no query syntax reaches the engine)."""
    return [w for w in re.findall(r"\w+", (query or "").lower()) if w][:WORDS_MAX]


class text_match(ColumnElement):
    """Reports whose description or address holds every word (each also as a prefix)."""
    type = Boolean()
    inherit_cache = False

    def __init__(self, words: list[str]):
        self.words = list(words)


@compiles(text_match, "sqlite")
def _text_match_sqlite(element, compiler, **kw):
    query = " ".join(f'"{w}"*' for w in element.words)
    bound = compiler.process(literal(query), **kw)
    return f"reports.rowid IN (SELECT rowid FROM reports_fts WHERE reports_fts MATCH {bound})"


@compiles(text_match)
def _text_match_postgresql(element, compiler, **kw):
    query = " & ".join(f"{w}:*" for w in element.words)
    bound = compiler.process(literal(query), **kw)
    return f"{_TEXT_SQL} @@ to_tsquery('simple', {bound})"


class text_probe(ColumnElement):
    """The same match tested row by row (no index): for a word so common that walking the queue's
    own ordered index and testing each row finds a page sooner than collecting every match."""
    type = Boolean()
    inherit_cache = False

    def __init__(self, words: list[str]):
        self.words = list(words)


@compiles(text_probe, "sqlite")
def _text_probe_sqlite(element, compiler, **kw):
    query = " ".join(f'"{w}"*' for w in element.words)
    bound = compiler.process(literal(query), **kw)
    return (f"EXISTS (SELECT 1 FROM reports_fts WHERE reports_fts MATCH {bound} "
            f"AND reports_fts.rowid = reports.rowid)")


@compiles(text_probe)
def _text_probe_postgresql(element, compiler, **kw):
    query = " & ".join(f"{w}:*" for w in element.words)
    bound = compiler.process(literal(query), **kw)
    # written unlike the index's expression on purpose: the planner must not pick the GIN index here
    return f"to_tsvector('simple', description || ' ' || coalesce(address, '')) @@ to_tsquery('simple', {bound})"


FEW = 5000     # up to this many matches are collected first; more are tested row by row


def text_condition(conn, words: list[str], few: int | None = None):
    """The word condition for this search and whether its matches are few: at most ``few`` are
    collected by the word index (a short read) and named by key; more, and each row of the queue's
    ordered read is tested instead (``text_probe``). Answers (condition, few)."""
    from sqlalchemy import select

    few = FEW if few is None else few
    if conn.dialect.name == "sqlite":
        query = " ".join(f'"{w}"*' for w in words)
        keys = [row[0] for row in conn.exec_driver_sql(
            "SELECT rowid FROM reports_fts WHERE reports_fts MATCH ? LIMIT ?", (query, few + 1))]
        column = literal_column("reports.rowid")
    else:
        keys = list(conn.execute(select(db.reports.c.id).where(text_match(words)).limit(few + 1)).scalars())
        column = db.reports.c.id
    if len(keys) > few:
        return text_probe(words), False
    return column.in_(keys), True


def main(argv: list[str] | None = None) -> int:
    """``python -m app.store.search rebuild``: refill the SQLite word index."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["rebuild"]:
        print("usage: python -m app.store.search rebuild", file=sys.stderr)
        return 2
    engine = db.make_engine(Settings.for_command().resolved_database_url())
    try:
        with engine.begin() as conn:
            rebuild(conn)
    finally:
        engine.dispose()
    print("rebuilt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
