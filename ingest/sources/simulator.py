"""A live, realistic report feed for any city preset, for demos and load tests.

Reports arrive as a Poisson process shaped by the city's daily rhythm, spread
over its hotspots and the rest of the city, with short local bursts (a flood
in one district, a fire) on top. Everything is synthetic and seedable.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Protocol
from zoneinfo import ZoneInfo

import numpy as np

from config.catalogue import BY_CODE
from config.cities import CityPreset, Hotspot
from ingest.sources import RawReport

SOURCE = "simulator"
UNIFORM_SHARE = 0.3          # share of base reports drawn anywhere in the city, not around a hotspot
REPORTER_SHARE = 0.3         # share of reports that carry (fake) contact details
MAX_REDRAWS = 20
KM_PER_DEGREE = 6371.0 * math.pi / 180   # same sphere as km_between, so radii agree
INDONESIAN_ZONES = {"Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura"}
RAINY_MONTHS = {11, 12, 1, 2, 3, 4}


class AreaIndex(Protocol):
    def in_city(self, lat: float, lng: float) -> bool: ...


# --------------------------------------------------------------------------- daily rhythm

def _raw_rhythm(hour: float) -> float:
    def bump(centre: float, width: float, height: float) -> float:
        distance = min(abs(hour - centre), 24.0 - abs(hour - centre))  # the day wraps at midnight
        return height * math.exp(-0.5 * (distance / width) ** 2)
    return 0.18 + bump(9.0, 1.5, 1.6) + bump(13.0, 2.5, 0.6) + bump(17.5, 1.6, 1.4)


_RHYTHM_MEAN = sum(_raw_rhythm(minute / 60.0) for minute in range(1440)) / 1440.0


def rhythm(hour: float) -> float:
    """Relative report rate at a local hour (0-24): ~0.2 at night, peaks ~9h and ~17h, mean 1.0."""
    return _raw_rhythm(hour % 24.0) / _RHYTHM_MEAN


# --------------------------------------------------------------------------- synthetic text

# per category: (Bahasa Indonesia variants, English variants); {cm} {n} {d} {m} are filled with small numbers
PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "flood": (("Genangan air setinggi {cm} cm menutup jalan",
               "Banjir masuk ke rumah warga, air sekitar {cm} cm",
               "Jalan tergenang setelah hujan deras, motor mogok",
               "Air meluap dari kali, permukiman terendam {cm} cm"),
              ("Flood water {cm} cm deep blocking the road",
               "Flooding entering homes, water about {cm} cm",
               "Street flooded after heavy rain, motorbikes stalling")),
    "fire": (("Kebakaran rumah warga, asap tebal terlihat dari jalan",
              "Api membakar lahan kosong dekat permukiman",
              "Korsleting listrik, kios terbakar"),
             ("House fire, thick smoke visible from the street",
              "Fire burning an empty lot near homes",
              "Electrical short, a kiosk is on fire")),
    "road_damage": (("Jalan berlubang cukup dalam, membahayakan pengendara motor",
                     "Aspal rusak sepanjang {m} meter",
                     "Lubang besar di tengah jalan, sudah ada yang jatuh"),
                    ("Deep pothole on the road, dangerous for motorbikes",
                     "Broken asphalt along {m} metres of road",
                     "Large hole in the middle of the road, someone already fell")),
    "garbage": (("Sampah menumpuk di pinggir jalan, {d} hari tidak diangkut",
                 "Tumpukan sampah menimbulkan bau busuk",
                 "TPS penuh, sampah meluber ke jalan",
                 "Sampah dibuang sembarangan di saluran air"),
                ("Rubbish piling up by the road, not collected for {d} days",
                 "Bulky items dumped on the pavement",
                 "Collection point full, rubbish spilling onto the street")),
    "street_light": (("Lampu penerangan jalan mati, jalan gelap di malam hari",
                      "PJU berkedip-kedip sejak {d} hari",
                      "{n} lampu jalan padam di sepanjang gang"),
                     ("Street light out, the road is dark at night",
                      "Street light flickering for {d} days",
                      "{n} street lights out along the block")),
    "fallen_tree": (("Pohon tumbang menutup sebagian jalan",
                     "Dahan besar rawan patah di dekat sekolah",
                     "Pohon roboh menimpa kabel listrik"),
                    ("Fallen tree blocking part of the road",
                     "Large branch about to break near a school",
                     "Tree fell onto power lines")),
    "illegal_parking": (("Parkir liar di bahu jalan menyebabkan macet",
                         "Mobil parkir sembarangan menutup trotoar"),
                        ("Illegal parking on the shoulder causing congestion",
                         "Car parked on the pavement")),
    "street_vendors": (("Pedagang kaki lima berjualan di trotoar",
                        "PKL menutup akses pejalan kaki"),
                       ("Street vendors occupying the pavement",
                        "Vendors blocking the footpath")),
    "traffic_jam": (("Macet total di perempatan, lampu lalu lintas mati",
                     "Kemacetan panjang karena angkot ngetem sembarangan"),
                    ("Gridlock at the junction, traffic light out",
                     "Long tailback caused by double parking")),
    "public_facility": (("Halte rusak, atap bocor",
                         "Trotoar amblas sepanjang {m} meter",
                         "Coretan vandalisme di dinding taman kota"),
                        ("Bus shelter damaged, roof leaking",
                         "Pavement sunk along {m} metres",
                         "Graffiti on the park wall")),
    "clean_water": (("Air PDAM tidak mengalir sejak {d} hari",
                     "Air bersih keruh dan berbau",
                     "Pipa air bocor, air terbuang ke jalan"),
                    ("No piped water for {d} days",
                     "Tap water murky and smelly",
                     "Leaking water main, water running into the street")),
    "social_aid": (("Ada lansia terlantar di emperan toko, butuh bantuan",
                    "Bantuan sosial belum diterima warga RT {n}"),
                   ("Elderly person sleeping rough, needs help",
                    "Encampment on the pavement, people need assistance")),
    "health": (("Banyak jentik nyamuk, mohon fogging, ada warga kena DBD",
                "Hewan mati di pinggir jalan belum diangkut"),
               ("Dead animal by the road not yet removed",
                "Standing water breeding mosquitoes")),
    "public_order": (("Suara bising proyek hingga larut malam",
                      "Anak-anak balap liar di jalan setiap malam"),
                     ("Construction noise late into the night",
                      "Illegal street racing every night")),
    "agri_seeds": (("Bantuan bibit belum diterima kelompok tani",
                    "Bibit yang dibagikan banyak yang mati"),
                   ("Seed aid not yet received by the farmers' group",
                    "Many of the distributed seedlings died")),
    "agri_vegetable_distribution": (("Harga sayur anjlok, petani sulit menjual hasil panen kol",
                                     "Truk pengangkut sayur tidak datang, {n} karung wortel membusuk"),
                                    ("Vegetable prices collapsed, farmers cannot sell their cabbage",
                                     "Vegetable truck did not come, {n} sacks of carrots rotting")),
    "agri_irrigation": (("Saluran irigasi rusak, sawah tidak teraliri air",
                         "Air irigasi tidak sampai ke ladang sejak {d} hari"),
                        ("Irrigation channel broken, fields get no water",
                         "No irrigation water reaching the fields for {d} days")),
    "other": (("Mohon ditindaklanjuti, kondisi sudah {d} hari dibiarkan",
               "Laporan warga, mohon dicek petugas"),
              ("Please follow up, left like this for {d} days",
               "Please send someone to check")),
}
# other codes a catalogue may use for the same things
PHRASE_ALIASES = {
    "banjir": "flood", "kebakaran": "fire", "pothole": "road_damage", "roads": "road_damage",
    "waste": "garbage", "trash": "garbage", "illegal_dumping": "garbage", "streetlight": "street_light",
    "tree": "fallen_tree", "parking": "illegal_parking", "water_supply": "clean_water",
    "street_vendor": "street_vendors", "traffic": "traffic_jam", "seeds": "agri_seeds",
    "vegetable_distribution": "agri_vegetable_distribution", "irrigation": "agri_irrigation",
}

FIRST_NAMES_ID = ("Budi", "Siti", "Agus", "Dewi", "Rina", "Andi", "Sri", "Joko", "Putri", "Wahyu",
                  "Ayu", "Hendra", "Yuni", "Rudi", "Fitri", "Dedi", "Nur", "Eko", "Maria", "Yohanes")
LAST_NAMES_ID = ("Santoso", "Wijaya", "Saputra", "Hidayat", "Lestari", "Kurniawan", "Pratama",
                 "Siregar", "Ginting", "Sembiring", "Tarigan", "Manafe", "Setiawan", "Rahmawati")
FIRST_NAMES_EN = ("James", "Mary", "John", "Linda", "Maria", "David", "Sarah", "Jose", "Emily", "Daniel")
LAST_NAMES_EN = ("Smith", "Garcia", "Johnson", "Lee", "Martinez", "Brown", "Nguyen", "Kim")
MOBILE_PREFIXES_ID = ("812", "813", "821", "852", "857", "878")


# --------------------------------------------------------------------------- geometry

def km_between(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


def _offset(lat: float, lng: float, north_km: float, east_km: float) -> tuple[float, float]:
    return (lat + north_km / KM_PER_DEGREE,
            lng + east_km / (KM_PER_DEGREE * max(0.01, math.cos(math.radians(lat)))))


@dataclass
class Burst:
    """A queued or running local spike of one category."""
    kind: str
    lat: float
    lng: float
    radius_km: float
    rate_per_s: float
    duration_s: float
    starts_at: datetime | None = None   # set by the first batch that sees it

    def active_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of [start, end] during which this burst runs."""
        if self.starts_at is None:
            return 0.0
        burst_end = self.starts_at.timestamp() + self.duration_s
        return max(0.0, min(end.timestamp(), burst_end) - max(start.timestamp(), self.starts_at.timestamp()))

    def is_over(self, now: datetime) -> bool:
        return self.starts_at is not None and now.timestamp() >= self.starts_at.timestamp() + self.duration_s


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CitySimulator:
    """Synthetic citizen reports for one city preset."""

    def __init__(self, preset: CityPreset, area_index: AreaIndex | None = None, rate_per_s: float = 2.0,
                 seed: int | None = None, clock: Callable[[], datetime] = _utc_now,
                 random_bursts: bool = True, flood_bursts_per_hour: float = 0.05,
                 fire_bursts_per_hour: float = 0.01):
        if not preset.category_mix or sum(preset.category_mix.values()) <= 0:
            raise ValueError(f"preset {preset.slug!r}: category_mix is empty")
        if rate_per_s < 0:
            raise ValueError(f"rate_per_s must be 0 or positive, got {rate_per_s}")
        self.preset = preset
        self.area_index = area_index
        self.rate_per_s = rate_per_s
        self.clock = clock
        self.random_bursts = random_bursts
        self.flood_bursts_per_hour = flood_bursts_per_hour
        self.fire_bursts_per_hour = fire_bursts_per_hour
        self.bursts: list[Burst] = []
        self._zone = ZoneInfo(preset.timezone)
        self._random = random.Random(seed)
        self._numpy = np.random.default_rng(self._random.getrandbits(63))
        self._categories = list(preset.category_mix)
        self._category_weights = [preset.category_mix[c] for c in self._categories]
        self._hotspot_weights = [h.weight for h in preset.hotspots]
        self._english = preset.default_language == "en"

    # ----------------------------------------------------------------------- public API

    def start_burst(self, kind: str = "flood", lat: float | None = None, lng: float | None = None,
                    radius_km: float = 1.5, rate_per_s: float = 5.0, duration_s: float = 600) -> Burst:
        """Queue a burst of ``kind`` reports around a point (a weighted hotspot if none given)."""
        if lat is None or lng is None:
            if self.preset.hotspots:
                spot = self._random.choices(self.preset.hotspots, weights=self._hotspot_weights)[0]
                lat, lng = spot.lat, spot.lng
            else:
                lat, lng = self._uniform_point()
        burst = Burst(kind, lat, lng, radius_km, rate_per_s, duration_s)
        self.bursts.append(burst)
        return burst

    def next_batch(self, now: datetime, dt_seconds: float) -> list[RawReport]:
        """The reports filed during the ``dt_seconds`` that end at ``now`` (timezone-aware)."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if dt_seconds <= 0:
            return []
        interval_start = datetime.fromtimestamp(now.timestamp() - dt_seconds, timezone.utc)
        local = now.astimezone(self._zone)
        if self.random_bursts:
            self._maybe_start_spontaneous_burst(local, dt_seconds)
        reports = []
        expected = self.rate_per_s * rhythm(local.hour + local.minute / 60 + local.second / 3600) * dt_seconds
        for _ in range(int(self._numpy.poisson(expected))):
            category = self._random.choices(self._categories, weights=self._category_weights)[0]
            reports.append(self._report(category, *self._city_point(), now))
        for burst in self.bursts:
            if burst.starts_at is None:
                burst.starts_at = interval_start   # it was queued during this interval
            expected = burst.rate_per_s * burst.active_seconds(interval_start, now)
            for _ in range(int(self._numpy.poisson(expected))):
                reports.append(self._report(burst.kind, *self._burst_point(burst), now))
        self.bursts = [b for b in self.bursts if not b.is_over(now)]
        return reports

    def tick(self, dt_seconds: float) -> list[RawReport]:
        """``next_batch`` at the simulator's clock."""
        return self.next_batch(self.clock(), dt_seconds)

    # ----------------------------------------------------------------------- bursts

    def _maybe_start_spontaneous_burst(self, local: datetime, dt_seconds: float) -> None:
        hours = dt_seconds / 3600.0
        rainy_afternoon = (self.preset.timezone in INDONESIAN_ZONES and local.month in RAINY_MONTHS
                           and 13 <= local.hour < 19)
        chances = [("fire", self.fire_bursts_per_hour)]
        if rainy_afternoon:
            chances.append(("flood", self.flood_bursts_per_hour))
        for kind, per_hour in chances:
            # bursts arrive as a Poisson process: P(at least one in this interval)
            if kind in self.preset.category_mix and self._random.random() < 1 - math.exp(-per_hour * hours):
                self.start_burst(kind, radius_km=self._random.uniform(0.8, 2.0),
                                 rate_per_s=max(0.2, self.rate_per_s * self._random.uniform(0.5, 2.0)),
                                 duration_s=self._random.uniform(600, 2400))

    # ----------------------------------------------------------------------- locations

    def _acceptable(self, lat: float, lng: float) -> bool:
        (south, west), (north, east) = self.preset.bounds
        if not (south <= lat <= north and west <= lng <= east):
            return False
        return self.area_index is None or self.area_index.in_city(lat, lng)

    def _uniform_point(self) -> tuple[float, float]:
        (south, west), (north, east) = self.preset.bounds
        return self._random.uniform(south, north), self._random.uniform(west, east)

    def _hotspot_point(self) -> tuple[float, float]:
        spot: Hotspot = self._random.choices(self.preset.hotspots, weights=self._hotspot_weights)[0]
        return _offset(spot.lat, spot.lng, self._random.gauss(0, spot.sigma_km), self._random.gauss(0, spot.sigma_km))

    def _nearest_centre(self, lat: float, lng: float) -> tuple[float, float]:
        if not self.preset.hotspots:
            return self.preset.center
        spot = min(self.preset.hotspots, key=lambda h: km_between(lat, lng, h.lat, h.lng))
        return spot.lat, spot.lng

    def _city_point(self) -> tuple[float, float]:
        uniform = not self.preset.hotspots or self._random.random() < UNIFORM_SHARE
        draw = self._uniform_point if uniform else self._hotspot_point
        for _ in range(MAX_REDRAWS):
            lat, lng = draw()
            if self._acceptable(lat, lng):
                return lat, lng
        # bounded retries: a city mostly water (or a thin index) must not stall the feed
        return self._nearest_centre(lat, lng)

    def _burst_point(self, burst: Burst) -> tuple[float, float]:
        for _ in range(MAX_REDRAWS):
            distance = burst.radius_km * math.sqrt(self._random.random())   # uniform over the disc
            angle = self._random.uniform(0, 2 * math.pi)
            lat, lng = _offset(burst.lat, burst.lng, distance * math.cos(angle), distance * math.sin(angle))
            if self._acceptable(lat, lng):
                return lat, lng
        return burst.lat, burst.lng

    # ----------------------------------------------------------------------- text and people

    def _description(self, category: str) -> str:
        phrases = PHRASES.get(category) or PHRASES.get(PHRASE_ALIASES.get(category, ""))
        if phrases is None:
            return self._generic_description(category)
        template = self._random.choice(phrases[1] if self._english else phrases[0])
        r = self._random
        return template.format(cm=r.randint(2, 8) * 10, n=r.randint(2, 6), d=r.randint(2, 7), m=r.randint(1, 20) * 10)

    def _generic_description(self, category: str) -> str:
        known = BY_CODE.get(category)
        name = known.name("en" if self._english else "id") if known else category.replace("_", " ")
        return f"Citizen report: {name}" if self._english else f"Laporan warga: {name}"

    def _reporter(self) -> dict[str, str]:
        if self._random.random() >= REPORTER_SHARE:
            return {}
        r = self._random
        if self._english:
            first, last = r.choice(FIRST_NAMES_EN), r.choice(LAST_NAMES_EN)
            phone = f"+1 555-01{r.randint(0, 99):02d}"   # 555-0100..0199 is reserved for fiction
        else:
            first, last = r.choice(FIRST_NAMES_ID), r.choice(LAST_NAMES_ID)
            phone = f"+62 {r.choice(MOBILE_PREFIXES_ID)}-{r.randint(0, 9999):04d}-{r.randint(0, 9999):04d}"
        email = f"{first}.{last}{r.randint(1, 99)}@example.com".lower()
        return {"reporter_name": f"{first} {last}", "reporter_phone": phone, "reporter_email": email}

    def _report(self, category: str, lat: float, lng: float, now: datetime) -> RawReport:
        return RawReport(category=category, lat=lat, lng=lng,
                         description=self._description(category), created_at=now, source=SOURCE,
                         **self._reporter())
