"""City presets: data plus a few named hooks, never ``if city == ...`` elsewhere."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Agency:
    code: str          # e.g. "DSDA"
    name_id: str
    name_en: str
    roles: tuple[str, ...]   # catalogue agency roles this agency serves

    def name(self, language: str) -> str:
        return self.name_id if language == "id" else self.name_en


@dataclass(frozen=True)
class Hotspot:
    lat: float
    lng: float
    sigma_km: float
    weight: float


@dataclass(frozen=True)
class BoundaryLayout:
    """Which files and properties hold a preset's areas."""
    area_file: str                 # finest level: kelurahan/desa (or LA neighbourhood councils)
    district_file: str | None      # kecamatan level, drawn as outlines only
    area_code: str = "kode"
    area_name: str = "nama"
    district_code: str = "kode_kec"
    district_name: str = "nama_kec"
    exclude: tuple[tuple[str, str], ...] = ()   # (property, value) features to drop


@dataclass(frozen=True)
class CityPreset:
    slug: str
    name: str
    code: str                         # short ticket prefix, e.g. "JKT"
    timezone: str                     # IANA name
    tz_label: str                     # WIB / WITA / WIT
    center: tuple[float, float]       # (lat, lng)
    bounds: tuple[tuple[float, float], tuple[float, float]]  # ((south, west), (north, east))
    zoom: int
    boundaries: BoundaryLayout | None
    agencies: tuple[Agency, ...]
    category_mix: dict[str, float]    # simulator: relative weights per category code
    hotspots: tuple[Hotspot, ...]
    category_aliases: dict[str, str] = field(default_factory=dict)  # external name -> category code
    require_area: bool = True          # refuse points outside every area polygon (with tolerance)
    area_tolerance_m: float = 300.0
    default_language: str = "id"

    def agency_for(self, agency_role: str) -> Agency:
        for agency in self.agencies:
            if agency_role in agency.roles:
                return agency
        return self.agencies[0]


PRESETS: dict[str, CityPreset] = {}
