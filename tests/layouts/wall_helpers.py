"""Opening the wall in a browser and measuring what a person across the room can read.

Every wall test opens ``/wall`` through ``open_wall`` so a sign-in (a staff session or a display
token) can be added here, in one place.
"""
from __future__ import annotations

import math
from urllib.parse import urlencode

# The default display profile: a 55-inch 16:9 screen read from 5 metres.
DIAGONAL_IN, DISTANCE_M = 55.0, 5.0
MIN_ARCMIN = 16.0  # ISO 9241-303: characters at least 16 minutes of arc tall


def open_wall(page, server, wait_connected: bool = True, rotating: bool = False, **params):
    """Go to ``/wall`` of the app ``server`` with the given URL settings, as an unattended screen
    (a fresh display token, which the wall moves into a cookie), and wait for the push connection
    and a snapshot. A display token's wall rotates its views by itself; a test that compares
    one view holds it (``rotate=0``) unless it asks for ``rotating`` or its own ``rotate``."""
    from tests.helpers import wall_url

    if not rotating:
        params.setdefault("rotate", "0")

    # a loaded machine (several test runs on two cores) may take long to serve the page's scripts
    page.goto(wall_url(server, f"?{urlencode(params)}" if params else ""), timeout=90000)
    if wait_connected:
        page.wait_for_function(
            "() => { const s = document.getElementById('wall-hexstate');"
            " return s && s.getAttribute('data-connected') === '1' && Number(s.getAttribute('data-seq')) >= 0; }",
            timeout=30000)
    return page


def screen_width_mm(diagonal_in: float = DIAGONAL_IN) -> float:
    return diagonal_in * 25.4 * 16 / math.hypot(16, 9)


# Every visible text node: its cap height in CSS px, measured from the font itself (the ascent of
# "H" in a canvas with the element's computed font), and where it is.
_MEASURE_JS = """
() => {
  const canvas = document.createElement('canvas'), ctx = canvas.getContext('2d'), caps = {};
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text) continue;
    const el = node.parentElement, cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || el.closest('[aria-hidden="true"]') && !el.closest('.leaflet-control')) continue;
    let hidden = false;
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || Number(s.opacity) === 0) { hidden = true; break; }
    }
    if (hidden) continue;
    const range = document.createRange(); range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0 &&
      r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight);
    if (!rects.length) continue;
    const font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    if (!(font in caps)) { ctx.font = font; caps[font] = ctx.measureText('H').actualBoundingBoxAscent; }
    out.push({text: text.slice(0, 60), cls: el.className && String(el.className).slice(0, 40),
              id: el.id, fontSize: parseFloat(cs.fontSize), cap: caps[font],
              top: Math.round(rects[0].top), left: Math.round(rects[0].left)});
  }
  return {texts: out, screenWidth: screen.width, innerWidth: innerWidth, dpr: devicePixelRatio};
}
"""


def measure_texts(page, diagonal_in: float = DIAGONAL_IN, distance_m: float = DISTANCE_M) -> list[dict]:
    """Every visible text with its cap height in millimetres and minutes of arc at the distance."""
    found = page.evaluate(_MEASURE_JS)
    mm_per_px = screen_width_mm(diagonal_in) / found["screenWidth"]
    for item in found["texts"]:
        item["cap_mm"] = item["cap"] * mm_per_px
        item["arcmin"] = math.degrees(math.atan(item["cap_mm"] / (distance_m * 1000))) * 60
    return found["texts"]
