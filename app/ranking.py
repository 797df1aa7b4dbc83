"""Responsiveness of agencies and areas for the public kiosk, ranked so that closing fast and badly
does not pay.

The formula (shown on the kiosk in one line, copied to the README)::

    score = 100 × resolved share × (speed + rating + (1 − reopened share) + photo share) / 4

over the reports created in the window (30 days), where

* resolved share = reports resolved or closed now / reports received (a reopened or disputed report
  counts as not resolved until it is resolved again; a rejected one as not resolved);
* speed = 24 h / (24 h + median hours from report to its first resolution);
* rating = citizen ratings scaled to 0..1 ((stars − 1) / 4), averaged with two neutral (0.5)
  ratings so a handful of votes cannot swing it;
* reopened share = reports reopened or disputed after a resolution / reports ever resolved;
* photo share = reports ever resolved with an after photo / reports ever resolved.

Only *verified* resolutions count: a resolution the officer's proof of work flagged (``app.proof``:
location not verified, a photo near an earlier one, a photo taken before the assignment, a report
resolved by the staff account that filed it) counts as not resolved, and is tallied apart as
``unverified`` (the staff's figures show verified vs. flagged).

Speed is one quarter of the quality term; a report that is reopened costs its resolution and
its reopened share, and a low rating costs the rating term. An agency, kelurahan or kecamatan
with fewer than ``MIN_REPORTS`` reports in the window (and never fewer than the public k) is
listed as not ranked, without figures.

``responsiveness`` reads the system of record (reports, report_events, report_feedback,
report_actions) with a few grouped queries; ``rank`` is a pure function of what it returns.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, func, select

from app.store import db
from app.store.tables import proof_flags, report_actions, report_feedback
from app.workflow import RESOLVED_STATUSES

FORMULA = {
    "id": "skor = 100 × porsi selesai × (kecepatan + rating + (1 − porsi dibuka ulang) + porsi foto sesudah) / 4"
          " · kecepatan = 24 j / (24 j + median jam) · hanya penyelesaian terverifikasi yang dihitung"
          " · min. {min} laporan / 30 hari",
    "en": "score = 100 × resolved share × (speed + rating + (1 − reopened share) + after-photo share) / 4"
          " · speed = 24 h / (24 h + median hours) · only verified resolutions count"
          " · min. {min} reports / 30 days",
}
MIN_REPORTS = 10
WINDOW_DAYS = 30
SPEED_HALF_H = 24.0
RATING_PRIOR_N = 2
LEVELS = ("agency", "kelurahan", "kecamatan")


@dataclass
class Tally:
    """What one agency or area did with the reports created in the window."""
    received: int = 0
    resolved_now: int = 0
    ever_resolved: int = 0
    reopened: int = 0
    with_photo: int = 0
    hours_to_resolve: list[float] = field(default_factory=list)
    rating_sum: float = 0.0      # sum of (stars - 1) / 4
    rating_count: int = 0
    unverified: int = 0          # resolved, but its proof of work was flagged: counted as not resolved

    def add(self, report: dict) -> None:
        self.received += 1
        if report.get("unverified"):
            self.unverified += 1
        else:
            self.resolved_now += report["status"] in RESOLVED_STATUSES
        if report["hours_to_resolve"] is not None and not report.get("unverified"):
            self.ever_resolved += 1
            self.hours_to_resolve.append(report["hours_to_resolve"])
            self.reopened += report["reopened"] > 0
            self.with_photo += report["after_photo"]
        for stars in report["ratings"]:
            self.rating_sum += (stars - 1) / 4.0
            self.rating_count += 1


def score(t: Tally) -> dict:
    """The ranking figures of one tally (see the module docstring for the formula)."""
    resolved_share = t.resolved_now / t.received if t.received else 0.0
    median_h = statistics.median(t.hours_to_resolve) if t.hours_to_resolve else None
    speed = SPEED_HALF_H / (SPEED_HALF_H + median_h) if median_h is not None else 0.0
    rating = (t.rating_sum + 0.5 * RATING_PRIOR_N) / (t.rating_count + RATING_PRIOR_N)
    reopened_share = t.reopened / t.ever_resolved if t.ever_resolved else 0.0
    photo_share = t.with_photo / t.ever_resolved if t.ever_resolved else 0.0
    value = 100.0 * resolved_share * (speed + rating + (1.0 - reopened_share) + photo_share) / 4.0
    return {"score": round(value, 1), "reports": t.received, "resolved_share": round(resolved_share, 3),
            "median_hours": None if median_h is None else round(median_h, 1), "speed": round(speed, 3),
            "rating": round(rating, 3), "ratings": t.rating_count, "reopened_share": round(reopened_share, 3),
            "photo_share": round(photo_share, 3), "unverified": t.unverified}


def rank(tallies: dict[str, Tally], min_reports: int) -> tuple[list[dict], list[str]]:
    """(ranked rows best first, keys not ranked for having fewer than ``min_reports`` reports)."""
    ranked, unranked = [], []
    for key, tally in tallies.items():
        if tally.received < min_reports:
            unranked.append(key)
        else:
            ranked.append({"key": key, **score(tally)})
    ranked.sort(key=lambda row: (-row["score"], -row["reports"], row["key"]))
    for position, row in enumerate(ranked, 1):
        row["rank"] = position
    return ranked, sorted(unranked)


def window_reports(engine, city: str, now: datetime | None = None, days: int = WINDOW_DAYS) -> list[dict]:
    """One dict per report created in the last ``days`` days: where it is, who handles it, its state,
    hours to its first resolution, reopen count, after photo, ratings and whether its resolution was
    flagged (``unverified``). No contact, no text."""
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    r, e = db.reports, db.report_events
    in_window = and_(r.c.city == city, r.c.created_at >= since)
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.id, r.c.category, r.c.agency, r.c.kelurahan_code, r.c.kelurahan_name,
                                   r.c.kecamatan_code, r.c.kecamatan_name, r.c.status, r.c.created_at,
                                   r.c.resolved_at).where(in_window)).all()
        resolved_event = and_(e.c.kind == "status", e.c.to_status.in_(RESOLVED_STATUSES))
        reopen_event = and_(e.c.to_status == "reopened", e.c.from_status.in_(RESOLVED_STATUSES))
        events = conn.execute(
            select(e.c.report_id, func.min(case((resolved_event, e.c.occurred_at), else_=None)).label("first"),
                   func.sum(case((reopen_event, 1), else_=0)).label("reopened"))
            .select_from(e.join(r, r.c.id == e.c.report_id)).where(in_window).group_by(e.c.report_id)).all()
        f = report_feedback
        ratings = conn.execute(select(f.c.report_id, f.c.rating).select_from(f.join(r, r.c.id == f.c.report_id))
                               .where(in_window, f.c.kind == "rating", f.c.rating.is_not(None))).all()
        a = report_actions
        photos = conn.execute(select(a.c.report_id).distinct().select_from(a.join(r, r.c.id == a.c.report_id))
                              .where(in_window, a.c.action == "resolve", a.c.detail.like('%"after_photo"%'))).all()
        pf = proof_flags
        # A flag of the current resolution: raised at (or after) the last reopening, if any.
        flagged = conn.execute(
            select(pf.c.report_id, func.max(pf.c.occurred_at).label("at")).select_from(pf.join(r, r.c.id == pf.c.report_id))
            .where(in_window, pf.c.action == "resolve").group_by(pf.c.report_id)).all()
        reopened_at = dict(conn.execute(
            select(e.c.report_id, func.max(e.c.occurred_at)).select_from(e.join(r, r.c.id == e.c.report_id))
            .where(in_window, reopen_event).group_by(e.c.report_id)).all())
    first_resolved = {row.report_id: (_aware(row.first), int(row.reopened or 0)) for row in events}
    stars: dict[str, list[int]] = {}
    for row in ratings:
        stars.setdefault(row.report_id, []).append(int(row.rating))
    with_photo = {row.report_id for row in photos}
    unverified = {row.report_id for row in flagged
                  if reopened_at.get(row.report_id) is None or _aware(row.at) >= _aware(reopened_at[row.report_id])}
    out = []
    for row in rows:
        first, reopened = first_resolved.get(row.id, (None, 0))
        first = first or _aware(row.resolved_at)   # imported already resolved: no status event
        created = _aware(row.created_at)
        out.append({"id": row.id, "category": row.category, "agency": row.agency,
                    "kelurahan": (row.kelurahan_code, row.kelurahan_name),
                    "kecamatan": (row.kecamatan_code, row.kecamatan_name), "status": row.status,
                    "hours_to_resolve": None if first is None else max((first - created).total_seconds(), 0) / 3600,
                    "reopened": reopened, "after_photo": row.id in with_photo, "ratings": stars.get(row.id, []),
                    "unverified": row.status in RESOLVED_STATUSES and row.id in unverified})
    return out


def _aware(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def tallies(reports: list[dict], level: str) -> dict:
    """key -> Tally per agency code or per (code, name) of kelurahan/kecamatan; reports with no
    value at that level are left out."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)} (got {level!r})")
    out: dict = {}
    for report in reports:
        key = report[level]
        if level != "agency":
            key = key if key[0] else None
        if key:
            out.setdefault(key, Tally()).add(report)
    return out
