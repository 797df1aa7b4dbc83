"""Locating reports in kelurahan and kecamatan on the real boundary files."""
import csv
import dataclasses
import json
from pathlib import Path

import h3
import pytest
from shapely.geometry import shape

from app.areas import Area, AreaIndex
from config.cities import PRESETS

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} not present")

JAKARTA, KUPANG, TARAKAN, KARO, LA = (PRESETS[s] for s in ("jakarta", "kupang", "tarakan", "karo", "la"))


def _features(file_name):
    return json.loads((DATA / file_name).read_text(encoding="utf-8"))["features"]


def test_monas_is_in_gambir():
    index = AreaIndex.load(JAKARTA, DATA)
    assert index.locate(-6.1754, 106.8272) == Area("31.71.01.1001", "Gambir", "31.71.01", "Gambir",
                                                           "Kota Administrasi Jakarta Pusat", "kelurahan")
    assert index.in_city(-6.1754, 106.8272)


def test_jakarta_loads_mainland_kelurahan_only():
    areas = AreaIndex.load(JAKARTA, DATA).areas()
    assert len(areas) == 261   # 267 minus the 6 of Kepulauan Seribu
    assert not any(a.code.startswith("31.01.") for a in areas)


@pytest.mark.parametrize("lat, lng, where", [
    (-6.09, 106.85, "Jakarta Bay, inside the bounds box"),
    (-6.05, 106.85, "Java Sea, north of the bounds"),
    (-5.745, 106.612, "Pulau Pramuka, Kepulauan Seribu (excluded)"),
    (-6.40, 106.82, "Depok, south of the bounds"),
    (-6.30, 106.70, "Tangerang Selatan, inside the bounds box"),
])
def test_points_outside_mainland_jakarta_are_not_in_the_city(lat, lng, where):
    index = AreaIndex.load(JAKARTA, DATA)
    assert index.locate(lat, lng) is None, where
    assert not index.in_city(lat, lng), where


def test_kecamatan_comes_from_the_kelurahan_code():
    for preset in (JAKARTA, KUPANG, TARAKAN, KARO):
        for area in AreaIndex.load(preset, DATA).areas():
            assert area.code.startswith(area.district_code + ".") and area.district_name


# Upstream label points: Tarakan's Kampung Enam and Mamburungan labels lie in
# their neighbours' polygons (2 of 20), so Tarakan can reach only 90%.
@pytest.mark.parametrize("preset, file_name, minimum", [
    (KUPANG, "kota_kupang_kelurahan.geojson", 0.95),
    (TARAKAN, "kota_tarakan_kelurahan.geojson", 0.90),
    (KARO, "kab_karo_desa_kelurahan.geojson", 0.95),
    (JAKARTA, "jakarta_kelurahan.geojson", 0.95),
], ids=lambda v: getattr(v, "slug", None))
def test_label_points_locate_to_their_own_kelurahan(preset, file_name, minimum):
    index = AreaIndex.load(preset, DATA)
    features = [f for f in _features(file_name) if f["properties"]["kode_kab"] != "31.01"]
    hits = 0
    for f in features:
        p = f["properties"]
        area = index.locate(p["lat"], p["lng"])
        hits += area is not None and area.code == p["kode"]
        # Any point guaranteed inside the polygon must locate exactly.
        inner = shape(f["geometry"]).representative_point()
        assert index.locate(inner.y, inner.x).code == p["kode"]
    assert hits / len(features) >= minimum


def test_gps_near_the_edge_snaps_to_the_nearest_area_within_tolerance():
    # Kalibaru's label point is at sea, about 450 m off its polygon.
    kalibaru = next(f["properties"] for f in _features("jakarta_kelurahan.geojson")
                    if f["properties"]["nama"] == "Kalibaru")
    strict = AreaIndex.load(JAKARTA, DATA)
    assert strict.locate(kalibaru["lat"], kalibaru["lng"]) is None
    lenient = AreaIndex.load(dataclasses.replace(JAKARTA, area_tolerance_m=600), DATA)
    assert lenient.locate(kalibaru["lat"], kalibaru["lng"]).code == kalibaru["kode"]
    assert lenient is not strict


def test_loads_are_cached_per_preset_and_path():
    assert AreaIndex.load(KUPANG, DATA) is AreaIndex.load(KUPANG, DATA)
    assert AreaIndex.load(KUPANG, DATA) is not AreaIndex.load(TARAKAN, DATA)


@pytest.mark.parametrize("boundaries", [None, Path("/nonexistent/boundaries"), DATA / "missing.geojson"])
def test_an_empty_index_answers_from_the_bounds_alone(boundaries):
    index = AreaIndex.load(KUPANG, boundaries)
    assert not index.has_areas and index.areas() == []
    assert index.locate(-10.168, 123.602) is None
    assert index.in_city(-10.168, 123.602)
    assert not index.in_city(-6.1754, 106.8272)
    assert index.outlines_geojson() == {"type": "FeatureCollection", "features": []}


def test_a_single_file_is_used_as_the_area_file():
    index = AreaIndex.load(KUPANG, DATA / "kota_kupang_kelurahan.geojson")
    assert len(index.areas()) == 51
    assert index.locate(-10.168, 123.602).name == "Oebobo"
    # No district file beside it: district outlines fall back to kelurahan outlines.
    assert len(index.outlines_geojson("district")["features"]) == 51


