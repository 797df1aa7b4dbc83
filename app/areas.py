"""Which kelurahan (and kecamatan) a map point lies in, from a city's boundary GeoJSON.

An ``AreaIndex`` answers point-in-polygon questions for one city preset and
draws simplified outlines for a base layer when no tile server is reachable.
Plain Python and shapely only: no Flask, Dash or Redis.
"""
from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3
import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, polylabel
from shapely.strtree import STRtree

from config.cities import BoundaryLayout, CityPreset

log = logging.getLogger(__name__)

_METRES_PER_DEGREE = 111_320.0
_OUTLINE_TOLERANCE_M = 20.0
_OUTLINE_DECIMALS = 5
# The H3 resolution of the cells listed with each place name: about a kecamatan's tenth, a kelurahan's third.
LABEL_CELL_RES = {"district": 7, "area": 8}
# Point lookups first look up the point's H3 cell of this resolution (~0.015 km2) among the cells that
# lie wholly inside one area and touch no other: most reports then cost a cell index and a dict lookup
# instead of a point-in-polygon test. The map of those cells is built once, as the boundaries load.
_LOOKUP_CELL_RES = 10
_NOT_WHOLE = -1
_CELL_BOX_MARGIN = 1e-5          # degrees (~1 m): far more than a 65 m cell's edges bend off straight lines
_CANDIDATE_CELLS_MAX = 400_000   # cells on areas' edges remembered (a city has tens of thousands)


@dataclass(frozen=True)
class Area:
    """A kelurahan/desa (or an LA neighbourhood council) and its kecamatan (or region)."""
    code: str
    name: str
    district_code: str
    district_name: str
    region_name: str = ""      # kota/kabupaten (e.g. "Kota Administrasi Jakarta Utara"), when the file has it
    kind: str = ""             # "kelurahan" or "desa", when the file says


_REGION_PREFIXES = ("Kota Administrasi ", "Kabupaten Administrasi ")
_KIND_PREFIX = {"kelurahan": "Kel. ", "desa": "Desa "}


def place_label(area: Area | None, kelurahan: str | None = None, kecamatan: str | None = None,
                fallback: str = "") -> str:
    """The human-readable place of a report, e.g. "Kel. Pluit, Kec. Penjaringan, Jakarta Utara"
    (an LA neighbourhood council: "Name, Region"); ``fallback`` (the city's name) when nothing is known.
    Always a string, built from the boundaries only: never anybody's own words."""
    if area is not None:
        indonesian = bool(area.kind)
        region = area.region_name
        for prefix in _REGION_PREFIXES:
            region = region.removeprefix(prefix)
        parts = [_KIND_PREFIX.get(area.kind, "") + area.name if indonesian else area.name,
                 ("Kec. " + area.district_name if indonesian else area.district_name)
                 if area.district_name and area.district_name != area.name else "",
                 region]
    else:
        parts = ["Kel. " + kelurahan if kelurahan else "", "Kec. " + kecamatan if kecamatan else ""]
    return ", ".join(part for part in parts if part) or fallback


@dataclass(frozen=True)
class _Outline:
    code: str
    name: str
    geometry: BaseGeometry


Bounds = tuple[tuple[float, float], tuple[float, float]]


