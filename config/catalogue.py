"""The bilingual category catalogue: what a citizen can report.

Each category names its default responsible agency *role* (a city preset maps
roles to its own agencies), its resolution SLA in hours, an icon, and whether
it is sensitive (shown only coarsely and k-anonymously in public).
"""
from __future__ import annotations

from dataclasses import dataclass


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


CATEGORIES: tuple[Category, ...] = ()  # filled below

BY_CODE: dict[str, Category] = {}
