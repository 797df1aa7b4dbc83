"""The public, anonymized view of the city behind the kiosk: JSON under ``/api/public/...``.

Rules every figure here obeys:

* no personal data: no names, phones, emails or contact fields; no free text unless staff approved
  it for public view (``approve``); locations only as H3 cell ids or cell centers;
* ordinary categories at resolution 7 at the finest; sensitive categories (social aid, health,
  public order) only at resolution 6, never in kelurahan/kecamatan figures, and never with a
  count from 1 to k-1 (``PANTAU_PUBLIC_K``);
* cached in Redis for a few seconds (one recomputation per city, whatever the number of screens),
  with ``Cache-Control`` so browsers and proxies share the load too.

The ranking formula is in ``app.ranking``.
"""
from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import Counter, defaultdict

import h3
from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select

from app import queries, ranking
from app.audit import cli_actor
from app.photos import thumb_ref_of
from app.privacy import is_sensitive
from app.services import Services
from app.staff import actions
from app.store import db
from app.store.tables import public_approved
from app.workflow import RESOLVED_STATUSES

MAP_RESOLUTION = 7
SENSITIVE_RESOLUTION = 6
PHOTO_RESOLUTION = 8          # recently resolved items are placed at this cell's center
COUNT_WINDOWS = ("today", "7d")
FAST_TTL_S = 5                # live counts and hexes
SLOW_TTL_S = 30               # rankings, agencies, recently resolved
RECENT_LIMIT = 8
log = logging.getLogger(__name__)


# --- the public figures (pure reads; cached below) ----------------------------------------------

def _k(services) -> int:
    return services.settings.public_k


def _suppress(count: int, k: int) -> int | None:
    """A count the public may see: 0 or at least k; 1..k-1 becomes None."""
    return count if count == 0 or count >= k else None


def summary(services) -> dict:
    """Counts today and in the last 7 days, city-wide and by category (sensitive ones k-suppressed)."""
    k = _k(services)
    out = {"k": k, "city": services.preset.name, "tz": services.preset.tz_label}
    for window_name in COUNT_WINDOWS:
        kpi = queries.kpis(services.redis, services.preset, window_name)
        by_category = {}
        for code, figures in kpi["by_category"].items():
            if is_sensitive(code):
                figures = {name: _suppress(n, k) for name, n in figures.items()}
            by_category[code] = {"received": figures["received"], "resolved": figures["resolved"]}
        out[window_name] = {"received": kpi["received"], "resolved": kpi["resolved"],
                            "open_backlog": kpi["open_backlog"], "median_resolve_s": kpi["median_resolve_s"],
                            "by_category": by_category}
    return out


def hexes(services, window_name: str = "today") -> dict:
    """Ordinary reports per res-7 cell; sensitive ones per res-6 cell and category, only counts >= k."""
    if window_name not in COUNT_WINDOWS:
        raise ValueError(f"window must be one of {', '.join(COUNT_WINDOWS)}")
    k, keys, win = _k(services), services.keys, queries.window(window_name, services.preset.timezone)
    ordinary: Counter = Counter()
    for field, count in queries.cell_category_counts(services.redis, keys, MAP_RESOLUTION, win).items():
        cell, category, _ = field.split("|")
        if not is_sensitive(category):
            ordinary[cell] += int(count)
    sensitive: dict = defaultdict(Counter)
    for field, count in queries.cell_category_counts(services.redis, keys, SENSITIVE_RESOLUTION, win).items():
        cell, category, _ = field.split("|")
        if is_sensitive(category):
            sensitive[cell][category] += int(count)
    return {"window": window_name, "resolution": MAP_RESOLUTION, "k": k,
            "cells": {cell: n for cell, n in ordinary.items() if n > 0},
            "sensitive": {"resolution": SENSITIVE_RESOLUTION,
                          "cells": {cell: {c: n for c, n in cats.items() if n >= k}
                                    for cell, cats in sensitive.items() if any(n >= k for n in cats.values())}}}


