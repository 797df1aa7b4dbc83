"""City presets: every category routes to an agency, and the geography matches the real boundaries."""
import csv
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.catalogue import AGENCY_ROLES, BY_CODE, CATEGORIES
from config.cities import PRESETS, resolve_category

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data folder {DATA} not present")

PRESET_IDS = list(PRESETS)


def test_five_presets():
    assert set(PRESETS) == {"jakarta", "kupang", "tarakan", "karo", "la"}
    assert {p.code for p in PRESETS.values()} == {"JKT", "KPG", "TRK", "KRO", "LA"}
    assert all(slug == p.slug for slug, p in PRESETS.items())


@pytest.mark.parametrize("slug", PRESET_IDS)
def test_every_catalogue_role_has_an_agency(slug):
    preset = PRESETS[slug]
    served = {role for agency in preset.agencies for role in agency.roles}
    assert {c.agency_role for c in CATEGORIES} <= served
    assert set(AGENCY_ROLES) <= served
    assert served <= set(AGENCY_ROLES), "an agency names a role no category uses"
    for cat in CATEGORIES:
        assert cat.agency_role in preset.agency_for(cat.agency_role).roles


@pytest.mark.parametrize("slug", PRESET_IDS)
def test_agencies_have_unique_codes_and_both_names(slug):
    agencies = PRESETS[slug].agencies
    assert len({a.code for a in agencies}) == len(agencies)
    assert all(a.name_id and a.name_en for a in agencies)


@pytest.mark.parametrize("slug", PRESET_IDS)
def test_category_mix_is_a_distribution_over_catalogue_codes(slug):
    mix = PRESETS[slug].category_mix
    assert set(mix) <= set(BY_CODE)
    assert all(w > 0 for w in mix.values())
    assert sum(mix.values()) == pytest.approx(1.0, abs=0.002)


def _top(slug, n):
    mix = PRESETS[slug].category_mix
    return set(sorted(mix, key=mix.get, reverse=True)[:n])


def test_category_mix_reflects_each_city():
    assert {"flood", "garbage", "illegal_parking", "street_vendors", "traffic_jam"} <= _top("jakarta", 5)
    assert {"clean_water", "road_damage", "garbage"} == _top("kupang", 3)
    assert {"road_damage", "clean_water", "garbage", "flood"} == _top("tarakan", 4)
    karo = PRESETS["karo"].category_mix
    assert sum(w for c, w in karo.items() if BY_CODE[c].group == "agriculture") > 0.35
    assert _top("la", 2) == {"garbage", "public_facility"}


@pytest.mark.parametrize("slug", PRESET_IDS)
def test_time_zone_center_and_bounds_are_consistent(slug):
    preset = PRESETS[slug]
    ZoneInfo(preset.timezone)
    (south, west), (north, east) = preset.bounds
    assert south < preset.center[0] < north and west < preset.center[1] < east
    assert 4 <= len(preset.hotspots) <= 8
    for h in preset.hotspots:
        assert south < h.lat < north and west < h.lng < east
        assert h.sigma_km > 0 and h.weight > 0


def test_time_zone_labels():
    labels = {slug: (p.timezone, p.tz_label) for slug, p in PRESETS.items()}
    assert labels == {
        "jakarta": ("Asia/Jakarta", "WIB"), "kupang": ("Asia/Makassar", "WITA"),
        "tarakan": ("Asia/Makassar", "WITA"), "karo": ("Asia/Jakarta", "WIB"),
        "la": ("America/Los_Angeles", "PT"),
    }
    assert PRESETS["la"].default_language == "en" and not PRESETS["la"].require_area


def _layer_bounds(preset):
    """(west, south, east, north) of the preset's area file, after its exclusions."""
    from shapely.geometry import shape
    from shapely.ops import unary_union

    layout = preset.boundaries
    features = json.loads((DATA / layout.area_file).read_text(encoding="utf-8"))["features"]
    kept = [shape(f["geometry"]) for f in features
            if not any(str(f["properties"].get(k)) == v for k, v in layout.exclude)]
    return unary_union(kept).bounds


@needs_data
@pytest.mark.parametrize("slug", PRESET_IDS)
def test_bounds_wrap_the_real_boundaries_with_a_small_margin(slug):
    preset = PRESETS[slug]
    west, south, east, north = _layer_bounds(preset)
    (b_south, b_west), (b_north, b_east) = preset.bounds
    for outer, inner in ((b_south, south), (b_west, west)):
        assert 0 < inner - outer < 0.03
    for outer, inner in ((b_north, north), (b_east, east)):
        assert 0 < outer - inner < 0.03


def test_jakarta_bounds_leave_out_kepulauan_seribu():
    assert ("kode_kab", "31.01") in PRESETS["jakarta"].boundaries.exclude
    assert PRESETS["jakarta"].bounds[1][0] < -6.0   # the islands reach 5.2°S


@needs_data
@pytest.mark.parametrize("slug", PRESET_IDS)
def test_hotspots_fall_inside_the_city_polygons(slug):
    from app.areas import AreaIndex

    preset = PRESETS[slug]
    index = AreaIndex.load(preset, DATA)
    assert index.has_areas
    assert all(index.locate(h.lat, h.lng) is not None for h in preset.hotspots)


@pytest.mark.parametrize("slug", PRESET_IDS)
def test_aliases_point_at_catalogue_codes(slug):
    assert set(PRESETS[slug].category_aliases.values()) <= set(BY_CODE)


@needs_data
def test_every_la311_request_type_resolves_through_the_la_aliases():
    la = PRESETS["la"]
    seen = set()
    for name, column in (("la311_2020-01_sample.csv", "requesttype"),
                         ("la311_2017-12-27_to_2018-01-04.csv", "RequestType")):
        with (DATA / name).open(newline="", encoding="utf-8") as f:
            seen |= {row[column] for row in csv.DictReader(f)}
    assert seen and all(resolve_category(la, t) is not None for t in seen)
    assert resolve_category(la, "Graffiti Removal") == "public_facility"
    assert resolve_category(la, "Homeless Encampment") == "public_order"


@pytest.mark.parametrize("raw, expected", [
    ("flood", "flood"),
    ("FLOOD", "flood"),
    ("Banjir", "flood"),
    ("  jalan   rusak ", "road_damage"),
    ("Lampu Jalan Mati", "street_light"),
    ("pohon tumbang", "fallen_tree"),
    ("Parkir Liar", "illegal_parking"),
    ("PKL", "street_vendors"),
    ("Pedagang Kaki Lima", "street_vendors"),
    ("kemacetan", "traffic_jam"),
    ("Kebakaran", "fire"),
    ("Damaged public facility", "public_facility"),
    ("Distribusi Sayur", "agri_vegetable_distribution"),
    ("volcano", None),
    ("", None),
    (None, None),
])
def test_resolve_category_in_jakarta(raw, expected):
    assert resolve_category(PRESETS["jakarta"], raw) == expected


def test_indonesian_aliases_do_not_leak_into_la():
    assert resolve_category(PRESETS["la"], "pkl") is None
    assert resolve_category(PRESETS["la"], "Street vendors") == "street_vendors"