def _coordinates(geometry):
    rings = geometry["coordinates"] if geometry["type"] == "Polygon" else [
        ring for polygon in geometry["coordinates"] for ring in polygon]
    return [xy for ring in rings for xy in ring]


def test_outlines_are_simplified_rounded_and_carry_code_and_name_only():
    index = AreaIndex.load(JAKARTA, DATA)
    districts = index.outlines_geojson("district")
    assert districts["type"] == "FeatureCollection"
    assert len(districts["features"]) == 42   # mainland kecamatan
    gambir = next(f for f in districts["features"] if f["properties"]["name"] == "Gambir")
    assert gambir["properties"] == {"code": "31.71.01", "name": "Gambir"}
    for feature in districts["features"]:
        for x, y in _coordinates(feature["geometry"]):
            assert round(x, 5) == x and round(y, 5) == y
    areas = index.outlines_geojson("area")
    assert len(areas["features"]) == 261
    source_vertices = sum(len(_coordinates(f["geometry"])) for f in _features("jakarta_kelurahan.geojson")
                          if f["properties"]["kode_kab"] != "31.01")
    assert sum(len(_coordinates(f["geometry"])) for f in areas["features"]) < 0.9 * source_vertices
    with pytest.raises(ValueError, match="level"):
        index.outlines_geojson("province")


def test_la_311_points_locate_to_their_neighborhood_council():
    # Tolerance 0: only points inside a polygon are compared with the row's council.
    index = AreaIndex.load(dataclasses.replace(LA, area_tolerance_m=0), DATA)
    assert len(index.areas()) == 99
    inside = agree = 0
    with (DATA / "la311_2020-01_sample.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not (row["latitude"] and row["longitude"] and row["nc"]):
                continue
            area = index.locate(float(row["latitude"]), float(row["longitude"]))
            if area is not None:
                inside += 1
                agree += area.code == row["nc"]
    assert inside > 9_000
    assert agree / inside >= 0.99


def test_la_counts_points_between_councils_as_in_the_city():
    index = AreaIndex.load(LA, DATA)
    assert index.locate(34.045, -118.250).name == "DOWNTOWN LOS ANGELES"
    assert index.locate(34.045, -118.250).district_code.startswith("REGION")
    # Santa Monica is inside LA's bounds box but in no council: require_area=False keeps it.
    assert index.locate(34.02, -118.49) is None
    assert index.in_city(34.02, -118.49)
    assert not index.in_city(36.17, -115.14)   # Las Vegas


def test_place_names_sit_inside_their_own_area_with_the_cells_that_tell_how_busy_it_is():
    index = AreaIndex.load(JAKARTA, DATA)
    districts, areas = index.label_points("district"), index.label_points("area")
    assert len(districts) >= 40 and len(areas) >= 250
    district_names = {a.district_name for a in index.areas()}
    for place in districts:
        assert place["name"] in district_names
        assert index.locate(place["lat"], place["lng"]).district_name == place["name"], place["name"]
    for place in areas:
        found = index.locate(place["lat"], place["lng"])
        assert found.name == place["name"] and found.district_name == place["district"], place["name"]
        assert place["cells"] and all(len(c) == 15 for c in place["cells"])
    # largest first: a wall names the big kecamatan when it has room for few names
    assert [p["km2"] for p in districts] == sorted((p["km2"] for p in districts), reverse=True)
    assert AreaIndex.load(JAKARTA, None).label_points("area") == []
    with pytest.raises(ValueError):
        index.label_points("province")


@pytest.mark.parametrize("preset", [JAKARTA, KUPANG, TARAKAN, KARO, LA], ids=lambda p: p.slug)
def test_remembered_cells_answer_as_the_point_in_polygon_test_does(preset):
    """``locate`` remembers, per H3 cell, the one area a whole cell lies in; 20,000 points over the
    city's bounds (each asked twice) and points by the polygons' vertices get the same
    area as a fresh point-in-polygon test over every polygon, edges and gaps between areas included."""
    import random

    import shapely

    index = AreaIndex.load(preset, DATA)
    (south, west), (north, east) = preset.bounds
    rng = random.Random(7)
    points = [(rng.uniform(south, north), rng.uniform(west, east)) for _ in range(20_000)]
    # and points near edges: the vertices of the polygons, nudged a few metres
    for geometry in index._geometries[:60]:
        for x, y in list(shapely.get_coordinates(geometry))[::25]:
            points.append((y + rng.uniform(-5e-5, 5e-5), x + rng.uniform(-5e-5, 5e-5)))

    def by_polygons(lat, lng):
        for i in index._tree.query(shapely.Point(lng, lat)):
            if shapely.intersects_xy(index._geometries[i], lng, lat):
                return index.areas()[i]
        return index._nearest_within_tolerance(lat, lng, shapely.Point(lng, lat))

    expected = [by_polygons(lat, lng) for lat, lng in points]
    for _ in range(2):
        assert [index.locate(lat, lng) for lat, lng in points] == expected
    # the memory does serve: most points inside an area are answered from their cell
    inside = [(lat, lng) for (lat, lng), area in zip(points, expected) if area is not None]
    served = sum(1 for lat, lng in inside if index._cell_area.get(h3.latlng_to_cell(lat, lng, 10), -1) >= 0)
    assert served > 0.6 * len(inside), (served, len(inside))
