"""Performance over time (kinerja): the figures a head of region reads, as pure functions.

Rows come from the rollups (``app.store.rollups``), summed by ``app.kinerja.data``; everything
here is plain values in, plain values out. The method of every figure is in ``METHODS`` and is
printed under it on /kinerja and in the weekly report.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

# What a kinerja_daily row counts (see app/store/rollups.py for when each is counted).
DAILY_COUNTS = ("received", "assigned", "started", "resolved", "on_time", "closed_out", "reopened_in",
                "reopened", "disputes", "ratings")

# Upper edges of the duration bins, in hours; the last bin is open (over 30 days).
HOUR_EDGES = (1, 2, 4, 8, 12, 24, 48, 72, 120, 168, 336, 720)
HOUR_BINS = len(HOUR_EDGES) + 1
MEASURES = ("first_action", "resolve")
PERIODS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
DEFAULT_PERIOD = "30d"
# "Closed fast, disputed after": a resolution within this many hours of filing that a citizen disputed.
FAST_HOURS = 24


def hour_bin(hours: float) -> int:
    """The bin of a duration: bin i holds durations in [edge i-1, edge i)."""
    return bisect.bisect_right(HOUR_EDGES, hours)


def bin_bounds(index: int) -> tuple[float, float | None]:
    low = 0.0 if index == 0 else float(HOUR_EDGES[index - 1])
    high = float(HOUR_EDGES[index]) if index < len(HOUR_EDGES) else None
    return low, high


def median_from_bins(counts: dict[int, int]) -> float | None:
    """The median duration in hours, interpolated linearly inside its bin (None with no data);
    in the open last bin the median is that bin's lower edge."""
    total = sum(counts.values())
    if total == 0:
        return None
    half, seen = total / 2.0, 0
    for index in range(HOUR_BINS):
        n = counts.get(index, 0)
        if n and seen + n >= half:
            low, high = bin_bounds(index)
            if high is None:
                return low
            return low + (high - low) * (half - seen) / n
        seen += n
    return None


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def suppress(count: int, k: int) -> int | None:
    """The k rule of public figures: a sensitive count from 1 to k-1 is not shown (None)."""
    return None if 0 < count < k else count


class FilterInvalid(ValueError):
    def __init__(self, field_name: str, rule: str):
        super().__init__(f"{field_name}: {rule}")
        self.field = field_name


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Filters:
    """What a /kinerja view shows: local days first..last (inclusive) and optional dimensions."""
    first: date
    last: date
    period: str = DEFAULT_PERIOD
    agency: str | None = None
    category: str | None = None
    kecamatan: str | None = None

    @classmethod
    def from_params(cls, params: dict, today: date, agencies=(), categories=()) -> "Filters":
        """From URL/query parameters; a bad value raises FilterInvalid naming the field."""
        period = params.get("period") or DEFAULT_PERIOD
        first_raw, last_raw = params.get("from"), params.get("to")
        if first_raw or last_raw:
            for name, raw in (("from", first_raw), ("to", last_raw)):
                if not raw or not _DAY.match(str(raw)):
                    raise FilterInvalid(name, "a date written YYYY-MM-DD")
            try:
                first, last = date.fromisoformat(first_raw), date.fromisoformat(last_raw)
            except ValueError:
                raise FilterInvalid("from", "a real calendar date") from None
            if first > last:
                raise FilterInvalid("from", "must not be after 'to'")
            if (last - first).days > 3 * 366:
                raise FilterInvalid("from", "at most three years before 'to'")
            period = "custom"
        else:
            if period not in PERIODS:
                raise FilterInvalid("period", f"one of {', '.join(PERIODS)}")
            last = today
            first = today - timedelta(days=PERIODS[period] - 1)
        agency = params.get("agency") or None
        if agency and agencies and agency not in agencies:
            raise FilterInvalid("agency", "an agency of this city")
        category = params.get("category") or None
        if category and categories and category not in categories:
            raise FilterInvalid("category", "a known category")
        kecamatan = params.get("kecamatan") or None
        if kecamatan and (len(kecamatan) > 40 or not re.match(r"^[\w.\-]+$", kecamatan)):
            raise FilterInvalid("kecamatan", "a kecamatan code")
        return cls(first, last, period, agency, category, kecamatan)

    def scoped(self, agency: str | None) -> "Filters":
        """Limited to one agency (an agency head sees only their own)."""
        return replace(self, agency=agency) if agency else self

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def previous(self) -> "Filters":
        """The same length of time just before (the week before, for the weekly report)."""
        length = (self.last - self.first).days + 1
        return replace(self, first=self.first - timedelta(days=length), last=self.first - timedelta(days=1))

    def dispatch_params(self) -> dict:
        """The filter as the dispatch console's URL parameters: the period as ``from`` and ``to``
        (local dates, inclusive), then the agency, category and kecamatan chosen."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat(),
                **{k: v for k, v in (("agency", self.agency), ("category", self.category),
                                     ("kecamatan", self.kecamatan)) if v}}


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_iso_week(text: str) -> date:
    """The Monday of an ISO week written ``2026-W48``."""
    match = re.match(r"^(\d{4})-W(\d{2})$", text or "")
    if not match:
        raise FilterInvalid("week", "an ISO week written YYYY-Www, e.g. 2026-W48")
    try:
        return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise FilterInvalid("week", "a week that exists in that year") from None


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def backlog_series(days: list[date], deltas: dict[date, int], open_now: int, after_last: int) -> list[int]:
    """Open reports at the end of each day: walk back from the open count now, undoing each day's
    change (received − taken out + reopened); ``after_last`` is that change summed after the last day."""
    out, level = [], open_now - after_last
    for day in reversed(days):
        out.append(level)
        level -= deltas.get(day, 0)
    return list(reversed(out))


def agency_figures(totals: dict, first_action_bins: dict, resolve_bins: dict) -> dict:
    """The performance figures of one agency (or the city) from its summed counts."""
    resolved = totals.get("resolved", 0)
    return {
        "received": totals.get("received", 0),
        "assigned": totals.get("assigned", 0),
        "resolved": resolved,
        "median_first_action_h": median_from_bins(first_action_bins),
        "median_resolve_h": median_from_bins(resolve_bins),
        "sla_share": share(totals.get("on_time", 0), resolved),
        "reopened_share": share(totals.get("reopened", 0), resolved),
        "disputes": totals.get("disputes", 0),
        "rating": (totals.get("rating_sum", 0.0) / totals["ratings"]) if totals.get("ratings") else None,
        "ratings": totals.get("ratings", 0),
    }


def rank_agencies(rows: dict[str, dict], min_resolved: int = 10) -> list[dict]:
    """Agencies best first by SLA share, then median time to resolve; fewer than ``min_resolved``
    resolutions in the period: listed last, not ranked (see METHODS['ranking'])."""
    ranked = [dict(code=code, **fig) for code, fig in rows.items() if fig["resolved"] >= min_resolved]
    ranked.sort(key=lambda f: (-(f["sla_share"] or 0), f["median_resolve_h"] or 1e9, f["code"]))
    for position, fig in enumerate(ranked, 1):
        fig["rank"] = position
    unranked = [dict(code=code, rank=None, **fig) for code, fig in sorted(rows.items())
                if fig["resolved"] < min_resolved]
    return ranked + unranked
