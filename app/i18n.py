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
    "unit.minutes": {"id": "mnt", "en": "min"},
    "unit.hours": {"id": "jam", "en": "h"},
    "unit.days": {"id": "hari", "en": "d"},
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


# -- numbers by the language's conventions (CLDR through Babel) --------------------------------
# English on a Pantau screen is read in Indonesia and by its staff: a 24-hour clock (en_GB).
LOCALES = {"id": "id_ID", "en": "en_GB"}


def locale_of(language: str) -> str:
    return LOCALES.get(language, LOCALES["id"])


def number(value: float, language: str = "id", decimals: int = 0) -> str:
    """``1670`` -> "1.670" (id) / "1,670" (en); ``decimals`` fixed digits after the separator."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=locale_of(language))


def percent(value: float, language: str = "id", decimals: int = 1) -> str:
    """``82.7`` (a percentage) -> "82,7%" (id) / "82.7%" (en)."""
    from babel.numbers import format_percent

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
    return format_percent(value / 100.0, format=pattern, locale=locale_of(language))


def number_symbols(language: str = "id") -> dict[str, str]:
    """The group and decimal separators, for numbers a browser formats (the wall's legend)."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    locale = locale_of(language)
    return {"group": get_group_symbol(locale), "decimal": get_decimal_symbol(locale)}


def duration_parts(seconds: float | None, language: str = "id") -> tuple[str, str]:
    """(number, unit) of a duration in the unit a person reads: "3" "mnt", "1,5" "jam", "8,9" "hari"."""
    if seconds is None:
        return "—", ""
    if seconds < 3600:
        return number(int(seconds // 60), language), t("unit.minutes", language)
    if seconds < 2 * 86400:
        return number(round(seconds / 3600, 1), language, 1), t("unit.hours", language)
    return number(round(seconds / 86400, 1), language, 1), t("unit.days", language)


def duration(seconds: float | None, language: str = "id") -> str:
    value, unit = duration_parts(seconds, language)
    return f"{value} {unit}".strip()


# Dates people read: "2 Des 2026, 03.27 WIB" (id) / "2 Dec 2026, 03:27 WIB" (en), in the city's zone.
DATE_TIME_PATTERNS = {"id": "d MMM y, HH.mm", "en": "d MMM y, HH:mm"}


def date_time(moment: datetime, preset, language: str = "id") -> str:
    """A UTC moment as a date and time in the city's zone by the language's rules (CLDR through Babel)."""
    from babel.dates import format_datetime

    pattern = DATE_TIME_PATTERNS.get(language, DATE_TIME_PATTERNS["id"])
    text = format_datetime(moment, pattern, tzinfo=ZoneInfo(preset.timezone), locale=locale_of(language))
    return f"{text} {preset.tz_label}"
