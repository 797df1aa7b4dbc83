"""The bilingual category catalogue: what a citizen can report.

Each category names its default responsible agency *role* (a city preset maps
roles to its own agencies), its resolution SLA in hours, an icon, and whether
it is sensitive (shown only coarsely and k-anonymously in public).
"""
from __future__ import annotations

from dataclasses import dataclass

# Every agency role a category may name; each city preset maps all of them to an agency.
AGENCY_ROLES: tuple[str, ...] = (
    "water",          # drainage, rivers, flood control, irrigation networks
    "water_supply",   # piped clean water utility (PDAM / PAM)
    "environment",    # waste collection and cleanliness
    "roads",
    "lighting",       # public street lighting (PJU)
    "parks",          # parks, street trees
    "public_works",   # public buildings and facilities
    "transport",      # traffic and parking
    "trade",          # markets and street vendors
    "social",
    "agriculture",
    "health",
    "public_order",
    "fire",
    "general",        # triage desk for reports no other role fits
)


@dataclass(frozen=True)
class Category:
    code: str            # stable id used in storage and APIs, e.g. "flood"
    name_id: str         # Bahasa Indonesia
    name_en: str
    agency_role: str     # e.g. "water", "environment", "roads"; a preset maps it to an agency
    sla_hours: int       # resolution deadline from creation
    icon: str            # a single emoji, legible on a wall screen
    sensitive: bool = False
    group: str = "general"

    def name(self, language: str) -> str:
        return self.name_id if language == "id" else self.name_en


CATEGORIES: tuple[Category, ...] = (
    Category("flood", "Banjir", "Flooding", "water", 24, "\U0001F30A"),                       # 🌊
    Category("garbage", "Sampah", "Garbage", "environment", 48, "\U0001F6AE"),                # 🚮
    Category("road_damage", "Jalan Rusak", "Road damage", "roads", 168, "\U0001F6A7"),        # 🚧
    Category("street_light", "Lampu Jalan Mati", "Street light out", "lighting", 72,
             "\U0001F4A1"),                                                                   # 💡
    Category("fallen_tree", "Pohon Tumbang", "Fallen tree", "parks", 24, "\U0001F333"),       # 🌳
    Category("illegal_parking", "Parkir Liar", "Illegal parking", "transport", 24,
             "\U0001F697"),                                                                   # 🚗
    Category("street_vendors", "Pedagang Kaki Lima", "Street vendors", "trade", 72,
             "\U0001F6D2"),                                                                   # 🛒
    Category("traffic_jam", "Kemacetan", "Traffic jam", "transport", 4, "\U0001F6A6"),        # 🚦
    Category("public_facility", "Fasilitas Umum Rusak", "Damaged public facility",
             "public_works", 168, "\U0001F527"),                                              # 🔧
    Category("clean_water", "Air Bersih", "Clean water supply", "water_supply", 48,
             "\U0001F6B0"),                                                                   # 🚰
    Category("social_aid", "Bantuan Sosial Tidak Diterima", "Social aid not received",
             "social", 336, "\U0001F91D", sensitive=True),                                    # 🤝
    Category("agri_seeds", "Bibit dan Benih", "Seeds and seedlings", "agriculture", 336,
             "\U0001F331", group="agriculture"),                                              # 🌱
    Category("agri_vegetable_distribution", "Distribusi Sayur", "Vegetable distribution",
             "agriculture", 72, "\U0001F96C", group="agriculture"),                           # 🥬
    # Irrigation channels are run by the public works water-resources office, not agriculture.
    Category("agri_irrigation", "Air Irigasi", "Irrigation water", "water", 120,
             "\U0001F4A7", group="agriculture"),                                              # 💧
    Category("health", "Kesehatan", "Health", "health", 48, "\U0001F3E5", sensitive=True),   # 🏥
    Category("public_order", "Ketertiban Umum", "Public order", "public_order", 24,
             "\U0001F46E", sensitive=True),                                                   # 👮
    Category("fire", "Kebakaran", "Fire", "fire", 2, "\U0001F525"),                           # 🔥
    Category("other", "Lainnya", "Other", "general", 168, "\U0001F4CC"),                      # 📌
)

BY_CODE: dict[str, Category] = {c.code: c for c in CATEGORIES}


def category(code: str) -> Category:
    """The category with this code; KeyError naming the known codes otherwise."""
    try:
        return BY_CODE[code]
    except KeyError:
        known = ", ".join(sorted(BY_CODE))
        raise KeyError(f"unknown category code {code!r}; known codes: {known}") from None
