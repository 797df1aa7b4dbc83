"""A several-city install (PANTAU_CITIES=jakarta,kupang): each city's whole app under ``/<city>/``,
the list of cities at ``/`` and the overview wall at ``/overview``.

Each city is the one-city app made by ``app.factory.create_city_app`` with its own settings and
services (its preset, zone, categories, Open311 ``jurisdiction_id``, staff, Socket.IO under
``/<city>/socket.io``), mounted with werkzeug's ``DispatcherMiddleware``: inside a city's app a
request's path is the one-city path (``/wall``) and its script root the city (``/kupang``), so
its screens, guards and blueprints are the one-city code; links go through ``app.web_paths``.
They share one Redis client and one SQL engine (every key and row carries its city).

The session cookie is the install's (one secret, path ``/``): a person signs in once, and each
city's app loads the account as it is in that city (``app.auth.users.load_user(..., city)``), so a
Kupang supervisor is nobody at ``/jakarta``. The overview is for staff who work in every city of
the install, or a screen with an overview display token
(``python -m app.auth displays create --overview --name ...``).
"""
from __future__ import annotations

import hmac
import time
from urllib.parse import urlencode

from flask import Flask, abort, current_app, redirect, render_template_string, request, session
from werkzeug.middleware.dispatcher import DispatcherMiddleware

import h3

from app import headers, overview, queries, web_hosts
from app.auth import displays
from app.auth.users import load_user
from app.auth.web import browser_agent
from app.i18n import number, t

REFRESH_S = 15      # the overview fetches itself again: a lost connection shows, and heals at the next fetch

# Fetches the page again every data-refresh seconds and swaps its <main> (no reload, no flash); a
# failed fetch keeps the figures and shows the stale notice; a sign-in asked for reloads the page.
_SCRIPT = """(function () {
  "use strict";
  var every = Number(document.body.getAttribute("data-refresh") || 15) * 1000;
  function refresh() {
    fetch(window.location.href, {cache: "no-store", credentials: "same-origin"}).then(function (r) {
      if (r.redirected) { window.location.reload(); return null; }
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.text();
    }).then(function (text) {
      if (text === null) return;
      var next = new DOMParser().parseFromString(text, "text/html").querySelector("main");
      if (next) document.querySelector("main").replaceWith(document.importNode(next, true));
      document.getElementById("overview-stale").hidden = true;
    }).catch(function () { document.getElementById("overview-stale").hidden = false; });
  }
  window.setInterval(refresh, every);
})();
"""


def create_install_app(settings, services, create_city_app) -> Flask:
    cities = {slug: services.for_city(slug) for slug in settings.cities}
    root = Flask(__name__)
    root.config.update(SECRET_KEY=settings.resolved_secret_key(), JSON_SORT_KEYS=False,
                       PERMANENT_SESSION_LIFETIME=settings.staff_idle_minutes * 60)
    root.extensions["pantau"] = services
    root.extensions["pantau_city_services"] = cities
    apps = {slug: create_city_app(city.settings, city, mount=f"/{slug}") for slug, city in cities.items()}
    root.extensions["pantau_cities"] = apps
    root.add_url_rule("/", "index", _index)
    root.add_url_rule("/overview", "overview", _overview)
    root.add_url_rule("/overview.js", "overview_script", lambda: (_SCRIPT, 200, {
        "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600"}))
    headers.install(root, settings, ())
    root.wsgi_app = DispatcherMiddleware(root.wsgi_app, {f"/{slug}": app for slug, app in apps.items()})
    if settings.city_hosts:   # a host per city: its paths without a city are that city's (app.web_hosts)
        root.wsgi_app = web_hosts.CityHosts(root.wsgi_app, settings.city_hosts, settings.cities)
    if settings.proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxies   # outermost: every city's app sees the client's own address
        root.wsgi_app = ProxyFix(root.wsgi_app, x_for=n, x_proto=n, x_host=n)
    return root


def _language() -> str:
    lang = request.args.get("lang")
    if lang is None:
        return current_app.extensions["pantau"].settings.language
    if lang not in ("id", "en"):
        abort(400, "lang: must be id or en")
    return lang


def _cities() -> dict:
    return current_app.extensions["pantau_city_services"]


# -- who may watch the overview -----------------------------------------------------------------
def _staff_everywhere() -> str | None:
    """The signed-in account when it works in every city of the install (any role), else None.
    The cookie is the one the cities' apps sign; checked as they check it (epoch, browser, idle)."""
    username = session.get("_user_id")
    if not username or time.time() - session.get("seen", 0) > current_app.permanent_session_lifetime.total_seconds():
        return None
    if not hmac.compare_digest(str(session.get("agent", "")), browser_agent()):
        return None
    for city in _cities().values():
        user = load_user(city.engine, username, city.preset.slug)
        if user is None or user.epoch != session.get("epoch"):
            return None
    return username


