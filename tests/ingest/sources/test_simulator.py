"""The simulated live feed of a city: rhythm, places, bursts, determinism."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from config.cities import PRESETS, Agency, CityPreset, Hotspot
from ingest.sources.simulator import CitySimulator, km_between, rhythm

WIB = ZoneInfo("Asia/Jakarta")

SMALL_CITY = CityPreset(
    slug="uji", name="Kota Uji", code="UJI", timezone="Asia/Jakarta", tz_label="WIB",
    center=(-6.20, 106.85), bounds=((-6.35, 106.70), (-6.08, 106.98)), zoom=12, boundaries=None,
    agencies=(Agency("DSDA", "Dinas Sumber Daya Air", "Water Resources Agency", ("water",)),),
    category_mix={"flood": 3.0, "garbage": 4.0, "road_damage": 2.0, "street_light": 1.0, "fire": 0.3},
    hotspots=(Hotspot(-6.17, 106.83, 2.0, 3.0), Hotspot(-6.25, 106.90, 3.0, 2.0),
              Hotspot(-6.10, 106.75, 1.5, 1.0)),
)


def simulate_day(sim: CitySimulator, day: datetime, step_s: float = 60.0):
    reports, now = [], day
    for _ in range(int(86400 / step_s)):
        now += timedelta(seconds=step_s)
        reports.extend(sim.next_batch(now, step_s))
    return reports


def in_bounds(preset: CityPreset, report) -> bool:
    (south, west), (north, east) = preset.bounds
    return south <= report.lat <= north and west <= report.lng <= east


MIDNIGHT_WIB = datetime(2024, 1, 15, tzinfo=WIB)


def test_rhythm_is_quiet_at_night_peaks_morning_and_afternoon_and_averages_one():
    hours = [m / 60 for m in range(1440)]

    assert sum(rhythm(h) for h in hours) / len(hours) == pytest.approx(1.0)
    assert rhythm(3) == pytest.approx(0.2, abs=0.05)
    assert max(hours, key=rhythm) == pytest.approx(9, abs=1)
    assert rhythm(17.5) > 1.5 and rhythm(9) > 1.5


def test_same_seed_same_feed_and_a_different_seed_differs():
    def feed(seed):
        sim = CitySimulator(SMALL_CITY, rate_per_s=1.0, seed=seed, random_bursts=False)
        sim.start_burst("flood", duration_s=120)
        return [sim.next_batch(MIDNIGHT_WIB + timedelta(hours=9, seconds=10 * i), 10) for i in range(30)]

    assert feed(7) == feed(7)
    assert feed(7) != feed(8)


def test_a_day_delivers_the_configured_rate_with_more_at_the_morning_peak_than_at_3am():
    sim = CitySimulator(SMALL_CITY, rate_per_s=0.5, seed=1, random_bursts=False)

    reports = simulate_day(sim, MIDNIGHT_WIB)

    assert len(reports) == pytest.approx(0.5 * 86400, rel=0.15)
    by_local_hour = Counter(r.created_at.astimezone(WIB).hour for r in reports)
    assert by_local_hour[9] > 4 * by_local_hour[3]
    assert by_local_hour[17] > 4 * by_local_hour[3]
    assert all(in_bounds(SMALL_CITY, r) for r in reports)
    categories = Counter(r.category for r in reports)
    assert set(categories) == set(SMALL_CITY.category_mix)
    assert categories["garbage"] > categories["street_light"] > categories["fire"]


def test_reports_look_like_citizen_reports():
    sim = CitySimulator(SMALL_CITY, rate_per_s=5.0, seed=3, random_bursts=False)
    now = MIDNIGHT_WIB + timedelta(hours=10)

    reports = sim.next_batch(now, 600)

    assert all(r.source == "simulator" and r.created_at == now for r in reports)
    flood = [r.description for r in reports if r.category == "flood"]
    assert any("air" in text.lower() for text in flood)
    with_contact = [r for r in reports if r.reporter_name]
    assert len(with_contact) / len(reports) == pytest.approx(0.3, abs=0.05)
    assert all(r.reporter_phone.startswith("+62 8") and r.reporter_email.endswith("@example.com")
               for r in with_contact)
    assert all(r.reporter_phone is None for r in reports if not r.reporter_name)


def test_english_city_gets_english_descriptions():
    english = CityPreset(**{**SMALL_CITY.__dict__, "default_language": "en", "timezone": "America/Los_Angeles"})
    sim = CitySimulator(english, rate_per_s=5.0, seed=3, random_bursts=False)

    reports = sim.next_batch(datetime(2024, 1, 15, 18, tzinfo=timezone.utc), 600)

    assert any("road" in r.description for r in reports if r.category == "road_damage")
    assert not any("Jalan" in r.description for r in reports)


def test_a_burst_concentrates_flood_reports_within_its_radius_while_it_lasts():
    sim = CitySimulator(SMALL_CITY, rate_per_s=0.5, seed=5, random_bursts=False)
    lat, lng = -6.20, 106.85
    sim.start_burst("flood", lat=lat, lng=lng, radius_km=1.5, rate_per_s=5.0, duration_s=600)
    start = MIDNIGHT_WIB + timedelta(hours=14)

    during = [r for i in range(1, 11) for r in sim.next_batch(start + timedelta(seconds=60 * i), 60)]
    after = [r for i in range(11, 21) for r in sim.next_batch(start + timedelta(seconds=60 * i), 60)]

    near = lambda reports: [r for r in reports if r.category == "flood"  # noqa: E731
                            and km_between(lat, lng, r.lat, r.lng) <= 1.5]
    assert len(near(during)) == pytest.approx(5.0 * 600, rel=0.1)
    assert len(near(after)) < 20
    assert all(in_bounds(SMALL_CITY, r) for r in during + after)
    assert sim.bursts == []


def test_a_burst_without_a_point_starts_at_a_hotspot():
    sim = CitySimulator(SMALL_CITY, rate_per_s=0.0, seed=2, random_bursts=False)
    burst = sim.start_burst("fire", radius_km=1.0, rate_per_s=2.0, duration_s=300)

    reports = sim.next_batch(MIDNIGHT_WIB + timedelta(hours=2), 300)

    assert (burst.lat, burst.lng) in {(h.lat, h.lng) for h in SMALL_CITY.hotspots}
    assert reports and all(r.category == "fire" for r in reports)
    assert all(km_between(burst.lat, burst.lng, r.lat, r.lng) <= 1.0 + 1e-9 for r in reports)


def test_spontaneous_floods_come_on_rainy_season_afternoons_only_when_enabled():
    def bursts_in_an_hour(start: datetime, **options) -> list[str]:
        sim = CitySimulator(SMALL_CITY, rate_per_s=0.1, seed=4, **options)
        seen = []
        for minute in range(1, 61):
            sim.next_batch(start + timedelta(minutes=minute), 60)
            seen.extend(b.kind for b in sim.bursts if b.starts_at == start + timedelta(minutes=minute - 1))
        return seen

    rainy_afternoon = datetime(2024, 1, 15, 14, tzinfo=WIB)
    dry_afternoon = datetime(2024, 7, 15, 14, tzinfo=WIB)

    assert bursts_in_an_hour(rainy_afternoon, random_bursts=False) == []
    assert "flood" in bursts_in_an_hour(rainy_afternoon, flood_bursts_per_hour=5.0)
    assert bursts_in_an_hour(dry_afternoon, flood_bursts_per_hour=5.0, fire_bursts_per_hour=0.0) == []
    assert "fire" in bursts_in_an_hour(dry_afternoon, fire_bursts_per_hour=5.0)


class OnlyWestOfCentre:
    """A stand-in for the area index: the 'city' is the western half of the bounds."""
    def in_city(self, lat: float, lng: float) -> bool:
        return lng < 106.84


def test_points_outside_the_city_are_redrawn_or_fall_back_to_a_hotspot():
    sim = CitySimulator(SMALL_CITY, area_index=OnlyWestOfCentre(), rate_per_s=2.0, seed=9, random_bursts=False)

    reports = sim.next_batch(MIDNIGHT_WIB + timedelta(hours=9), 600)

    centres = {(h.lat, h.lng) for h in SMALL_CITY.hotspots}
    assert reports
    assert all(r.lng < 106.84 or (r.lat, r.lng) in centres for r in reports)


@pytest.mark.skipif(not PRESETS, reason="config.cities.PRESETS is not filled yet")
@pytest.mark.parametrize("slug", sorted(PRESETS))
def test_every_city_preset_simulates_inside_its_bounds(slug):
    preset = PRESETS[slug]
    sim = CitySimulator(preset, rate_per_s=2.0, seed=11, random_bursts=False)
    sim.start_burst("flood" if "flood" in preset.category_mix else next(iter(preset.category_mix)))

    reports = sim.next_batch(datetime(2024, 1, 15, 2, tzinfo=timezone.utc), 900)

    assert reports
    assert all(in_bounds(preset, r) for r in reports)
    assert all(r.description and not r.description.startswith("{") for r in reports)