class AreaIndex:
    """Point lookups over one city's area polygons; empty when no boundaries are loaded."""

    def __init__(
        self,
        bounds: Bounds,
        require_area: bool,
        tolerance_m: float,
        areas: list[Area],
        geometries: list[BaseGeometry],
        districts: list[_Outline] | None = None,
    ) -> None:
        if len(areas) != len(geometries):
            raise ValueError("areas and geometries must have the same length")
        self.bounds = bounds
        self.require_area = require_area
        self.tolerance_m = tolerance_m
        self._areas = list(areas)
        self._geometries = np.array(geometries, dtype=object)
        # Prepared polygons make each containment test cheap after the tree's box filter.
        shapely.prepare(self._geometries)
        self._tree = STRtree(self._geometries) if areas else None
        self._districts = districts
        self._outlines: dict[str, dict[str, Any]] = {}
        self._cell_area: dict[str, int] | None = None
        self._cell_candidates: dict[str, tuple[int, ...]] = {}

    @classmethod
    def load(cls, preset: CityPreset, boundaries: Path | str | None) -> AreaIndex:
        """The index for ``preset`` from a boundaries folder or a single area GeoJSON file.

        A folder must hold ``preset.boundaries.area_file`` (and, optionally, its
        ``district_file``); a file is used as the area file. ``None`` or a missing
        file gives an empty index. Loaded indexes are cached per preset and path.
        """
        path = None if boundaries is None else str(Path(boundaries).resolve())
        return _load_cached(
            preset.slug, path, preset.boundaries, preset.bounds,
            preset.require_area, preset.area_tolerance_m,
        )

    @property
    def has_areas(self) -> bool:
        return bool(self._areas)

    def areas(self) -> list[Area]:
        return list(self._areas)

    def by_code(self, code: str | None) -> Area | None:
        """The area with this code (a report's ``kelurahan_code``), or None."""
        if not code:
            return None
        if not hasattr(self, "_by_code"):
            self._by_code = {area.code: area for area in self._areas}
        return self._by_code.get(code)

    def locate(self, lat: float, lng: float) -> Area | None:
        """The area containing the point, else the nearest one within the tolerance, else None."""
        if self._tree is None:
            return None
        cell = h3.latlng_to_cell(lat, lng, _LOOKUP_CELL_RES)
        whole = self._whole_cells().get(cell, _NOT_WHOLE)
        if whole != _NOT_WHOLE:
            return self._areas[whole]
        for i in self._candidates(cell):
            if shapely.intersects_xy(self._geometries[i], lng, lat):
                return self._areas[i]
        return self._nearest_within_tolerance(lat, lng, shapely.Point(lng, lat))

    def _candidates(self, cell: str) -> tuple[int, ...]:
        """The areas whose bounding box meets the cell's (grown by about a metre): every area that can
        hold a point of the cell, remembered per cell. A tree query per point cost ~30 µs of numpy
        around a ~2 µs test; a cell on an area's edge is asked again and again."""
        found = self._cell_candidates.get(cell)
        if found is None:
            lats, lngs = zip(*h3.cell_to_boundary(cell))
            box = shapely.box(min(lngs) - _CELL_BOX_MARGIN, min(lats) - _CELL_BOX_MARGIN,
                              max(lngs) + _CELL_BOX_MARGIN, max(lats) + _CELL_BOX_MARGIN)
            # in the tree's own order, as a query by the point gives them: where two areas' polygons
            # overlap, the first that holds the point answers, as before
            found = tuple(int(i) for i in self._tree.query(box))
            if len(self._cell_candidates) < _CANDIDATE_CELLS_MAX:
                self._cell_candidates[cell] = found
        return found

    def _whole_cells(self) -> dict[str, int]:
        """Every H3 cell (``_LOOKUP_CELL_RES``) wholly inside one area and touching no other, with the
        index of its area. A cell's centre inside the area shrunk by the cell's circumradius (and
        outside its neighbours grown by it) puts the whole cell there: each point of it is in that
        area and no other, so ``locate`` answers it as the point-in-polygon test would."""
        if self._cell_area is None:
            (south, _), (north, _) = self.bounds
            middle = h3.latlng_to_cell((south + north) / 2, sum(b[1] for b in self.bounds) / 2, _LOOKUP_CELL_RES)
            centre = h3.cell_to_latlng(middle)
            radius_m = max(h3.great_circle_distance(centre, corner, unit="m") for corner in h3.cell_to_boundary(middle))
            # a degree of longitude is shortest at the latitude farthest from the equator
            widest = max(abs(south), abs(north))
            margin = (radius_m * 1.25 + 2) / (_METRES_PER_DEGREE * math.cos(math.radians(widest)))
            cells: dict[str, int] = {}
            for i, geometry in enumerate(self._geometries):
                inner = geometry.buffer(-margin)
                others = [self._geometries[j] for j in self._tree.query(geometry.buffer(margin)) if j != i]
                if others and not inner.is_empty:
                    inner = inner.difference(shapely.union_all(others).buffer(margin))
                if inner.is_empty:
                    continue
                for cell in h3.geo_to_cells(inner, _LOOKUP_CELL_RES):
                    cells[cell] = i if cell not in cells else _NOT_WHOLE
            self._cell_area = cells
        return self._cell_area

    def in_city(self, lat: float, lng: float) -> bool:
        """Inside the preset's bounds and, when areas are required and loaded, inside one."""
        return self.place(lat, lng)[0]

    def place(self, lat: float, lng: float) -> tuple[bool, Area | None]:
        """(in the city, the area containing the point) with one lookup: ``in_city`` and ``locate``."""
        (south, west), (north, east) = self.bounds
        if not (south <= lat <= north and west <= lng <= east):
            return False, None
        area = self.locate(lat, lng)
        if area is None and self.require_area and self.has_areas:
            return False, None
        return True, area

    def outlines_geojson(self, level: str = "district") -> dict[str, Any]:
        """A FeatureCollection of simplified outlines (properties: code, name) for a base layer.

        ``level`` is "district" (kecamatan; area outlines when there is no district
        file) or "area" (kelurahan/desa).
        """
        if level not in ("district", "area"):
            raise ValueError(f"level must be 'district' or 'area', not {level!r}")
        if level not in self._outlines:
            self._outlines[level] = _feature_collection(self._outline_sources(level))
        return self._outlines[level]

    def label_points(self, level: str = "district") -> list[dict[str, Any]]:
        """Where to write each area's name on a map: ``{"name", "lat", "lng", "km2", "cells", "district"}`` per
        kecamatan ("district") or kelurahan/desa ("area"), the point the pole of inaccessibility of
        its largest part (the spot farthest inside, so a name sits in its area), largest areas first;
        ``inside_m`` the distance from the point to the area's edge; ``cells`` the H3 cells (resolution ``LABEL_CELL_RES[level]``) whose centres lie inside it, so a
        map can tell how busy the area is from its hex counts; ``district`` the kecamatan it is in."""
        if level not in ("district", "area"):
            raise ValueError(f"level must be 'district' or 'area', not {level!r}")
        cache = self.__dict__.setdefault("_labels", {})
        if level not in cache:
            points = []
            for outline in self._outline_sources(level):
                geometry = outline.geometry
                if geometry.is_empty:
                    continue
                part = max(getattr(geometry, "geoms", [geometry]), key=lambda g: g.area)
                if part.geom_type != "Polygon":
                    continue
                spot = polylabel(part, tolerance=1e-4)
                lat = spot.y
                # the room around the spot: a name moved less than this stays inside its area
                inside_m = part.boundary.distance(spot) * _METRES_PER_DEGREE * math.cos(math.radians(lat))
                km2 = geometry.area * (_METRES_PER_DEGREE / 1000) ** 2 * math.cos(math.radians(lat))
                res = LABEL_CELL_RES[level]
                cells = sorted(h3.geo_to_cells(geometry, res)) or [h3.latlng_to_cell(lat, spot.x, res)]
                area = self.by_code(outline.code) if level == "area" else None
                points.append({"name": outline.name, "lat": round(lat, 5), "lng": round(spot.x, 5),
                               "km2": round(km2, 2), "cells": cells, "inside_m": round(inside_m),
                               "district": area.district_name if area else outline.name})
            cache[level] = sorted(points, key=lambda p: -p["km2"])
        return cache[level]

    def search(self, text: str, limit: int = 6) -> list[tuple[str, float, float]]:
        """Places whose kelurahan/desa or kecamatan name matches ``text`` (case- and accent-blind;
        names starting with it first): ``(label, lat, lng)``, the point a spot inside the area
        (its representative point), e.g. "Pluit" -> ("Kel. Pluit, Kec. Penjaringan, Jakarta Utara", ...).
        A kecamatan is offered as a whole ("Kec. Penjaringan, Jakarta Utara")."""
        wanted = _fold(text)
        if len(wanted) < 2 or not self._areas:
            return []
        if not hasattr(self, "_search_rows"):
            rows = []
            for area, geometry in zip(self._areas, self._geometries):
                point = geometry.representative_point()
                rows.append((_fold(area.name), place_label(area), point.y, point.x))
            by_district: dict[str, list[int]] = {}
            for i, area in enumerate(self._areas):
                if area.district_name and area.district_name != area.name:
                    by_district.setdefault(area.district_name, []).append(i)
            for name, members in by_district.items():
                first = self._areas[members[0]]
                if not first.kind:   # an LA council's "district" is a region name: not a place of its own
                    continue
                point = shapely.union_all(self._geometries[members]).representative_point()
                region = first.region_name
                for prefix in _REGION_PREFIXES:
                    region = region.removeprefix(prefix)
                rows.append((_fold(name), ", ".join(p for p in ("Kec. " + name, region) if p), point.y, point.x))
            self._search_rows = rows
        starts = [r for r in self._search_rows if r[0].startswith(wanted)]
        words = [r for r in self._search_rows if r not in starts and any(w.startswith(wanted) for w in r[0].split())]
        inside = [r for r in self._search_rows if r not in starts and r not in words and wanted in r[0]]
        found = sorted(starts, key=lambda r: (len(r[0]), r[1])) + sorted(words, key=lambda r: r[1]) + \
            sorted(inside, key=lambda r: r[1])
        return [(label, round(lat, 6), round(lng, 6)) for _, label, lat, lng in found[:limit]]

    def _outline_sources(self, level: str) -> list[_Outline]:
        if level == "district" and self._districts:
            return self._districts
        return [
            _Outline(area.code, area.name, geometry)
            for area, geometry in zip(self._areas, self._geometries)
        ]

    def _nearest_within_tolerance(self, lat: float, lng: float, point: BaseGeometry) -> Area | None:
        if self.tolerance_m <= 0:
            return None
        dlat = self.tolerance_m / _METRES_PER_DEGREE
        dlng = dlat / max(math.cos(math.radians(lat)), 1e-6)
        window = shapely.box(lng - dlng, lat - dlat, lng + dlng, lat + dlat)
        best: tuple[float, int] | None = None
        for i in self._tree.query(window):
            nearest = nearest_points(self._geometries[i], point)[0]
            metres = _metres_between(lat, lng, nearest.y, nearest.x)
            if metres <= self.tolerance_m and (best is None or metres < best[0]):
                best = (metres, int(i))
        return None if best is None else self._areas[best[1]]