def _display_token() -> str | None:
    engine = current_app.extensions["pantau"].engine
    return displays.display_for(engine, overview.OVERVIEW, request.cookies.get(displays.COOKIE))


def _open_with_token():
    """``/overview?display=<token>``: the cookie set under /overview and the token gone from the URL."""
    engine = current_app.extensions["pantau"].engine
    token = request.args.get(displays.QUERY, "")
    if displays.display_for(engine, overview.OVERVIEW, token) is None:
        response = current_app.response_class(
            "Token layar tidak dikenal atau sudah dicabut. / Display token unknown or revoked.\n",
            status=403, mimetype="text/plain")
    else:
        rest = [(k, v) for k, v in request.args.items(multi=True) if k != displays.QUERY]
        response = redirect("/overview" + ("?" + urlencode(rest) if rest else ""), code=303)
        response.set_cookie(displays.COOKIE, token, max_age=displays.COOKIE_MAX_AGE, path="/overview",
                            httponly=True, samesite="Lax", secure=request.is_secure)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- pages ----------------------------------------------------------------------------------------
_BASE = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{% block head %}{% endblock %}
<title>{{ title }}</title><style>
body{font-family:system-ui,sans-serif;background:#1b1d21;color:#f1f1f1;margin:0}
a{color:#9ecbff}main{padding:1.5rem 2rem}h1{margin:.2rem 0 1rem}
table{border-collapse:collapse}th,td{padding:.45rem .9rem;text-align:right;border-bottom:1px solid #444}
th:first-child,td:first-child{text-align:left}thead th{color:#cfcfcf;font-weight:600}
.lang{float:right;font-size:1rem}.muted{color:#c4c4c4}
#install-cities{list-style:none;padding:0;max-width:48rem}#install-cities li{border-bottom:1px solid #444;padding:.4rem 0}
#install-cities h3{margin:.2rem 0}#install-cities p{margin:.3rem 0;line-height:1.8}h2{font-size:1.1rem}
</style>{% block style %}{% endblock %}</head><body><main>{% block body %}{% endblock %}</main></body></html>"""

_INDEX = _BASE.replace("{% block body %}{% endblock %}", """
<nav class="lang" aria-label="{{ t('install.language', lang) }}">
<a href="/?lang={{ other }}" lang="{{ other }}" id="install-lang">{{ t('install.other_language', lang) }}</a></nav>
<h1>Pantau</h1><p>{{ t('install.tagline', lang) }}</p>
<h2 class="muted">{{ t('install.cities', lang) }}</h2><ul id="install-cities">
{% for c in cities %}<li id="install-city-{{ c.slug }}"><h3><a href="/{{ c.slug }}/?lang={{ lang }}">{{ c.name }}</a></h3>
<p class="muted">{{ c.zone }} · {{ t('kpi.received', lang) }} {{ t('wall.window.today', lang) }}: {{ c.received }}</p><p>
<a href="/{{ c.slug }}/lapor?lang={{ lang }}">{{ t('screen.lapor', lang) }}</a> ·
<a href="/{{ c.slug }}/kiosk?lang={{ lang }}">{{ t('screen.kiosk', lang) }}</a> ·
<a href="/{{ c.slug }}/wall?lang={{ lang }}">{{ t('screen.wall', lang) }}</a> ·
<a href="/{{ c.slug }}/dispatch?lang={{ lang }}">{{ t('screen.dispatch', lang) }}</a></p></li>{% endfor %}
</ul>
<p><a href="/overview?lang={{ lang }}" id="install-overview">{{ t('overview.title', lang) }}</a></p>""")


def _index():
    lang = _language()
    rows = []
    for slug, city in _cities().items():
        kpi = queries.kpis(city.redis, city.preset, "today")
        rows.append({"slug": slug, "name": city.preset.name, "zone": city.preset.tz_label,
                     "received": number(kpi["received"], lang)})
    return render_template_string(_INDEX, lang=lang, other="en" if lang == "id" else "id", t=t,
                                  title="Pantau", cities=rows)


_OVERVIEW = _BASE.replace("{% block head %}{% endblock %}",
                          '<script src="/overview.js" defer></script>').replace(
    "<body><main>", '<body data-refresh="{{ refresh }}"><p id="overview-stale" role="status" hidden>'
                    "{{ t('overview.stale', lang) }}</p><main>").replace(
    "{% block style %}{% endblock %}", """<style>
main{display:grid;grid-template-columns:52% minmax(0,1fr);grid-template-rows:auto 1fr;gap:.5rem 2rem;height:100vh;
box-sizing:border-box;font-size:1.5rem;overflow:hidden}
header{grid-column:1/3}header h1{display:inline;font-size:2.3rem}header p{display:inline;margin-left:1rem}
svg{width:100%;height:calc(100vh - 12rem);background:#23262b;border-radius:.4rem}
table{width:100%}th,td{padding:.4rem .5rem}td{font-size:1.9rem;font-variant-numeric:tabular-nums}th{white-space:nowrap}
tbody th{font-size:1.5rem}td.overview-time{font-size:1.3rem;white-space:nowrap}
thead th{font-size:1.1rem;white-space:normal}
.land{fill:#34383f;stroke:#5a606a;stroke-width:.6}.hex{stroke:#111;stroke-width:.3}
.city-dot{fill:none;stroke:#f1f1f1;stroke-width:2}.city-label{fill:#f1f1f1;font-size:26px;font-weight:600}
.total td{font-weight:700;border-top:2px solid #aaa}h2{font-size:1.5rem;margin:1.2rem 0 .4rem}
.spike{color:#ffd166}#overview-stale{position:fixed;top:0;right:0;margin:0;padding:.4rem 1rem;
background:#ffd166;color:#111;font-size:1.2rem}ul{padding-left:1.2rem;margin:.2rem 0}.legend{font-size:1rem}
</style>""").replace("{% block body %}{% endblock %}", """
<header><h1>{{ t('overview.title', lang) }}</h1><p class="muted">{{ t('overview.subtitle', lang, n=cities|length) }}</p>
<nav class="lang" aria-label="{{ t('install.language', lang) }}">
<a href="/overview?lang={{ other }}" lang="{{ other }}" id="overview-lang">{{ t('install.other_language', lang) }}</a></nav></header>
<section aria-labelledby="overview-map-title"><h2 id="overview-map-title">{{ t('overview.map', lang) }}</h2>
<svg id="overview-map" viewBox="0 0 {{ width }} {{ height }}" role="img" aria-labelledby="overview-map-title overview-map-desc">
<desc id="overview-map-desc">{{ map_desc }}</desc>
{% for d in land %}<path class="land" d="{{ d }}"/>{% endfor %}
{% for h in hexes %}<path class="hex" d="{{ h.d }}" fill="{{ h.fill }}"/>{% endfor %}
{% for c in cities %}<circle class="city-dot" cx="{{ c.x }}" cy="{{ c.y }}" r="{{ c.r }}"/>
<text class="city-label" x="{{ c.label_x }}" y="{{ c.y + 9 }}" text-anchor="{{ c.anchor }}">{{ c.name }} · {{ c.received }}</text>{% endfor %}
</svg><p class="legend muted">{{ t('overview.legend', lang) }}</p></section>
<section aria-labelledby="overview-kpi-title"><h2 id="overview-kpi-title">{{ t('overview.today', lang) }}</h2>
<table id="overview-kpis"><thead><tr><th scope="col">{{ t('install.city', lang) }}</th>
<th scope="col">{{ t('install.local_time', lang) }}</th><th scope="col">{{ t('wall.kpi.received', lang) }}</th>
<th scope="col">{{ t('wall.kpi.open_backlog', lang) }}</th><th scope="col">{{ t('wall.kpi.resolved', lang) }}</th>
<th scope="col">{{ t('wall.kpi.sla_breaches', lang) }}</th></tr></thead><tbody>
{% for c in cities %}<tr id="overview-city-{{ c.slug }}"><th scope="row">{{ c.name }}</th>
<td class="overview-time">{{ c.time }}</td><td data-value="{{ c.raw.received }}">{{ c.received }}</td>
<td data-value="{{ c.raw.open_backlog }}">{{ c.open_backlog }}</td><td data-value="{{ c.raw.resolved }}">{{ c.resolved }}</td>
<td data-value="{{ c.raw.sla_breaches }}">{{ c.sla_breaches }}</td></tr>{% endfor %}
<tr class="total" id="overview-total"><th scope="row">{{ t('overview.total', lang) }}</th><td></td>
<td data-value="{{ total.raw.received }}">{{ total.received }}</td><td data-value="{{ total.raw.open_backlog }}">{{ total.open_backlog }}</td>
<td data-value="{{ total.raw.resolved }}">{{ total.resolved }}</td><td data-value="{{ total.raw.sla_breaches }}">{{ total.sla_breaches }}</td></tr>
</tbody></table>
<h2>{{ t('overview.spikes', lang) }}</h2>
{% if spikes %}<ul id="overview-spikes">{% for s in spikes %}<li class="spike">{{ s }}</li>{% endfor %}</ul>
{% else %}<p id="overview-spikes" class="muted">{{ t('overview.no_spikes', lang) }}</p>{% endif %}
<p class="muted">{{ t('overview.updated', lang, s=refresh) }}</p></section>""")

# The wall's sequential ramp (matplotlib "inferno"), low to high.
RAMP = ("#fcffa4", "#f7d13d", "#fb9b06", "#ed6925", "#cf4446", "#a52c60", "#781c6d", "#4a0c6b")


def _overview():
    if request.args.get(displays.QUERY) is not None:
        return _open_with_token()
    if _staff_everywhere() is None and _display_token() is None:
        first = next(iter(_cities()))
        return redirect(f"/{first}/login?" + urlencode({"next": request.full_path.rstrip("?")}))
    lang = _language()
    cities = _cities()
    now = time.time()
    figures = overview.city_figures(cities, "today", now)
    summed = overview.totals(figures)
    cells = overview.map_cells(cities, "today", now)
    frame = _Frame([c.preset.bounds for c in cities.values()])
    peak = max((n for per in cells.values() for n in per.values()), default=0)
    hexes = []
    for per_city in cells.values():
        for cell, count in sorted(per_city.items(), key=lambda item: item[1]):
            step = min(len(RAMP) - 1, int((len(RAMP) - 1) * count / peak)) if peak else 0
            hexes.append({"d": frame.path([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]),
                          "fill": RAMP[step]})
    rows, spikes_text = [], []
    for fig in figures:
        preset = cities[fig.slug].preset
        x, y = frame.point(preset.center[1], preset.center[0])
        radius = round(10 + 30 * (fig.kpis["received"] / summed["received"]) ** 0.5 if summed["received"] else 10, 1)
        right = x > frame.width * 0.6     # a label near the right edge goes to the dot's left
        rows.append({"slug": fig.slug, "name": fig.name, "raw": fig.kpis, "x": x, "y": y, "r": radius,
                     "label_x": round(x - radius - 8 if right else x + radius + 8, 1),
                     "anchor": "end" if right else "start",
                     "time": f"{overview.local_now(fig, now).strftime('%H.%M' if lang == 'id' else '%H:%M')} {fig.tz_label}",
                     **{k: number(fig.kpis[k], lang) for k in ("received", "open_backlog", "resolved", "sla_breaches")}})
        for incident in fig.incidents:
            category = overview.category_name(incident.category, lang)
            spikes_text.append(t("overview.spike", lang, city=fig.name, category=category,
                                 count=number(incident.category_count, lang)))
    total = {"raw": summed, **{k: number(summed[k], lang) for k in ("received", "open_backlog", "resolved", "sla_breaches")}}
    map_desc = t("overview.map_desc", lang, cities=", ".join(f"{r['name']} {r['received']}" for r in rows))
    page = render_template_string(_OVERVIEW, lang=lang, other="en" if lang == "id" else "id", t=t,
                                  title=f"Pantau — {t('overview.title', lang)}", cities=rows, total=total,
                                  spikes=spikes_text, land=[frame.path(ring) for ring in _land()], hexes=hexes,
                                  width=frame.width, height=frame.height, map_desc=map_desc, refresh=REFRESH_S)
    return page, 200, {"Cache-Control": "no-store"}


def _land():
    boundaries = current_app.extensions["pantau"].settings.boundaries
    return overview.province_outlines(str(boundaries) if boundaries else None)


class _Frame:
    """Degrees to SVG units over the cities' bounds with a margin (equirectangular: near the
    equator a degree of longitude is nearly one of latitude)."""

    def __init__(self, bounds, margin: float = 2.0, width: int = 1000):
        self.west = min(b[0][1] for b in bounds) - margin
        self.east = max(b[1][1] for b in bounds) + margin
        self.south = min(b[0][0] for b in bounds) - margin
        self.north = max(b[1][0] for b in bounds) + margin
        aspect = 1.25    # the map's column on a 1920×1080 wall
        if self.east - self.west < aspect * (self.north - self.south):
            middle, half = (self.east + self.west) / 2, aspect * (self.north - self.south) / 2
            self.west, self.east = middle - half, middle + half
        else:
            middle, half = (self.north + self.south) / 2, (self.east - self.west) / aspect / 2
            self.south, self.north = middle - half, middle + half
        self.width = width
        self.scale = width / (self.east - self.west)
        self.height = round((self.north - self.south) * self.scale)

    def point(self, lng: float, lat: float) -> tuple[float, float]:
        return round((lng - self.west) * self.scale, 1), round((self.north - lat) * self.scale, 1)

    def path(self, ring) -> str:
        points = [self.point(lng, lat) for lng, lat in ring]
        return "M" + "L".join(f"{x},{y}" for x, y in points) + "Z"
