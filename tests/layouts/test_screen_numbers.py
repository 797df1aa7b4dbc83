"""Numbers on the kiosk and the start page are written by the language's rules through the one
helper every screen uses (``app.i18n``, Babel): "1.670" and "1,5 jam" in Indonesian, "1,670" and
"1.5 h" in English; never a Python format string's English."""
from __future__ import annotations

from dash import html

from layouts import home, kiosk


def texts(component) -> str:
    """Every text of a Dash component tree, in order."""
    if isinstance(component, (str, int, float)):
        return str(component)
    if component is None:
        return ""
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        return " ".join(texts(c) for c in children)
    return texts(children)


def test_kiosk_counts_and_durations_follow_the_language():
    summary = {"today": {"received": 1670, "resolved": 1234, "median_resolve_s": 5400},
               "7d": {"received": 12000, "resolved": 9000, "median_resolve_s": 9 * 86400}}
    indonesian, english = texts(kiosk.counts_panel(summary, "id")), texts(kiosk.counts_panel(summary, "en"))
    assert "1.670" in indonesian and "1.234" in indonesian and "12.000" in indonesian
    assert "1,5 jam" in indonesian and "9,0 hari" in indonesian
    assert "1,670" in english and "1.5 h" in english and "12,000" in english
    assert kiosk.duration(0.25, "id") == "15 mnt" and kiosk.duration(30, "en") == "30 h"
    assert kiosk.duration(100, "id") == "4,2 hari" and kiosk.duration(100, "en") == "4.2 d"


def test_the_start_page_writes_its_figures_by_the_language(services):
    from tests.helpers import drain, raw_reports

    services.producer.submit_many(raw_reports(1200, seed=4, spread_s=600))
    drain(services)
    for lang, expected in (("id", "1.200"), ("en", "1,200")):
        page = home.layout(services, {"lang": lang})
        tiles = [c for c in _walk(page) if isinstance(c, html.H2) and str(getattr(c, "id", "")).startswith("home-kpi")]
        received = next(c for c in tiles if c.id == "home-kpi-received")
        assert received.children == expected
    # an unknown language is the city's own, not a crash
    assert home.layout(services, {"lang": "xx"}) is not None


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _walk(child)