def _agency_names(services) -> dict:
    return {a.code: {"id": a.name_id, "en": a.name_en} for a in services.preset.agencies}


def agencies(services, reports: list[dict] | None = None) -> dict:
    """Per agency, reports of the last 30 days: received, resolution rate, median hours to resolve.
    An agency with fewer than k reports shows no figures."""
    k = _k(services)
    reports = ranking.window_reports(services.read_engine, services.preset.slug) if reports is None else reports
    tallies = ranking.tallies(reports, "agency")
    rows = []
    for code, names in _agency_names(services).items():
        tally = tallies.get(code, ranking.Tally())
        if tally.received < k:
            rows.append({"code": code, "name": names, "reports": None, "resolution_rate": None,
                         "median_hours": None})
            continue
        figures = ranking.score(tally)
        rows.append({"code": code, "name": names, "reports": tally.received,
                     "resolution_rate": figures["resolved_share"], "median_hours": figures["median_hours"]})
    rows.sort(key=lambda r: (r["reports"] is None, -(r["resolution_rate"] or 0), r["code"]))
    return {"window_days": ranking.WINDOW_DAYS, "k": k, "agencies": rows}


def min_reports(services) -> int:
    return max(ranking.MIN_REPORTS, _k(services))


def ranking_of(services, level: str, reports: list[dict] | None = None) -> dict:
    """The responsiveness ranking of agencies, kelurahan or kecamatan (areas: ordinary categories only)."""
    if level not in ranking.LEVELS:
        raise ValueError(f"level must be one of {', '.join(ranking.LEVELS)}")
    reports = ranking.window_reports(services.read_engine, services.preset.slug) if reports is None else reports
    if level != "agency":
        reports = [r for r in reports if not is_sensitive(r["category"])]
    minimum = min_reports(services)
    names = _agency_names(services)
    tallies = ranking.tallies(reports, level)
    if level == "agency":   # every agency of the city appears, ranked or not
        tallies = {code: tallies.get(code, ranking.Tally()) for code in {*names, *tallies}}
    ranked, unranked = ranking.rank(tallies, minimum)

    def label(key):
        if level == "agency":
            return {"code": key, "name": names.get(key, {"id": key, "en": key})}
        return {"code": key[0], "name": {"id": key[1] or key[0], "en": key[1] or key[0]}}

    return {"level": level, "window_days": ranking.WINDOW_DAYS, "min_reports": minimum,
            "formula": {lang: text.format(min=minimum) for lang, text in ranking.FORMULA.items()},
            "ranked": [{**label(row.pop("key")), **row} for row in ranked],
            "not_ranked": [label(key) for key in unranked]}


def _photo_url(ref: str | None) -> str | None:
    thumb = thumb_ref_of(ref) if ref else None
    return f"/photos/{thumb}" if thumb else None


def recently_resolved(services, limit: int = RECENT_LIMIT) -> dict:
    """Resolved reports staff approved for public view, newest approval first: category, area,
    cell center, before/after photos (thumbnails), and the approved text only."""
    r, a = db.reports, public_approved
    with services.read_engine.connect() as conn:
        rows = conn.execute(select(r.c.id, r.c.category, r.c.kelurahan_name, r.c.kecamatan_name, r.c.h3_cell,
                                   r.c.photos, r.c.created_at, r.c.resolved_at, a.c.public_text)
                            .select_from(a.join(r, r.c.id == a.c.report_id))
                            .where(r.c.city == services.preset.slug, r.c.status.in_(RESOLVED_STATUSES))
                            .order_by(a.c.approved_at.desc()).limit(limit * 3)).all()
    items = []
    for row in rows:
        if is_sensitive(row.category):
            continue   # never shown as an individual item, approved or not
        cell = h3.cell_to_parent(row.h3_cell, PHOTO_RESOLUTION)
        lat, lng = h3.cell_to_latlng(cell)
        befores, afters = json.loads(row.photos or "[]"), actions.after_photos(services.read_engine, row.id)
        created, resolved = ranking._aware(row.created_at), ranking._aware(row.resolved_at)
        items.append({"category": row.category, "kelurahan": row.kelurahan_name, "kecamatan": row.kecamatan_name,
                      "cell": cell, "lat": round(lat, 4), "lng": round(lng, 4),
                      "resolved_at": resolved.isoformat() if resolved else None,
                      "hours_to_resolve": round((resolved - created).total_seconds() / 3600, 1) if resolved else None,
                      "before_photo": _photo_url(befores[0] if befores else None),
                      "after_photo": _photo_url(afters[-1] if afters else None), "text": row.public_text})
        if len(items) >= limit:
            break
    return {"items": items}


