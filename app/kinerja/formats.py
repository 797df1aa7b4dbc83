"""Numbers, shares, hours and dates in the reader's language (Babel), times in the city's zone."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

LOCALES = {"id": "id_ID", "en": "en_GB"}
# Plotly's decimal and thousands separators, as Babel writes them for the language
PLOTLY_SEPARATORS = {"id": ",.", "en": ".,"}


def locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["id"])


def number(value, lang: str, digits: int = 0) -> str:
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale(lang))


def percent(value: float | None, lang: str) -> str:
    return "—" if value is None else format_percent(value, format="#,##0.0%", locale=locale(lang))


def hours(value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    unit = "jam" if lang == "id" else "h"
    return f"{number(value, lang, 1)} {unit}"


def day(value: date, lang: str, fmt: str = "d MMM") -> str:
    return format_date(value, fmt, locale=locale(lang))


def long_day(value: date, lang: str) -> str:
    return format_date(value, "d MMMM y", locale=locale(lang))


def moment(value: datetime, preset, lang: str) -> str:
    """A UTC moment in the city's zone with its label (WIB, WITA, WIT)."""
    local = value.astimezone(ZoneInfo(preset.timezone))
    return f"{format_datetime(local, 'd MMM y HH.mm' if lang == 'id' else 'd MMM y HH:mm', locale=locale(lang))} " \
           f"{preset.tz_label}"