def _fold(text: str) -> str:
    """Lower case, accents and punctuation off, spaces squeezed: "  Kel. PLUIT " -> "kel pluit"."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return " ".join("".join(c if c.isalnum() else " " for c in plain.casefold()).split())


def clear_cache() -> None:
    """Forget loaded indexes (after boundary files change on disk)."""
    _load_cached.cache_clear()


@functools.lru_cache(maxsize=32)
def _load_cached(
    slug: str,
    path: str | None,
    layout: BoundaryLayout | None,
    bounds: Bounds,
    require_area: bool,
    tolerance_m: float,
) -> AreaIndex:
    def empty() -> AreaIndex:
        return AreaIndex(bounds, require_area, tolerance_m, [], [])

    if path is None:
        return empty()
    given = Path(path)
    if given.is_dir():
        if layout is None:
            log.warning("preset %s has no boundary layout; no areas loaded from %s", slug, given)
            return empty()
        area_file = given / layout.area_file
        district_file = given / layout.district_file if layout.district_file else None
    else:
        area_file, district_file = given, None
        layout = layout or BoundaryLayout(area_file=given.name, district_file=None)
    if not area_file.is_file():
        log.warning("preset %s: area file %s not found; no areas loaded", slug, area_file)
        return empty()

    areas: list[Area] = []
    geometries: list[BaseGeometry] = []
    for props, geometry in _features(area_file, layout):
        areas.append(Area(
            code=_required(props, layout.area_code, area_file),
            name=_required(props, layout.area_name, area_file),
            district_code=str(props.get(layout.district_code) or ""),
            district_name=str(props.get(layout.district_name) or ""),
            region_name=str(props.get(layout.region_name) or ""),
            kind=str(props.get(layout.kind) or "").lower(),
        ))
        geometries.append(geometry)

    districts = None
    if district_file is not None and district_file.is_file():
        districts = [
            _Outline(_required(props, layout.area_code, district_file),
                     _required(props, layout.area_name, district_file), geometry)
            for props, geometry in _features(district_file, layout)
        ]
    index = AreaIndex(bounds, require_area, tolerance_m, areas, geometries, districts)
    index._whole_cells()     # built with the index, not in the middle of the first report's request
    return index


def _features(path: Path, layout: BoundaryLayout) -> list[tuple[dict[str, Any], BaseGeometry]]:
    with path.open(encoding="utf-8") as f:
        collection = json.load(f)
    kept = []
    for feature in collection.get("features", []):
        props = feature.get("properties") or {}
        if any(str(props.get(key)) == value for key, value in layout.exclude):
            continue
        if not feature.get("geometry"):
            continue
        geometry = shape(feature["geometry"])
        if not geometry.is_valid:
            # Self-intersecting rings make containment tests unreliable.
            geometry = shapely.make_valid(geometry)
        if not geometry.is_empty:
            kept.append((props, geometry))
    return kept


def _required(props: dict[str, Any], key: str, path: Path) -> str:
    value = props.get(key)
    if value is None or value == "":
        raise ValueError(f"{path.name}: a feature has no {key!r} property")
    return str(value)


def _metres_between(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    # Equirectangular is exact enough at the few-hundred-metre scale of the tolerance.
    x = math.radians(lng2 - lng1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6_371_008.8 * math.hypot(x, y)


def _feature_collection(outlines: list[_Outline]) -> dict[str, Any]:
    tolerance = _OUTLINE_TOLERANCE_M / _METRES_PER_DEGREE
    features = []
    for outline in outlines:
        simple = outline.geometry.simplify(tolerance, preserve_topology=True)
        simple = shapely.transform(simple, lambda xy: np.round(xy, _OUTLINE_DECIMALS))
        if simple.is_empty:
            continue
        features.append({
            "type": "Feature",
            "properties": {"code": outline.code, "name": outline.name},
            "geometry": mapping(simple),
        })
    return {"type": "FeatureCollection", "features": features}