# --- cache ---------------------------------------------------------------------------------------

def responsiveness(services) -> dict:
    """Agencies and the three rankings from one read of the window's reports (refreshed together)."""
    reports = ranking.window_reports(services.read_engine, services.preset.slug)
    out = {"agencies": agencies(services, reports)}
    for level in ranking.LEVELS:
        out[f"ranking:{level}"] = ranking_of(services, level, reports)
    return out


def _store(services, figures: dict, ttl_s: float) -> dict[str, str]:
    """Write each figure's JSON, stamped with the time it was computed; returns the JSON texts."""
    stamp, bodies = f"{time.time():.3f}", {}
    pipe = services.redis.pipeline(transaction=False)
    for name, data in figures.items():
        bodies[name] = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
        key = services.keys.public_cache(name)
        pipe.set(key, f"{stamp}|{bodies[name]}", ex=int(ttl_s * 20) + 1)
        pipe.delete(f"{key}:lock")
    pipe.execute()
    return bodies


def cached_json(services, name: str, ttl_s: float, compute) -> str:
    """The JSON text of figure ``name``; ``compute()`` answers {name: data, ...} (it may refresh
    sibling figures in the same go). Recomputed at most once per ``ttl_s`` per city.

    Stale-while-revalidate: when the entry is older than ``ttl_s``, one caller (holding a short
    Redis lock) starts a background refresh and everybody keeps serving the previous text, so no
    request waits for a recomputation except the very first.
    """
    key = services.keys.public_cache(name)
    raw = services.redis.get(key)
    if raw is None:
        return _store(services, compute(), ttl_s)[name]
    stamp, _, body = (raw.decode() if isinstance(raw, bytes) else raw).partition("|")
    if time.time() - float(stamp) >= ttl_s and services.redis.set(f"{key}:lock", "1", nx=True, ex=30):
        threading.Thread(target=_refresh, args=(services, compute, ttl_s), daemon=True,
                         name=f"public-refresh-{name}").start()
    return body


def _refresh(services, compute, ttl_s: float) -> None:
    try:
        _store(services, compute(), ttl_s)
    except Exception:   # the lock expires and the next request retries; the stale figure stays served
        log.exception("refreshing a public figure failed")


def refresh_slow(services) -> None:
    """Recompute the slow figures now (agencies, rankings, recently resolved). Run by
    ``python -m app.public refresh --every S`` in its own process, so that the web process only
    serves cached text and never pays the GIL for a recomputation while kiosks are waiting."""
    _store(services, {**responsiveness(services), "resolved": recently_resolved(services)}, SLOW_TTL_S)


def payload(services, name: str, arg: str | None = None) -> dict:
    """A public figure by name (as the endpoints serve it), through the cache."""
    body, _ = _cached(services, name, arg)
    return json.loads(body)


