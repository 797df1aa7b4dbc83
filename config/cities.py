"""City presets: data plus a few named hooks, never ``if city == ...`` elsewhere."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from config.catalogue import CATEGORIES


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
    region_name: str = "nama_kab"   # kota/kabupaten, for a report's readable place (app.areas.place_label)
    kind: str = "jenis"             # kelurahan / desa
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
    stream_partitions: int = 1         # set by the install (PANTAU_STREAM_PARTITIONS), see app.store.keys

    def agency_for(self, agency_role: str) -> Agency:
        for agency in self.agencies:
            if agency_role in agency.roles:
                return agency
        return self.agencies[0]


# Indonesian words citizens and imported feeds use for the catalogue's categories.
_INDONESIAN_ALIASES: dict[str, str] = {
    "banjir": "flood",
    "genangan": "flood",
    "sampah": "garbage",
    "jalan rusak": "road_damage",
    "jalan berlubang": "road_damage",
    "lampu jalan mati": "street_light",
    "pju mati": "street_light",
    "pohon tumbang": "fallen_tree",
    "parkir liar": "illegal_parking",
    "pkl": "street_vendors",
    "kemacetan": "traffic_jam",
    "macet": "traffic_jam",
    "air bersih": "clean_water",
    "air pdam mati": "clean_water",
    "bansos": "social_aid",
    "bibit": "agri_seeds",
    "benih": "agri_seeds",
    "pupuk dan bibit": "agri_seeds",
    "irigasi": "agri_irrigation",
    "kebakaran": "fire",
}

# MyLA311 RequestType values, as in ../shared/data/la311_*.csv.
_LA311_ALIASES: dict[str, str] = {
    "Bulky Items": "garbage",
    "Graffiti Removal": "public_facility",
    "Illegal Dumping Pickup": "garbage",
    "Metal/Household Appliances": "garbage",
    "Electronic Waste": "garbage",
    "Homeless Encampment": "public_order",
    "Dead Animal Removal": "health",
    "Other": "other",
    "Single Streetlight Issue": "street_light",
    "Multiple Streetlight Issue": "street_light",
    "Report Water Waste": "clean_water",
    "Feedback": "other",
}


def _indonesian_layout(prefix: str, area_file: str,
                       exclude: tuple[tuple[str, str], ...] = ()) -> BoundaryLayout:
    return BoundaryLayout(area_file=area_file, district_file=f"{prefix}_kecamatan.geojson",
                          exclude=exclude)


JAKARTA = CityPreset(
    slug="jakarta",
    name="DKI Jakarta",
    code="JKT",
    timezone="Asia/Jakarta",
    tz_label="WIB",
    # Mainland only: Kepulauan Seribu (kode_kab 31.01) reaches 5.2°S and would shrink the map.
    center=(-6.2073, 106.8386),
    bounds=((-6.383, 106.675), (-6.064, 106.984)),
    zoom=11,
    boundaries=_indonesian_layout("jakarta", "jakarta_kelurahan.geojson",
                                  exclude=(("kode_kab", "31.01"),)),
    agencies=(
        Agency("DSDA", "Dinas Sumber Daya Air", "Water Resources Agency", ("water",)),
        Agency("PAMJAYA", "Perumda Air Minum Jaya (PAM JAYA)", "Jakarta Water Utility (PAM JAYA)",
               ("water_supply",)),
        Agency("DLH", "Dinas Lingkungan Hidup", "Environment Agency", ("environment",)),
        # Street lighting (PJU) moved to Bina Marga in 2017.
        Agency("BINAMARGA", "Dinas Bina Marga", "Highways Agency", ("roads", "lighting")),
        Agency("DISTAMHUT", "Dinas Pertamanan dan Hutan Kota", "Parks and Urban Forestry Agency",
               ("parks",)),
        Agency("CITATA", "Dinas Cipta Karya, Tata Ruang dan Pertanahan",
               "Public Buildings, Spatial Planning and Land Agency", ("public_works",)),
        Agency("DISHUB", "Dinas Perhubungan", "Transportation Agency", ("transport",)),
        Agency("PPKUKM", "Dinas Perindustrian, Perdagangan, Koperasi, Usaha Kecil dan Menengah",
               "Industry, Trade, Cooperatives and SME Agency", ("trade",)),
        Agency("DINSOS", "Dinas Sosial", "Social Affairs Agency", ("social",)),
        Agency("KPKP", "Dinas Ketahanan Pangan, Kelautan dan Pertanian",
               "Food Security, Marine Affairs and Agriculture Agency", ("agriculture",)),
        Agency("DINKES", "Dinas Kesehatan", "Health Agency", ("health",)),
        Agency("SATPOLPP", "Satuan Polisi Pamong Praja", "Civil Service Police Unit",
               ("public_order",)),
        Agency("GULKARMAT", "Dinas Penanggulangan Kebakaran dan Penyelamatan",
               "Fire and Rescue Agency", ("fire",)),
        Agency("DISKOMINFOTIK", "Dinas Komunikasi, Informatika dan Statistik",
               "Communication, Informatics and Statistics Agency", ("general",)),
    ),
    category_mix={
        "garbage": 0.16, "flood": 0.14, "illegal_parking": 0.12, "street_vendors": 0.10,
        "traffic_jam": 0.09, "road_damage": 0.08, "street_light": 0.05, "public_facility": 0.05,
        "public_order": 0.05, "social_aid": 0.04, "fallen_tree": 0.03, "clean_water": 0.03,
        "other": 0.03, "health": 0.02, "fire": 0.01,
    },
    hotspots=(
        Hotspot(-6.186, 106.812, 1.2, 1.0),   # Tanah Abang market
        Hotspot(-6.143, 106.813, 1.0, 0.8),   # Glodok / Kota Tua
        Hotspot(-6.224, 106.866, 1.0, 0.9),   # Kampung Melayu, Ciliwung flood plain
        Hotspot(-6.121, 106.795, 1.5, 0.8),   # Pluit / Penjaringan
        Hotspot(-6.150, 106.800, 1.0, 0.7),   # Tambora, densest kecamatan
        Hotspot(-6.160, 106.906, 1.5, 0.6),   # Kelapa Gading
        Hotspot(-6.244, 106.800, 1.2, 0.6),   # Blok M / Kebayoran Baru
        Hotspot(-6.150, 106.735, 1.8, 0.7),   # Cengkareng
    ),
    category_aliases=dict(_INDONESIAN_ALIASES),
)

KUPANG = CityPreset(
    slug="kupang",
    name="Kota Kupang",
    code="KPG",
    timezone="Asia/Makassar",
    tz_label="WITA",
    center=(-10.2045, 123.6045),
    bounds=((-10.303, 123.517), (-10.113, 123.703)),
    zoom=12,
    boundaries=_indonesian_layout("kota_kupang", "kota_kupang_kelurahan.geojson"),
    agencies=(
        Agency("PUPR", "Dinas Pekerjaan Umum dan Penataan Ruang", "Public Works and Spatial Planning Agency",
               ("roads", "water", "public_works")),
        Agency("PDAM", "Perumda Air Minum Kota Kupang", "Kupang City Water Utility", ("water_supply",)),
        Agency("DLHK", "Dinas Lingkungan Hidup dan Kebersihan", "Environment and Sanitation Agency",
               ("environment", "parks")),
        Agency("DISHUB", "Dinas Perhubungan", "Transportation Agency", ("transport", "lighting")),
        Agency("DISPERINDAG", "Dinas Perindustrian dan Perdagangan", "Industry and Trade Agency",
               ("trade",)),
        Agency("DINSOS", "Dinas Sosial", "Social Affairs Agency", ("social",)),
        Agency("DISTAN", "Dinas Pertanian", "Agriculture Agency", ("agriculture",)),
        Agency("DINKES", "Dinas Kesehatan", "Health Agency", ("health",)),
        Agency("SATPOLPP", "Satuan Polisi Pamong Praja", "Civil Service Police Unit", ("public_order",)),
        Agency("DAMKAR", "Dinas Pemadam Kebakaran dan Penyelamatan", "Fire and Rescue Agency", ("fire",)),
        Agency("DISKOMINFO", "Dinas Komunikasi dan Informatika", "Communication and Informatics Agency",
               ("general",)),
    ),
    category_mix={
        "clean_water": 0.20, "road_damage": 0.15, "garbage": 0.15, "street_light": 0.08,
        "public_facility": 0.06, "social_aid": 0.06, "flood": 0.05, "street_vendors": 0.04,
        "other": 0.04, "fallen_tree": 0.03, "illegal_parking": 0.03, "health": 0.03,
        "public_order": 0.03, "traffic_jam": 0.02, "fire": 0.02, "agri_irrigation": 0.01,
    },
    hotspots=(
        Hotspot(-10.168, 123.602, 1.0, 1.0),   # Oebobo, government and commercial centre
        Hotspot(-10.160, 123.585, 0.8, 0.9),   # Kota Lama, old town by the harbour
        Hotspot(-10.148, 123.640, 1.0, 0.7),   # Oesapa, campus area
        Hotspot(-10.200, 123.610, 1.2, 0.6),   # Sikumana / Maulafa
        Hotspot(-10.178, 123.570, 0.8, 0.6),   # Alak coast
        Hotspot(-10.176, 123.622, 0.8, 0.6),   # Oebufu
    ),
    category_aliases=dict(_INDONESIAN_ALIASES),
)

TARAKAN = CityPreset(
    slug="tarakan",
    name="Kota Tarakan",
    code="TRK",
    timezone="Asia/Makassar",
    tz_label="WITA",
    center=(3.3594, 117.5995),
    bounds=((3.228, 117.504), (3.454, 117.680)),
    zoom=12,
    boundaries=_indonesian_layout("kota_tarakan", "kota_tarakan_kelurahan.geojson"),
    agencies=(
        Agency("PUPR", "Dinas Pekerjaan Umum dan Penataan Ruang", "Public Works and Spatial Planning Agency",
               ("roads", "water", "public_works")),
        Agency("PDAM", "Perumda Air Minum Tirta Alam", "Tirta Alam Water Utility", ("water_supply",)),
        Agency("DLH", "Dinas Lingkungan Hidup", "Environment Agency", ("environment",)),
        Agency("DISPERKIM", "Dinas Perumahan dan Kawasan Permukiman", "Housing and Settlements Agency",
               ("parks", "lighting")),
        Agency("DISHUB", "Dinas Perhubungan", "Transportation Agency", ("transport",)),
        Agency("DISDAG", "Dinas Perdagangan", "Trade Agency", ("trade",)),
        Agency("DINSOS", "Dinas Sosial", "Social Affairs Agency", ("social",)),
        Agency("DPKP", "Dinas Pertanian dan Ketahanan Pangan", "Agriculture and Food Security Agency",
               ("agriculture",)),
        Agency("DINKES", "Dinas Kesehatan", "Health Agency", ("health",)),
        Agency("SATPOLPP", "Satuan Polisi Pamong Praja", "Civil Service Police Unit", ("public_order",)),
        Agency("DAMKAR", "Dinas Pemadam Kebakaran", "Fire Department", ("fire",)),
        Agency("DISKOMINFO", "Dinas Komunikasi dan Informatika", "Communication and Informatics Agency",
               ("general",)),
    ),
    category_mix={
        "road_damage": 0.17, "clean_water": 0.15, "garbage": 0.15, "flood": 0.12,
        "street_light": 0.07, "public_facility": 0.05, "social_aid": 0.05, "other": 0.05,
        "fallen_tree": 0.03, "illegal_parking": 0.03, "street_vendors": 0.03, "health": 0.03,
        "public_order": 0.03, "traffic_jam": 0.02, "fire": 0.02,
    },
    hotspots=(
        Hotspot(3.300, 117.590, 0.8, 1.0),   # Sebengkok / Selumit, city centre
        Hotspot(3.322, 117.583, 0.8, 0.7),   # Karang Anyar
        Hotspot(3.300, 117.625, 1.0, 0.6),   # Kampung Empat
        Hotspot(3.291, 117.601, 0.7, 0.8),   # Gunung Lingkas, port
        Hotspot(3.307, 117.603, 0.7, 0.7),   # Pamusian
        Hotspot(3.376, 117.545, 1.5, 0.4),   # Juata Permai
    ),
    category_aliases=dict(_INDONESIAN_ALIASES),
)

KARO = CityPreset(
    slug="karo",
    name="Kabupaten Karo",
    code="KRO",
    timezone="Asia/Jakarta",
    tz_label="WIB",
    center=(3.1184, 98.3013),
    bounds=((2.820, 97.894), (3.341, 98.640)),
    zoom=10,
    boundaries=_indonesian_layout("kab_karo", "kab_karo_desa_kelurahan.geojson"),
    agencies=(
        Agency("DISTAN", "Dinas Pertanian", "Agriculture Agency", ("agriculture",)),
        Agency("PUPR", "Dinas Pekerjaan Umum dan Penataan Ruang", "Public Works and Spatial Planning Agency",
               ("roads", "water", "public_works")),
        Agency("PDAM", "Perumda Air Minum Tirta Malem", "Tirta Malem Water Utility", ("water_supply",)),
        Agency("DLH", "Dinas Lingkungan Hidup", "Environment Agency", ("environment", "parks")),
        Agency("DISHUB", "Dinas Perhubungan", "Transportation Agency", ("transport", "lighting")),
        Agency("DISPERINDAG", "Dinas Perindustrian dan Perdagangan", "Industry and Trade Agency",
               ("trade",)),
        Agency("DINSOS", "Dinas Sosial", "Social Affairs Agency", ("social",)),
        Agency("DINKES", "Dinas Kesehatan", "Health Agency", ("health",)),
        Agency("SATPOLPP", "Satuan Polisi Pamong Praja", "Civil Service Police Unit", ("public_order",)),
        Agency("DAMKAR", "Dinas Pemadam Kebakaran", "Fire Department", ("fire",)),
        Agency("DISKOMINFO", "Dinas Komunikasi dan Informatika", "Communication and Informatics Agency",
               ("general",)),
    ),
    category_mix={
        "road_damage": 0.16, "agri_seeds": 0.15, "agri_vegetable_distribution": 0.14,
        "agri_irrigation": 0.13, "garbage": 0.07, "clean_water": 0.06, "social_aid": 0.06,
        "street_light": 0.04, "fallen_tree": 0.04, "flood": 0.03, "health": 0.03,
        "public_facility": 0.03, "public_order": 0.02, "other": 0.02, "fire": 0.01,
        "traffic_jam": 0.01,
    },
    hotspots=(
        Hotspot(3.100, 98.492, 1.5, 1.0),   # Kabanjahe, regency seat
        Hotspot(3.190, 98.508, 1.5, 0.9),   # Berastagi, market town and vegetable hub
        Hotspot(3.065, 98.490, 2.0, 0.6),   # Tigapanah farmland
        Hotspot(3.130, 98.450, 2.0, 0.6),   # Simpang Empat, Sinabung slopes
        Hotspot(2.950, 98.490, 2.5, 0.4),   # Merek
        Hotspot(3.100, 98.210, 2.5, 0.4),   # Tigabinanga
    ),
    category_aliases=dict(_INDONESIAN_ALIASES),
)

LOS_ANGELES = CityPreset(
    slug="la",
    name="Los Angeles",
    code="LA",
    timezone="America/Los_Angeles",
    tz_label="PT",
    center=(34.1209, -118.3982),
    bounds=((33.694, -118.679), (34.348, -118.145)),
    zoom=10,
    boundaries=BoundaryLayout(
        area_file="la_neighborhood_councils_2019.geojson",
        district_file=None,
        area_code="nc_id",
        area_name="name",
        district_code="service_re",
        district_name="service_re",
    ),
    # Codes follow the MyLA311 `owner` column (BOS is LA Sanitation's old name).
    agencies=(
        Agency("LASAN", "LA Sanitation and Environment", "LA Sanitation and Environment",
               ("environment", "water", "public_order", "health")),
        Agency("OCB", "Office of Community Beautification", "Office of Community Beautification",
               ("public_works",)),
        Agency("BSL", "Bureau of Street Lighting", "Bureau of Street Lighting", ("lighting",)),
        Agency("BSS", "Bureau of Street Services (StreetsLA)", "Bureau of Street Services (StreetsLA)",
               ("roads", "parks", "trade")),
        Agency("LADWP", "LA Department of Water and Power", "LA Department of Water and Power",
               ("water_supply",)),
        Agency("LADOT", "LA Department of Transportation", "LA Department of Transportation",
               ("transport",)),
        Agency("CIFD", "Community Investment for Families Department",
               "Community Investment for Families Department", ("social",)),
        Agency("RAP", "Department of Recreation and Parks", "Department of Recreation and Parks",
               ("agriculture",)),
        Agency("LAFD", "Los Angeles Fire Department", "Los Angeles Fire Department", ("fire",)),
        Agency("ITA", "Information Technology Agency (311)", "Information Technology Agency (311)",
               ("general",)),
    ),
    # Shares of the 2020-01 MyLA311 sample after mapping request types to categories.
    category_mix={
        "garbage": 0.654, "public_facility": 0.263, "public_order": 0.040, "health": 0.017,
        "street_light": 0.014, "other": 0.011, "clean_water": 0.001,
    },
    hotspots=(
        Hotspot(34.045, -118.250, 1.5, 1.0),   # Downtown / Skid Row
        Hotspot(34.098, -118.327, 1.5, 0.7),   # Hollywood
        Hotspot(33.990, -118.290, 2.5, 0.9),   # South LA
        Hotspot(34.190, -118.450, 2.5, 0.8),   # Van Nuys
        Hotspot(34.035, -118.205, 1.5, 0.7),   # Boyle Heights
        Hotspot(34.060, -118.300, 1.2, 0.8),   # Koreatown / Westlake
        Hotspot(34.170, -118.380, 2.0, 0.6),   # North Hollywood
    ),
    category_aliases=dict(_LA311_ALIASES),
    # Neighborhood council polygons leave gaps inside the city limits.
    require_area=False,
    default_language="en",
)

PRESETS: dict[str, CityPreset] = {
    preset.slug: preset for preset in (JAKARTA, KUPANG, TARAKAN, KARO, LOS_ANGELES)
}


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def resolve_category(preset: CityPreset, raw: str | None) -> str | None:
    """The catalogue code a free-text category names, or None if it names none.

    Matches case-insensitively, in this order: catalogue codes, the preset's
    aliases, then English and Indonesian category names.
    """
    if not raw:
        return None
    wanted = _normalise(raw)
    for c in CATEGORIES:
        if wanted == c.code:
            return c.code
    for alias, code in preset.category_aliases.items():
        if wanted == _normalise(alias):
            return code
    for c in CATEGORIES:
        if wanted in (_normalise(c.name_en), _normalise(c.name_id)):
            return c.code
    return None


_HOSTNAME_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"


def parse_city_hosts(raw: str) -> tuple[tuple[str, str], ...]:
    """``PANTAU_CITY_HOSTS``: comma-separated ``hostname=city`` pairs (``kupang.pantau.example=kupang``);
    a host names one city, a city may have several hosts. Hostnames lower-case, without a port."""
    pairs: list[tuple[str, str]] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        host, sep, city = (s.strip() for s in part.partition("="))
        host = host.lower().rstrip(".")
        if not sep or not host or not city:
            raise ValueError(f"{part!r}: write hostname=city, e.g. kupang.pantau.example=kupang")
        if not re.fullmatch(rf"{_HOSTNAME_LABEL}(\.{_HOSTNAME_LABEL})*", host):
            raise ValueError(f"{host!r} is not a hostname (no scheme, port or path)")
        if city not in PRESETS:
            raise ValueError(f"unknown city preset {city!r}; choose one of {', '.join(sorted(PRESETS))}")
        if any(host == known for known, _ in pairs):
            raise ValueError(f"the host {host!r} is listed twice")
        pairs.append((host, city))
    return tuple(pairs)
