"""The category catalogue: every category is complete, bilingual and routable."""
import pytest

from config.catalogue import AGENCY_ROLES, BY_CODE, CATEGORIES, Category, category

REQUIRED_CODES = {
    "flood", "garbage", "road_damage", "street_light", "fallen_tree", "illegal_parking",
    "street_vendors", "traffic_jam", "public_facility", "clean_water", "social_aid",
    "agri_seeds", "agri_vegetable_distribution", "agri_irrigation", "health",
    "public_order", "fire", "other",
}


def test_catalogue_holds_every_required_code_once():
    codes = [c.code for c in CATEGORIES]
    assert len(codes) == len(set(codes))
    assert REQUIRED_CODES <= set(codes)
    assert BY_CODE == {c.code: c for c in CATEGORIES}


@pytest.mark.parametrize("cat", CATEGORIES, ids=lambda c: c.code)
def test_each_category_is_bilingual_routable_and_has_one_emoji(cat: Category):
    assert cat.name_id.strip() and cat.name_en.strip()
    assert cat.name("id") == cat.name_id
    assert cat.name("en") == cat.name_en
    assert cat.agency_role in AGENCY_ROLES
    assert cat.sla_hours > 0
    assert len(cat.icon) == 1 and ord(cat.icon) > 0x2000


def test_sla_hours_follow_urgency():
    expected = {"fire": 2, "flood": 24, "fallen_tree": 24, "street_light": 72,
                "garbage": 48, "road_damage": 168}
    assert {code: BY_CODE[code].sla_hours for code in expected} == expected
    assert min(CATEGORIES, key=lambda c: c.sla_hours).code == "fire"


def test_only_personal_matters_are_sensitive():
    assert {c.code for c in CATEGORIES if c.sensitive} == {"social_aid", "health", "public_order"}


def test_agriculture_group_holds_the_three_farming_categories():
    assert {c.code for c in CATEGORIES if c.group == "agriculture"} == {
        "agri_seeds", "agri_vegetable_distribution", "agri_irrigation"}


def test_category_lookup_names_the_unknown_code():
    assert category("flood").name_id == "Banjir"
    with pytest.raises(KeyError, match="unknown category code 'volcano'"):
        category("volcano")
