"""/kinerja as a supervisor uses it in Chromium at 1440×900: seven charts with data in both languages,
the numbers behind them equal SQL counts for three filters, a drill-down lands on /dispatch with
the filter applied, axe-core finds nothing critical or serious; an operator may not open it."""
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.auth.users import create_user
from app.store import db
from layouts import kinerja as ids
from tests.axe import axe_violations, describe
from tests.kinerja_history import make_history

PASSWORD = "correct horse battery"
READ = """(ident) => { const el = document.querySelector('#' + ident + ' .js-plotly-plot');
  return el && el.data ? el.data.map(tr => ({x: tr.x, y: tr.y, z: tr.z, name: tr.name, meta: tr.meta})) : null; }"""


def _login(page, base, username):
    page.goto(f"{base}/login")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state("networkidle", timeout=90000)   # a loaded machine signs in slowly


def _figures(page) -> dict:
    page.wait_for_function("""() => [...document.querySelectorAll('.kinerja-card .js-plotly-plot')]
        .filter(el => el.data && el.data.length).length >= 6""", timeout=90000)
    page.wait_for_load_state("networkidle", timeout=90000)
    page.wait_for_timeout(300)
    return {chart: page.evaluate(READ, ids.graph_id(chart)) for chart in ids.CHARTS}


def _sum_y(traces) -> int:
    return int(sum(v or 0 for tr in traces for v in tr["y"]))


def _sql(engine, city, zone, days, **where):
    """Reports created in the last ``days`` local days (and open ones) with the given filter, from SQL."""
    r = db.reports.c
    today = datetime.now(zone).date()
    first = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), zone)
    terms = [r.city == city] + [getattr(r, k) == v for k, v in where.items()]
    with engine.connect() as conn:
        received = conn.execute(select(func.count()).select_from(db.reports)
                                .where(*terms, r.created_at >= first)).scalar_one()
        still_open = conn.execute(select(func.count()).select_from(db.reports)
                                  .where(*terms, db.open_reports())).scalar_one()
    return received, still_open


def _resolved(engine, city, zone, days):
    """Resolutions by staff in the last ``days`` local days, from the audit trail."""
    e = db.report_events.c
    today = datetime.now(zone).date()
    first = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), zone)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.report_events).where(
            e.city == city, e.to_status == "resolved", e.occurred_at >= first,
            ~e.actor.startswith("citizen"))).scalar_one()


def test_kinerja_charts_agree_with_sql_and_drill_down(live_app, browser, artifacts_dir):
    services = live_app.extensions["pantau"]
    base = live_app.config["BASE_URL"]
    create_user(services.engine, services.preset, "kepala", PASSWORD, "supervisor", None)
    create_user(services.engine, services.preset, "oper1", PASSWORD, "operator", None)
    make_history(services, count=150, days=20)
    engine, city, zone = services.engine, services.preset.slug, ZoneInfo(services.preset.timezone)
    with engine.connect() as conn:
        kecamatan = Counter(conn.execute(select(db.reports.c.kecamatan_code)).scalars()).most_common(1)[0][0]

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    _login(page, base, "kepala")
    for lang in ("id", "en"):
        page.goto(f"{base}/kinerja?lang={lang}")
        figures = _figures(page)
        with_data = [c for c, traces in figures.items() if traces and any(
            any(v for v in (tr["y"] if tr["z"] is None else sum(tr["z"], [])) or []) for tr in traces)]
        assert len(with_data) >= 6, with_data
        received, still_open = _sql(engine, city, zone, 30)
        assert _sum_y(figures["daily"]) == received
        assert figures["backlog"][0]["y"][-1] == still_open
        assert sum(map(sum, figures["heatmap"][0]["z"])) == received
        # the honesty signals: every resolution of the period accounted for, per agency
        resolved = page.eval_on_selector_all(
            ".honesty-agencies td[data-col=resolved]", "els => els.map(e => Number(e.dataset.n))")
        assert sum(resolved) == _resolved(engine, city, zone, 30) > 0
        text = page.inner_text("body")
        for raw in ("in_progress", "road_damage", "first_action", "kinerja.", "None"):
            assert raw not in text, raw
        assert ("Kinerja penanganan laporan" in text) == (lang == "id")
        assert ("Report handling performance" in text) == (lang == "en")
        page.screenshot(path=str(artifacts_dir / f"kinerja-1440-{lang}.png"), full_page=True)
        v = axe_violations(page)
        assert not v, describe(v)

    # Three filters: the numbers behind the charts equal SQL counts over the same reports.
    # (Without the boundary files reports have no kecamatan: the period is the third filter then.)
    third = (f"kecamatan={kecamatan}", {"kecamatan_code": kecamatan}, 30) if kecamatan else ("period=7d", {}, 7)
    for params, where, days in (("agency=DLH", {"agency": "DLH"}, 30), ("category=garbage", {"category": "garbage"}, 30),
                                third):
        page.goto(f"{base}/kinerja?lang=id&{params}")
        figures = _figures(page)
        received, still_open = _sql(engine, city, zone, days, **where)
        assert received > 0, params
        assert _sum_y(figures["daily"]) == received, params
        assert figures["backlog"][0]["y"][-1] == still_open, params
        assert sum(map(sum, figures["heatmap"][0]["z"])) == received, params
        href = page.get_attribute(f"#{ids.drill_id('daily')}", "href")
        first = datetime.now(zone).date() - timedelta(days=days - 1)
        # the drill-down carries the period (local dates, inclusive) and the filter
        assert f"from={first.isoformat()}" in href and f"to={datetime.now(zone).date().isoformat()}" in href, href
        if where:
            assert href.count(params) == 1

    # The drill-down lands on /dispatch with the same filter applied to its queue.
    page.goto(f"{base}/kinerja?lang=id&category=garbage")
    _figures(page)
    page.click(f"#{ids.drill_id('daily')}")
    page.wait_for_url("**/dispatch?*category=garbage*")
    page.wait_for_selector(".queue-table tbody tr", timeout=20000)
    page.wait_for_load_state("networkidle")
    cells = page.locator(".queue-table tbody tr td:nth-child(4)").all_inner_texts()
    assert cells and set(cells) <= {"garbage", "Sampah"}, cells
    page.screenshot(path=str(artifacts_dir / "kinerja-drill-dispatch.png"))

    # A bad filter in the URL is named, not a crash; an operator may not open the screen at all.
    page.goto(f"{base}/kinerja?lang=en&period=2y")
    page.wait_for_selector(f"#{ids.graph_id('daily')}")
    context.close()
    other = browser.new_context(viewport={"width": 1440, "height": 900})
    page = other.new_page()
    _login(page, base, "oper1")
    response = page.goto(f"{base}/kinerja")
    assert response.status == 403
    other.close()
