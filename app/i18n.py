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
    "screen.lapor": {"id": "Lapor masalah", "en": "Report a problem"},
    "screen.kiosk": {"id": "Kios publik", "en": "Public kiosk"},
    "screen.dispatch": {"id": "Konsol disposisi (staf)", "en": "Dispatch console (staff)"},
    "screen.tugas": {"id": "Daftar tugas OPD (staf)", "en": "Agency task list (staff)"},
    "screen.open311": {"id": "API Open311", "en": "Open311 API"},
    "screen.healthz": {"id": "Kesehatan sistem", "en": "System health"},
    "screen.metrics": {"id": "Metrik (Prometheus)", "en": "Metrics (Prometheus)"},
}


_merged: dict[str, dict[str, str]] | None = None


def _catalogue() -> dict[str, dict[str, str]]:
    global _merged
    if _merged is None:
        import importlib
        import pkgutil

        from app import translations

        merged = dict(CATALOGUE)
        for info in pkgutil.iter_modules(translations.__path__):
            merged.update(importlib.import_module(f"app.translations.{info.name}").ENTRIES)
        _merged = merged
    return _merged


def t(key: str, language: str = "id", **values) -> str:
    """The text for ``key`` in ``language`` (Indonesian when missing), with ``{name}`` values filled."""
    entry = _catalogue().get(key)
    if entry is None:
        return key
    text = entry.get(language) or entry["id"]
    return text.format(**values) if values else text


def local_time(moment: datetime, preset, fmt: str = "%H:%M") -> str:
    """A UTC moment shown in the city's zone, with its label (WIB, WITA, WIT)."""
    return f"{moment.astimezone(ZoneInfo(preset.timezone)).strftime(fmt)} {preset.tz_label}"
