"""Open311 services: the category catalogue as service list and service definitions.

Attributes are the extra questions a category asks (water depth for a flood,
the crop for agriculture); ``check_attributes`` validates submitted values
against them and answers a clean mapping or raises ``ReportInvalid``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from app.reports import ReportInvalid
from config.catalogue import CATEGORIES, Category


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str                     # string, number, datetime, text, singlevaluelist, multivaluelist
    required: bool
    description_id: str
    description_en: str
    values: tuple[tuple[str, str, str], ...] = ()   # (key, name_id, name_en)
    minimum: float | None = None
    maximum: float | None = None


_CROPS = (("rice", "Padi", "Rice"), ("corn", "Jagung", "Corn"), ("chili", "Cabai", "Chili"),
          ("cabbage", "Kubis", "Cabbage"), ("potato", "Kentang", "Potato"),
          ("tomato", "Tomat", "Tomato"), ("citrus", "Jeruk", "Citrus"), ("other", "Lainnya", "Other"))

ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {
    "flood": (Attribute("water_depth_cm", "number", False, "Kedalaman air (cm)", "Water depth (cm)",
                        minimum=0, maximum=1000),),
    "road_damage": (Attribute("damage_size", "singlevaluelist", False, "Ukuran kerusakan", "Damage size",
                              (("small", "Kecil", "Small"), ("medium", "Sedang", "Medium"),
                               ("large", "Besar", "Large"))),),
    "fire": (Attribute("people_in_danger", "singlevaluelist", True, "Ada orang dalam bahaya?",
                       "Anyone in danger?", (("yes", "Ya", "Yes"), ("no", "Tidak", "No"),
                                             ("unknown", "Tidak tahu", "Unknown"))),),
    "agri_seeds": (Attribute("crop", "singlevaluelist", True, "Tanaman", "Crop", _CROPS),),
    "agri_vegetable_distribution": (Attribute("crops", "multivaluelist", True, "Sayuran", "Vegetables",
                                              _CROPS),),
    "agri_irrigation": (Attribute("crop", "singlevaluelist", False, "Tanaman", "Crop", _CROPS),
                        Attribute("area_ha", "number", False, "Luas lahan terdampak (ha)",
                                  "Affected area (ha)", minimum=0, maximum=100000)),
}


def services(language: str) -> list[dict]:
    return [{
        "service_code": c.code, "service_name": c.name(language),
        "description": c.name_en if language == "id" else c.name_id,
        "metadata": bool(ATTRIBUTES.get(c.code)), "type": "realtime",
        "keywords": ", ".join(sorted({c.code.replace("_", " "), c.name_id.lower(), c.name_en.lower()})),
        "group": c.group,
    } for c in CATEGORIES]


def definition(category: Category, language: str) -> dict:
    return {"service_code": category.code, "attributes": [{
        "variable": True, "code": a.code, "datatype": a.datatype, "required": a.required,
        "datatype_description": _datatype_description(a, language), "order": order,
        "description": a.description_id if language == "id" else a.description_en,
        "values": [{"key": key, "name": name_id if language == "id" else name_en}
                   for key, name_id, name_en in a.values],
    } for order, a in enumerate(ATTRIBUTES.get(category.code, ()), start=1)]}


def _datatype_description(a: Attribute, language: str) -> str | None:
    if a.datatype == "number" and a.minimum is not None:
        return (f"angka {a.minimum:g} sampai {a.maximum:g}" if language == "id"
                else f"a number from {a.minimum:g} to {a.maximum:g}")
    return None


def check_attributes(category_code: str, submitted: dict[str, list[str]]) -> dict:
    """Validate ``attribute[code]`` values (each a list of strings) for a service."""
    known = {a.code: a for a in ATTRIBUTES.get(category_code, ())}
    clean: dict = {}
    for code in submitted:
        if code not in known:
            allowed = ", ".join(known) or "none"
            raise ReportInvalid(f"attribute[{code[:40]}]",
                                f"unknown attribute for service {category_code} (known: {allowed})")
    for code, attribute in known.items():
        values = [v.strip() for v in submitted.get(code, []) if isinstance(v, str) and v.strip()]
        field = f"attribute[{code}]"
        if not values:
            if attribute.required:
                raise ReportInvalid(field, "is required for this service")
            continue
        if attribute.datatype == "multivaluelist":
            keys = {k for k, _, _ in attribute.values}
            bad = [v for v in values if v not in keys]
            if bad:
                raise ReportInvalid(field, f"{bad[0][:40]!r} is not one of {', '.join(sorted(keys))}")
            clean[code] = sorted(set(values))
            continue
        if len(values) > 1:
            raise ReportInvalid(field, "takes one value")
        value = values[0]
        if attribute.datatype == "singlevaluelist":
            keys = [k for k, _, _ in attribute.values]
            if value not in keys:
                raise ReportInvalid(field, f"{value[:40]!r} is not one of {', '.join(keys)}")
            clean[code] = value
        elif attribute.datatype == "number":
            try:
                number = float(value)
            except ValueError:
                raise ReportInvalid(field, f"must be a number (got {value[:40]!r})") from None
            if not math.isfinite(number) or not (attribute.minimum <= number <= attribute.maximum):
                raise ReportInvalid(field, f"must be between {attribute.minimum:g} and {attribute.maximum:g}")
            clean[code] = number
        else:
            if len(value) > 200:
                raise ReportInvalid(field, "at most 200 characters")
            clean[code] = value
    return clean