def _cached(services, name: str, arg: str | None) -> tuple[str, int]:
    if name == "summary":
        return cached_json(services, "summary", FAST_TTL_S, lambda: {"summary": summary(services)}), FAST_TTL_S
    if name == "hexes":
        arg = arg or "today"
        if arg not in COUNT_WINDOWS:
            raise ValueError(f"window must be one of {', '.join(COUNT_WINDOWS)}")
        return cached_json(services, f"hexes:{arg}", FAST_TTL_S,
                           lambda: {f"hexes:{arg}": hexes(services, arg)}), FAST_TTL_S
    if name == "agencies":
        return cached_json(services, "agencies", SLOW_TTL_S, lambda: responsiveness(services)), SLOW_TTL_S
    if name == "ranking":
        arg = arg or "agency"
        if arg not in ranking.LEVELS:
            raise ValueError(f"level must be one of {', '.join(ranking.LEVELS)}")
        return cached_json(services, f"ranking:{arg}", SLOW_TTL_S, lambda: responsiveness(services)), SLOW_TTL_S
    if name == "resolved":
        return cached_json(services, "resolved", SLOW_TTL_S,
                           lambda: {"resolved": recently_resolved(services)}), SLOW_TTL_S
    raise KeyError(name)


# --- HTTP ----------------------------------------------------------------------------------------

blueprint = Blueprint("public", __name__, url_prefix="/api/public")
ENDPOINTS = {"summary": None, "hexes": "window", "agencies": None, "ranking": "level", "resolved": None}


def _json(body: str, max_age: int) -> Response:
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/")
def index():
    return _json(json.dumps({"endpoints": [f"/api/public/{n}" + (f"?{p}=" if p else "")
                                           for n, p in ENDPOINTS.items()] + ["/api/public/outlines"]}), 3600)


@blueprint.get("/<name>")
def endpoint(name: str):
    if name not in ENDPOINTS:
        abort(404)
    services = current_app.extensions["pantau"]
    param = ENDPOINTS[name]
    try:
        body, ttl = _cached(services, name, request.args.get(param) if param else None)
    except ValueError as err:
        return _json(json.dumps({"error": str(err)}), 60), 400
    return _json(body, ttl)


@blueprint.get("/outlines")
def outlines():
    services = current_app.extensions["pantau"]
    body = cached_json(services, "outlines", 3600, lambda: {"outlines": services.areas.outlines_geojson("district")})
    return _json(body, 3600)


# --- command line: staff approve or withdraw an item for public view --------------------------

def main(argv: list[str] | None = None) -> int:
    """``python -m app.public approve TICKET [--text T]`` / ``revoke TICKET`` (the staff screens'
    publish/unpublish, checked and audited the same way, for shell access) /
    ``refresh [--every S]`` (keep the slow public figures fresh from outside the web process)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m app.public")
    parser.add_argument("command", choices=["approve", "revoke", "refresh"])
    parser.add_argument("ticket", nargs="?")
    parser.add_argument("--every", type=float, default=0.0, help="refresh: repeat every S seconds (0: once)")
    parser.add_argument("--text", default=None, help="the public text (nothing of the citizen's own words)")
    args = parser.parse_args(argv)
    services = Services.open_for_command()
    try:
        if args.command == "refresh":
            try:
                while True:
                    refresh_slow(services)
                    if args.every <= 0:
                        return 0
                    time.sleep(args.every)
            except KeyboardInterrupt:   # Ctrl-C on `make run` reaches every process of the group
                return 0
        with services.engine.connect() as conn:
            row = conn.execute(select(db.reports).where(db.reports.c.ticket == args.ticket,
                                                      db.reports.c.city == services.preset.slug)).first()
        if row is None:
            print(f"ticket: no report {args.ticket}", file=sys.stderr)
            return 1
        try:
            if args.command == "approve":
                actions.publish_row(services.engine, row, cli_actor(), args.text)
            else:
                actions.unpublish_row(services.engine, row, cli_actor())
        except actions.ActionInvalid as err:
            print(err, file=sys.stderr)
            return 2
        print(f"{args.command}d {args.ticket}")
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
