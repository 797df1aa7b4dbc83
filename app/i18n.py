"""The translation catalogue: every user-facing string in Bahasa Indonesia and English,
and times shown in the city's zone."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

CATALOGUE: dict[str, dict[str, str]] = {
    "home.tagline": {"id": "Laporan warga, ditindaklanjuti dan dipantau langsung.",
                     "en": "Citizen reports, followed up and watched live."},
    "kpi.received": {"id": "Laporan masuk", "en": "Received"},
    "kpi.open_backlog": {"id": "Belum selesai", "en": "Open backlog"},
    "kpi.resolved": {"id": "Selesai", "en": "Resolved"},
    "kpi.sla_breaches": {"id": "Lewat tenggat", "en": "SLA breaches"},
    "kpi.median_resolve": {"id": "Median waktu selesai", "en": "Median time to resolve"},
    "kpi.sla_compliance": {"id": "Kepatuhan SLA", "en": "SLA compliance"},
    "screen.wall": {"id": "Layar pusat komando", "en": "Command-center wall"},
    "screen.healthz": {"id": "Kesehatan sistem", "en": "System health"},
    "screen.metrics": {"id": "Metrik (Prometheus)", "en": "Metrics (Prometheus)"},
}


def t(key: str, language: str = "id") -> str:
    entry = CATALOGUE.get(key)
    if entry is None:
        return key
    return entry.get(language) or entry["id"]


def local_time(moment: datetime, preset, fmt: str = "%H:%M") -> str:
    """A UTC moment shown in the city's zone, with its label (WIB, WITA, WIT)."""
    return f"{moment.astimezone(ZoneInfo(preset.timezone)).strftime(fmt)} {preset.tz_label}"
