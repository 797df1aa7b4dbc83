"""The overview of a several-city install (PANTAU_CITIES): every city's figures side by side, their
sum, every city's reports on one map of coarse hexes, and the spikes anywhere.

Every figure is the city's own (``app.queries.kpis``, ``app.spikes.current_incidents``, the same
counters its wall reads), so the overview's totals are the sum of the cities' by construction;
the map's resolution-6 counts are summed into their resolution-5 parents (about 250 km² each).
No web imports: ``app.web_install`` renders it.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import h3

from app import queries, spikes
from app.i18n import t
from config.catalogue import BY_CODE

OVERVIEW = "overview"        # the "city" of display tokens that watch the overview
RESOLUTION = 5               # the overview map's hexes
SOURCE_RESOLUTION = 6        # the coarsest resolution the aggregates keep (hexagg.MAP_RESOLUTIONS)
TOTALLED = ("received", "open_backlog", "resolved", "resolved_late", "sla_breaches")
PROVINCES_FILE = "indonesia_provinsi.geojson"


@dataclass(frozen=True)
class CityFigures:
    slug: str
    name: str
    tz_label: str
    timezone: str
    kpis: dict
    incidents: tuple           # app.spikes.Incident, strongest first

    @property
    def open_incidents(self) -> int:
        return sum(1 for i in self.incidents if not i.acknowledged)


def city_figures(services_by_city: dict, window: str = "today", now: float | None = None) -> list[CityFigures]:
    """Each city's KPIs for ``window`` and its incidents now, in the install's order."""
    now = time.time() if now is None else now
    figures = []
    for slug, services in services_by_city.items():
        preset = services.preset
        figures.append(CityFigures(slug, preset.name, preset.tz_label, preset.timezone,
                                   queries.kpis(services.redis, preset, window, now=now),
                                   tuple(spikes.current_incidents(services.redis, preset, now))))
    return figures


def totals(figures: list[CityFigures]) -> dict[str, int]:
    """The install's figures: the sum of the cities' (SLA compliance from the summed counts)."""
    summed = {name: sum(f.kpis[name] for f in figures) for name in TOTALLED}
    resolved = summed["resolved"]
    summed["sla_compliance"] = round(100.0 * (resolved - summed["resolved_late"]) / resolved, 1) if resolved else None
    summed["incidents"] = sum(f.open_incidents for f in figures)
    return summed


def coarse_cells(counts: dict[str, int], resolution: int = RESOLUTION) -> dict[str, int]:
    """Finer cell counts summed into their parents at ``resolution``."""
    parents: Counter = Counter()
    for cell, count in counts.items():
        parents[h3.cell_to_parent(cell, resolution) if h3.get_resolution(cell) > resolution else cell] += count
    return dict(parents)


def map_cells(services_by_city: dict, window: str = "today", now: float | None = None) -> dict[str, dict[str, int]]:
    """city -> {resolution-5 cell: reports in ``window``}."""
    return {slug: coarse_cells(queries.hex_counts(services.redis, services.preset, SOURCE_RESOLUTION, window, now=now))
            for slug, services in services_by_city.items()}


def category_name(code: str, language: str) -> str:
    return BY_CODE[code].name(language) if code in BY_CODE else t("wall.other", language)


def local_now(figures: CityFigures, now: float | None = None) -> datetime:
    from zoneinfo import ZoneInfo

    moment = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
    return moment.astimezone(ZoneInfo(figures.timezone))


@lru_cache(maxsize=2)
def province_outlines(boundaries: str | None, tolerance: float = 0.04) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Every province's outer rings, simplified for a national map ((lng, lat) points); empty
    when the boundaries folder holds no province file."""
    if not boundaries:
        return ()
    path = Path(boundaries) / PROVINCES_FILE
    if not path.is_file():
        return ()
    from shapely.geometry import shape

    rings = []
    for feature in json.loads(path.read_text()).get("features", []):
        geometry = shape(feature["geometry"]).simplify(tolerance, preserve_topology=False)
        for polygon in getattr(geometry, "geoms", [geometry]):
            if polygon.is_empty or polygon.geom_type != "Polygon" or polygon.area < tolerance ** 2:
                continue
            rings.append(tuple((round(x, 3), round(y, 3)) for x, y in polygon.exterior.coords))
    return tuple(rings)
