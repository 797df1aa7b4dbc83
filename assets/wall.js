/* Pantau command-center wall: the live hex layer, legend, ticker, clock and stale banner.
 *
 * The server ships cell ids and counts (/wall/api/snapshot); polygons are built here with h3-js.
 * Live changes arrive over Socket.IO (namespace /wall) as absolute counts of the touched cells
 * ("wall_cells") and a tick per aggregator batch ("wall_tick": sequence numbers + new reports).
 * A gap in the tick sequence, a "wall_resync" or a reconnect reloads the snapshot.
 * The panels around the map arrive on the same socket ("wall_panels": Dash component trees of the
 * sections that changed, set with dash_clientside.set_props) and a "wall_beat" every second says
 * how old the aggregator's heartbeat is: a wall makes no periodic HTTP request at all.
 * Each changed hex is restyled on its own (Leaflet canvas): no layer redraw, no view reset.
 */
(function () {
  "use strict";
  // Where this city's pages live: "/kupang" on a several-city install, "" on one city (Dash's own config).
  function cityRoot() {
    var node = document.getElementById("_dash-config");
    try { return (JSON.parse(node.textContent).requests_pathname_prefix || "/").replace(/\/$/, ""); }
    catch (e) { return ""; }
  }
  var W = window.pantauWall = window.pantauWall || {};
  // One sequential ramp for every metric, sampled from matplotlib's "inferno" (perceptually uniform,
  // lightness rising with the count, so it reads the same to colour-blind eyes and in grey): on the
  // near-black map the busiest class is the brightest thing on screen (contrast 1.8, 3.8, 6.8, 10.8
  // and 18.0 : 1 against #0b0f14). Spikes are not a colour of the ramp: a cyan ring of their own.
  var RAMP = ["#6a176e", "#bc3754", "#f37819", "#fbb61a", "#fcffa4"];
  var MAP_BG = "#0b0f14", SPIKE = "#00e5ff";
  var S = null;  // the state of the wall on screen

  // -- the display profile: type sized for the distance ------------------------------------------
  // A 16:9 screen of `diag` inches read from `dist` metres: every text is at least MIN_ARCMIN tall
  // (cap height). --wall-u (the smallest font size, in CSS px) = cap height / CSS px size / 0.7 (the
  // cap-to-size ratio of the wall's fonts is 0.72-0.73; 0.7 leaves a margin).
  var MIN_ARCMIN = 16, CAP_RATIO = 0.7;
  var HEX_MIN_ARCMIN = 5;  // a hex must be at least this wide (flat to flat, about 1.7 edges) to be drawn
  var H3_EDGE_M = {6: 3724.5, 7: 1406.5, 8: 531.4, 9: 200.8, 10: 75.9};

  function profileOf(cfg) {
    var p = (cfg && cfg.profile) || {diag: 55, dist: 5};
    var widthMm = p.diag * 25.4 * 16 / Math.sqrt(16 * 16 + 9 * 9);
    var screenPx = (window.screen && screen.width) || window.innerWidth;
    var mmPerPx = widthMm / screenPx;
    var capMm = p.dist * 1000 * Math.tan(MIN_ARCMIN / 60 * Math.PI / 180);
    return {diag: p.diag, dist: p.dist, mmPerPx: mmPerPx, unitPx: capMm / mmPerPx / CAP_RATIO};
  }

  function applyProfile(cfg) {
    var prof = profileOf(cfg);
    document.documentElement.style.setProperty("--wall-u", prof.unitPx.toFixed(2) + "px");
    return prof;
  }

  // The hex resolution follows the ground scale (metres per millimetre of screen), not the pixel
  // count: a 4K wall (twice the CSS px, one zoom level closer) and a full-HD wall of the same size
  // showing the same view pick the same resolution, so they show the same cells and legend.
  function resForZoom(z) {
    if (S && S.cfg.res) return S.cfg.res;
    var prof = S ? S.prof : profileOf(null), lat = S ? S.map.getCenter().lat : 0;
    var metresPerPx = 40075016.686 * Math.cos(lat * Math.PI / 180) / (256 * Math.pow(2, z));
    var metresPerMm = metresPerPx / prof.mmPerPx;
    var minMm = prof.dist * 1000 * Math.tan(HEX_MIN_ARCMIN / 60 * Math.PI / 180);
    for (var res = 10; res > 6; res--) {
      if (H3_EDGE_M[res] * Math.sqrt(3) / metresPerMm >= minMm) return res;
    }
    return 6;
  }

  // -- numbers by the language (the separators come from Babel on the server) --------------------
  function fmtInt(n) {
    var sym = (S && S.cfg.numbers) || {group: ",", decimal: "."};
    return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, sym.group);
  }

  // Round class bounds from the data: 1, 2, 5, 10, 20, 50... spread geometrically up to the
  // largest count, at most five classes; a class bound never exceeds the largest count.
  function niceBreaks(max) {
    var nice = [];
    for (var m = 1; m <= 1e7; m *= 10) nice.push(m, 2 * m, 5 * m);
    var out = [1];
    for (var i = 1; i < 5; i++) {
      var want = Math.pow(Math.max(max, 1), i / 5), best = null;
      nice.forEach(function (v) {
        if (v > max || v <= out[out.length - 1]) return;
        if (best === null || Math.abs(Math.log(v / want)) < Math.abs(Math.log(best / want))) best = v;
      });
      if (best !== null && best > out[out.length - 1]) out.push(best);
    }
    return out;
  }

  function classOf(n) {
    var k = 0;
    for (var i = 0; i < S.breaks.length; i++) { if (n >= S.breaks[i]) k = i; }
    return k;
  }

  function colour(n) {
    // fewer classes than colours: the top of the ramp, so the busiest class is always the brightest
    return RAMP[RAMP.length - S.breaks.length + classOf(n)];
  }

  function styleFor(n) {
    return {color: MAP_BG, weight: 0.6, opacity: 0.9, fillColor: colour(n), fillOpacity: 0.88,
            interactive: !!(S && S.cfg.clickable)};
  }

  function el(id) { return document.getElementById(id); }

  function fmtTime(ms, seconds) {
    var opts = {timeZone: S.cfg.timezone, hour: "2-digit", minute: "2-digit", hour12: false};
    if (seconds) opts.second = "2-digit";
    return new Intl.DateTimeFormat(S.cfg.lang === "id" ? "id-ID" : "en-GB", opts).format(new Date(ms));
  }

  function localDay(ms) {
    return new Intl.DateTimeFormat("en-CA", {timeZone: S.cfg.timezone, year: "numeric", month: "2-digit",
                                             day: "2-digit"}).format(new Date(ms));
  }

  // "kemarin 16.15" / "hari ini 03.05": the replayed moment with its day, in the city's zone
  function dayAndTime(ms) {
    var day = localDay(ms), today = localDay(Date.now()), yesterday = localDay(Date.now() - 86400000);
    var word = day === today ? S.cfg.text.today : day === yesterday ? S.cfg.text.yesterday : day;
    return word + " " + fmtTime(ms);
  }

  function publishState() {
    var node = el("wall-hexstate");
    if (!node || !S) return;
    var total = 0, features = 0;
    for (var c in S.counts) { total += S.counts[c]; features++; }
    node.setAttribute("data-features", String(features));
    node.setAttribute("data-total", String(total));
    node.setAttribute("data-res", String(S.res));
    node.setAttribute("data-seq", String(S.seq));
    node.setAttribute("data-view", S.view.join(":"));
    node.setAttribute("data-connected", S.socket && S.socket.connected ? "1" : "0");
    node.setAttribute("data-spikes", String(S.spikePolys.length));
    node.setAttribute("data-spike-marks", String(S.spikeMarks.length));
    node.setAttribute("data-incidents", String(S.incidents.length));
    node.setAttribute("data-blinking", String(S.incidents.filter(function (i) { return !i.ack; }).length));
    node.setAttribute("data-breaks", S.breaks.join(","));
    node.setAttribute("data-stale", S.stale ? "1" : "0");
    node.setAttribute("data-zoom", String(S.map.getZoom()));
    node.setAttribute("data-updates", String(S.updates));
    node.setAttribute("data-panel-pushes", String(S.panelPushes));
    node.setAttribute("data-beats", String(S.beats));
    node.setAttribute("data-places", String(S.placed ? S.placed.length : 0));
    node.setAttribute("data-place-level", S.placeLevel || "");
    node.setAttribute("data-rotate", String(S.cfg.rotate || 0));
    // the time-lapse: "1" while it plays; the frame on screen (0 = the oldest) and its replayed
    // clock (UTC seconds), empty when the map is live
    node.setAttribute("data-timelapse", S.timelapsing ? "1" : "0");
    node.setAttribute("data-replay-frame", S.replayTs ? String(S.replayFrame) : "");
    node.setAttribute("data-replay", S.replayTs ? String(S.replayTs) : "");
  }

  function renderLegend() {
    var node = el("wall-legend");
    if (!node) return;
    var html = "", first = RAMP.length - S.breaks.length;
    for (var i = S.breaks.length - 1; i >= 0; i--) {  // the busiest class on top
      var lo = S.breaks[i], hi = i + 1 < S.breaks.length ? S.breaks[i + 1] - 1 : null;
      var label = hi === null ? "≥ " + fmtInt(lo) : (hi === lo ? fmtInt(lo) : fmtInt(lo) + "–" + fmtInt(hi));
      html += '<div class="wall-legend-row" data-colour="' + RAMP[first + i] + '"><span class="wall-swatch" style="background:' +
        RAMP[first + i] + '"></span><span>' + label + "</span></div>";
    }
    html += '<div class="wall-legend-row"><span class="wall-swatch wall-swatch-spike"></span><span>' +
      esc(S.cfg.text.legend_spike) + "</span></div>";
    node.innerHTML = '<div class="wall-legend-title">' + esc((S.cfg.legendTitles || {})[S.view[0]] || "") + "</div>" + html;
  }

  function setCell(cell, n, flash) {
    var poly = S.polys[cell];
    if (!n || n <= 0) {
      if (poly) { S.map.removeLayer(poly); delete S.polys[cell]; }
      delete S.counts[cell];
      return;
    }
    S.counts[cell] = n;
    if (poly) {
      poly.setStyle({fillColor: colour(n)});
    } else {
      var ring = window.h3.cellToBoundary(cell);
      poly = S.polys[cell] = new S.Poly(ring, styleFor(n)).addTo(S.map);
      if (S.cfg.clickable) poly.on("click", function () { openCell(cell); });
    }
    if (flash) {
      poly.setStyle({color: "#ffffff", weight: 3});
      setTimeout(function () { if (S && S.polys[cell] === poly) poly.setStyle({color: "#0b0f14", weight: 0.6}); },
                 1500);
    }
  }

  // -- click to act: a signed-in operator's click opens the console filtered to the hex ----------
  function openCell(cell) {
    if (!S || !S.cfg.clickable || S.timelapsing) return;
    W.lastOpened = cell;
    window.location.assign(S.cfg.dispatch + "?h3=" + encodeURIComponent(cell));
  }

  function setAll(cells) {
    var max = 0, c;
    for (c in cells) { if (cells[c] > max) max = cells[c]; }
    S.breaks = niceBreaks(max);
    for (c in S.polys) { if (!(c in cells)) setCell(c, 0); }
    for (c in S.counts) { if (!(c in cells)) delete S.counts[c]; }
    for (c in cells) { setCell(c, cells[c]); if (S.polys[c]) S.polys[c].setStyle(styleFor(cells[c])); }
    renderLegend();
    placeSpikes();
    placeNamesSoon();
  }

  function clearAll() {
    for (var c in S.polys) S.map.removeLayer(S.polys[c]);
    S.polys = {}; S.counts = {};
  }

  function loadSnapshot() {
    if (!S || S.timelapsing) return;
    var token = ++S.loadToken, view = S.view, res = S.res;
    S.loading = true; S.pendingCells = []; S.pendingTicks = [];
    var url = cityRoot() + "/wall/api/snapshot?metric=" + encodeURIComponent(view[0]) + "&window=" +
      encodeURIComponent(view[1]) + "&res=" + res;
    fetch(url, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (snap) {
      if (!S || token !== S.loadToken) return;
      S.baseSeq = snap.seq; S.seq = snap.seq; S.loading = false; S.lastUpdate = Date.now();
      setAll(snap.cells);
      var gap = false;
      S.pendingTicks.forEach(function (t) {
        if (t.seq <= S.seq) return;
        if (t.from > S.seq + 1) gap = true;
        S.seq = Math.max(S.seq, t.seq);
      });
      S.pendingCells.forEach(applyCells);
      S.pendingTicks = []; S.pendingCells = [];
      S.snapshots++;
      publishState();
      if (gap) loadSnapshot();
      if (S.cfg.timelapse && !S.timelapseDone) { S.timelapseDone = true; W.timelapse(); }
    }).catch(function () {
      if (S && token === S.loadToken) { S.loading = false; setTimeout(loadSnapshot, 1000); }
    });
  }

  function applyCells(msg) {
    if (msg.res !== S.res || msg.view.join(":") !== S.view.join(":")) return;
    if (S.loading) { S.pendingCells.push(msg); return; }
    if (msg.seq < S.baseSeq || S.timelapsing) return;
    for (var c in msg.cells) setCell(c, msg.cells[c], true);
    S.updates++;
    publishState();
  }

  function onTick(msg) {
    S.lastUpdate = Date.now();
    if (msg.new && msg.new.length) addTicker(msg.new, true);
    if (W.onTick) W.onTick(msg);
    if (S.loading) { S.pendingTicks.push(msg); return; }
    if (msg.seq <= S.seq) return;
    if (msg.from > S.seq + 1) { loadSnapshot(); return; }
    S.seq = msg.seq;
    publishState();
  }

  function join() {
    if (!S.socket.connected) return;
    var wantPanels = !S.panelsJoined;  // once per connection: what changed while it was away
    S.socket.emit("wall_join", {metric: S.view[0], window: S.view[1], res: S.res, lang: S.cfg.lang,
                                panels: wantPanels}, function (answer) {
      if (S && answer && answer.panels) { S.panelsJoined = true; applyPanels(answer.panels); }
      loadSnapshot();
    });
  }

  // -- the panels, pushed: {component id: props, ..., spikes: [...]}, only the sections that changed
  function applyPanels(msg) {
    if (!S || !msg) return;
    var set = window.dash_clientside && window.dash_clientside.set_props;
    for (var id in msg) {
      if (id === "spikes") { W.setSpikes(msg.spikes); continue; }
      if (set && el(id)) set(id, msg[id]);
    }
    S.panelPushes++;
    paginate(false);
    publishState();
  }

  function onBeat(msg) {
    S.lastBeat = Date.now(); S.beats++;
    if (msg && typeof msg.feed_age === "number") {
      S.lastUpdate = Math.max(S.lastUpdate, Date.now() - msg.feed_age * 1000);
    }
  }

  // -- ticker ---------------------------------------------------------------
  function addTicker(items, fresh) {
    var list = items.slice().reverse().map(function (r) { return {r: r, fresh: fresh, at: Date.now()}; });
    S.ticker = list.concat(S.ticker).slice(0, 12);
    S.tickerChanged = true;
    renderTicker();
  }

  function ago(iso) {
    var minutes = Math.floor((Date.now() - Date.parse(iso)) / 60000);
    if (minutes < 1) return S.cfg.text.just_now;
    if (minutes < 90) return S.cfg.text.minutes_ago.replace("{n}", String(minutes));
    var hours = Math.floor(minutes / 60);   // read from across the room: "30 h ago", not "1800 min ago"
    if (hours < 48) return S.cfg.text.hours_ago.replace("{n}", String(hours));
    return S.cfg.text.days_ago.replace("{n}", String(Math.floor(hours / 24)));
  }

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"]/g, function (ch) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[ch];
    });
  }

  function renderTicker() {
    var node = el("wall-ticker");
    if (!node) return;
    node.innerHTML = S.ticker.map(function (item) {
      var r = item.r, isNew = item.fresh && Date.now() - item.at < 5000;
      var where = [r.kelurahan, r.kecamatan].filter(Boolean).join(", ");
      return '<div class="wall-tick wall-row' + (isNew ? " wall-tick-new" : "") + '" data-cell9="' + esc(r.cell9) + '">' +
        '<span class="wall-tick-icon" aria-hidden="true">' + esc(S.cfg.icons[r.category] || "📌") + "</span>" +
        '<span class="wall-tick-what">' + esc(S.cfg.names[r.category] || S.cfg.text.other) + "</span>" +
        '<span class="wall-tick-when">' + esc(ago(r.created_at)) + "</span>" +
        '<span class="wall-tick-where">' + esc(where) + "</span></div>";
    }).join("");
    paginate(false);
  }

  // -- spikes -----------------------------------------------------------------
  // incidents: [{id, cells, ack}]; each hex of an incident gets a cyan ring (a dark halo under it
  // so it reads over any class), and the incident a cyan circle around all its hexes, never smaller
  // than the room's type size (1u): at the city's scale an incident's hexes are a few pixels, and
  // the circle (the legend's mark) is what the operator sees from the desk. Unacknowledged ones
  // pulse, acknowledged ones stay steady.
  W.setSpikes = function (incidents) {
    if (!S) { W._spikes = incidents; return; }
    S.incidents = (incidents || []).filter(function (i) { return i && i.cells; });
    placeSpikes();
  };

  var MARK_MIN_U = 1.0, MARK_GAP_U = 0.35, MARK_SIDES = 48;

  // a line's width in the room's type unit, so a 4K wall draws the same picture as a full-HD one
  function strokeU(u) { return Math.max(2, Math.round(u * S.prof.unitPx)); }

  // the circle around an incident's hexes, as a polygon of MARK_SIDES corners a fixed number of
  // pixels from their centre (redrawn at each zoom, so it keeps its size on the screen)
  function markRing(cells) {
    var corners = [], cx = 0, cy = 0, reach = 0;
    cells.forEach(function (cell) {
      window.h3.cellToBoundary(cell).forEach(function (ll) { corners.push(S.map.latLngToContainerPoint(ll)); });
    });
    corners.forEach(function (p) { cx += p.x / corners.length; cy += p.y / corners.length; });
    corners.forEach(function (p) { reach = Math.max(reach, Math.hypot(p.x - cx, p.y - cy)); });
    var r = Math.max(MARK_MIN_U * S.prof.unitPx, reach + MARK_GAP_U * S.prof.unitPx), ring = [];
    for (var k = 0; k < MARK_SIDES; k++) {
      var a = 2 * Math.PI * k / MARK_SIDES, ll = S.map.containerPointToLatLng([cx + r * Math.cos(a), cy + r * Math.sin(a)]);
      ring.push([ll.lat, ll.lng]);
    }
    return ring;
  }

  // one drawn alert outline: a dark halo under a cyan line, widths in u; ``pulse`` its [opacity,
  // width] at the pulse's low and high (the circle dims but never goes: it marks the incident from
  // across the room)
  function alertOutline(ring, ack, halo, line, pulse) {
    return {ack: ack, pulse: pulse,
      halo: new S.Poly(ring, {color: "#000000", weight: strokeU(halo), opacity: 0.9, fill: false, interactive: false}).addTo(S.map),
      ring: new S.Poly(ring, {color: SPIKE, weight: strokeU(line), opacity: 1, fill: false, interactive: false}).addTo(S.map)};
  }

  function placeSpikes() {
    S.spikePolys.concat(S.spikeMarks).forEach(function (p) { S.map.removeLayer(p.halo); S.map.removeLayer(p.ring); });
    S.spikePolys = []; S.spikeMarks = [];
    if (S.timelapsing) { publishState(); return; }  // live alerts are not drawn over replayed hours
    S.incidents.forEach(function (incident) {
      incident.cells.forEach(function (cell) {
        S.spikePolys.push(alertOutline(window.h3.cellToBoundary(cell), incident.ack, 0.17, 0.1,
                                       [[0.25, 0.08], [1, 0.12]]));
      });
      if (incident.cells.length) {
        S.spikeMarks.push(alertOutline(markRing(incident.cells), incident.ack, 0.22, 0.13, [[0.6, 0.1], [1, 0.16]]));
      }
    });
    placeNamesSoon();  // names move off the rings
    publishState();
  }

  function pulse() {
    S.pulseOn = !S.pulseOn;
    S.spikePolys.concat(S.spikeMarks).forEach(function (p) {
      var at = p.pulse[S.pulseOn ? 1 : 0];
      if (!p.ack) p.ring.setStyle({opacity: at[0], weight: strokeU(at[1])});
    });
  }

  // -- place names from the boundaries ------------------------------------------------------------
  // Kecamatan names at the city's scale, kelurahan names too once the map is closer than
  // AREA_LABELS_M_PER_MM of ground per millimetre of screen; every name at the room's type size
  // (1u), none over another or over the legend: where they do not all fit, the places where the
  // hexes are busiest are named first (then the larger areas), the rest left out.
  var AREA_LABELS_M_PER_MM = 25, PLACE_GAP_PX = 6;
  var PLACE_SHIFTS = [0, -0.55, 0.55, -1.1, 1.1];  // where a name may sit, in line heights from its spot

  function boxOf(layer) {
    var b = layer.getBounds(), nw = S.map.latLngToContainerPoint(b.getNorthWest()),
        se = S.map.latLngToContainerPoint(b.getSouthEast());
    return {l: nw.x, t: nw.y, r: se.x, b: se.y};
  }

  function groundScale() {
    var z = S.map.getZoom(), lat = S.map.getCenter().lat;
    var metresPerPx = 40075016.686 * Math.cos(lat * Math.PI / 180) / (256 * Math.pow(2, z));
    return metresPerPx / S.prof.mmPerPx;
  }

  function placeLayer() {
    var box = S.map.getContainer(), layer = box.querySelector(".wall-places");
    if (!layer) {
      layer = document.createElement("div");
      layer.className = "wall-places";
      box.appendChild(layer);
    }
    return layer;
  }

  function heatBy(res) {
    var heat = {};
    for (var c in S.counts) {
      var p = S.res > res ? window.h3.cellToParent(c, res) : c;
      heat[p] = (heat[p] || 0) + S.counts[c];
    }
    return heat;
  }

  function placeNames() {
    if (!S || !S.cfg.places) return;
    var places = S.cfg.places, layer = placeLayer(), size = S.map.getSize();
    var level = groundScale() <= AREA_LABELS_M_PER_MM && places.area && places.area.length ? "area" : "district";
    // closer in, the kelurahan first (what the operator zoomed in for), then their kecamatan
    var levels = level === "area" ? ["area", "district"] : ["district"];
    var taken = [], margin = Math.max(PLACE_GAP_PX, 0.12 * S.prof.unitPx), mapBox = S.map.getContainer().getBoundingClientRect();
    // the legend and the map's controls are not written over
    Array.prototype.forEach.call(S.map.getContainer().parentNode.querySelectorAll(
      ".wall-legend, .leaflet-control"), function (n) {
      var r = n.getBoundingClientRect();
      if (r.width && r.height) taken.push({l: r.left - mapBox.left, t: r.top - mapBox.top,
                                           r: r.right - mapBox.left, b: r.bottom - mapBox.top, tier: 0});
    });
    // a name never covers a spike's rings (tier 1); it keeps off the busiest class of hexes (tier 2)
    // by moving within its area if it can, and is written over them if it cannot
    var rings = S.spikePolys.concat(S.spikeMarks).map(function (p) {
      var b = boxOf(p.ring); b.tier = 1; taken.push(b); return b;
    });
    var top = S.breaks.length - 1;
    for (var c in S.polys) {
      if (classOf(S.counts[c]) === top) { var hb = boxOf(S.polys[c]); hb.tier = 2; taken.push(hb); }
    }
    var html = "", placed = [], lat0 = S.map.getCenter().lat;
    var metresPerPx = 40075016.686 * Math.cos(lat0 * Math.PI / 180) / (256 * Math.pow(2, S.map.getZoom()));
    // how busy each kelurahan is: the counts of the hexes inside it (its cells, from the boundaries);
    // a kecamatan: its kelurahan together
    var cellRes = 8, res = Math.min(cellRes, S.res), heat = heatBy(res), areaHeat = [], districtHeat = {};
    (places.area || []).forEach(function (p, i) {
      var seen = {}, sum = 0;
      (p[3] || []).forEach(function (c) {
        var k = res < cellRes ? window.h3.cellToParent(c, res) : c;
        if (!seen[k]) { seen[k] = 1; sum += heat[k] || 0; }
      });
      areaHeat[i] = sum;
      districtHeat[p[4]] = (districtHeat[p[4]] || 0) + sum;
    });
    levels.forEach(function (lv) {
      var list = places[lv] || [];
      var order = list.map(function (p, i) {
        return {p: p, i: i, heat: lv === "area" ? areaHeat[i] : districtHeat[p[0]] || 0};
      }).sort(function (a, b) { return b.heat - a.heat || a.i - b.i; });
      order.forEach(function (o) {
        var at = S.map.latLngToContainerPoint([o.p[1], o.p[2]]);
        var w = textWidth(o.p[0], lv), h = S.prof.unitPx * 1.25, box = null, pt = null;
        var room = (o.p[5] || 0) / metresPerPx;  // a name moves only as far as its area reaches
        // a name whose spot is under a spike's rings may sit just above or below them instead
        var spots = PLACE_SHIFTS.filter(function (f) { return Math.abs(f * h) <= room; })
          .map(function (f) { return {x: at.x, y: at.y + f * h}; });
        rings.forEach(function (q) {
          if (at.x >= q.l - w / 2 && at.x <= q.r + w / 2 && at.y >= q.t - h && at.y <= q.b + h) {
            spots.push({x: at.x, y: q.b + h / 2 + margin + 1}, {x: at.x, y: q.t - h / 2 - margin - 1});
          }
        });
        for (var tier = 2; tier >= 1 && !box; tier--) {
          for (var d = 0; d < spots.length && !box; d++) {
            var spot = spots[d];
            var b = {l: spot.x - w / 2 - margin, t: spot.y - h / 2 - margin, r: spot.x + w / 2 + margin,
                     b: spot.y + h / 2 + margin, tier: 0};
            if (b.l < 0 || b.t < 0 || b.r > size.x || b.b > size.y) continue;
            var free = true;
            for (var k = 0; k < taken.length && free; k++) {
              var q = taken[k];
              if (q.tier <= tier && b.l < q.r && b.r > q.l && b.t < q.b && b.b > q.t) free = false;
            }
            if (free) { box = b; pt = spot; }
          }
        }
        if (!box) return;
        taken.push(box);
        placed.push(o.p[0]);
        html += '<span class="wall-place wall-place-' + lv + '" style="left:' + Math.round(pt.x - w / 2) +
          "px;top:" + Math.round(pt.y - h / 2) + 'px">' + esc(o.p[0]) + "</span>";
      });
    });
    if (html !== S.placesHtml) { layer.innerHTML = html; S.placesHtml = html; }
    // the names as rendered, not only as measured: one whose box as drawn reaches a spike's rings
    // (a glyph from a fallback font, a rounding) is taken off rather than left over the alert
    Array.prototype.slice.call(layer.children).forEach(function (n) {
      var r = n.getBoundingClientRect(), l = r.left - mapBox.left, t = r.top - mapBox.top,
          rr = r.right - mapBox.left, bb = r.bottom - mapBox.top;
      var hit = rings.some(function (q) { return l < q.r && rr > q.l && t < q.b && bb > q.t; });
      if (hit) {
        var at = placed.indexOf(n.textContent);
        if (at >= 0) placed.splice(at, 1);
        layer.removeChild(n);
      }
    });
    S.placed = placed; S.placeLevel = level; S.placedView = viewKey(); S.placePending = false;
    publishState();
  }

  // widths of the names at the wall's type size, measured once per size
  function textWidth(text, level) {
    var key = level + "|" + S.prof.unitPx.toFixed(2);
    var cache = S.widths[key] = S.widths[key] || {};
    if (!(text in cache)) {
      if (!S.measure) {
        S.measure = document.createElement("span");
        S.measure.className = "wall-place wall-place-measure";
        S.measure.setAttribute("aria-hidden", "true");
        placeLayer().parentNode.appendChild(S.measure);
      }
      S.measure.className = "wall-place wall-place-measure wall-place-" + level;
      S.measure.textContent = text;
      cache[text] = S.measure.getBoundingClientRect().width;
    }
    return cache[text];
  }

  // the view the names were last placed for: the map's centre, zoom and size, and the rings
  function viewKey() {
    var c = S.map.getCenter(), z = S.map.getSize();
    return [c.lat.toFixed(6), c.lng.toFixed(6), S.map.getZoom(), z.x, z.y, S.spikePolys.length].join("|");
  }

  var placeTimer = null;
  function placeNamesSoon() {
    S.placePending = true;
    clearTimeout(placeTimer);
    placeTimer = setTimeout(placeNames, 200);
  }

  // -- the rotating panel: one section at a time, as many whole rows as fit, page after page -------
  var PAGE_MS = 8000;

  function rowsOf(body) {
    return Array.prototype.slice.call(body.querySelectorAll(".wall-row"));
  }

  function paginate(advance) {
    var rotor = el("wall-rotor");
    if (!rotor || !S) return;
    var sections = Array.prototype.slice.call(rotor.querySelectorAll(".wall-section"));
    if (!sections.length) return;
    var R = S.rotor;
    if (advance) {
      R.page++;
      if (R.page >= R.pages) { R.page = 0; R.section = (R.section + 1) % sections.length; }
    }
    sections.forEach(function (sec, i) { sec.classList.toggle("wall-current", i === R.section); });
    var sec = sections[R.section], body = sec.querySelector(".wall-section-body"), rows = rowsOf(body);
    rows.forEach(function (r) { r.classList.remove("wall-row-off"); });
    // pages of whole rows: a row belongs to the page whose height it fits in
    var limit = body.clientHeight, head = 0;
    var thead = body.querySelector("thead");
    if (thead) head = thead.getBoundingClientRect().height;
    var pages = [[]], used = head;
    rows.forEach(function (r) {
      var h = r.getBoundingClientRect().height + (r.tagName === "TR" ? 0 : rowGap(body));
      if (used + h > limit + 0.5 && pages[pages.length - 1].length) { pages.push([]); used = head; }
      pages[pages.length - 1].push(r); used += h;
    });
    R.pages = pages.length;
    if (R.page >= R.pages) R.page = 0;
    rows.forEach(function (r) { r.classList.add("wall-row-off"); });
    pages[R.page].forEach(function (r) { r.classList.remove("wall-row-off"); });
    var tag = sec.querySelector(".wall-page");
    var text = R.pages > 1 ? S.cfg.text.page.replace("{n}", R.page + 1).replace("{of}", R.pages) : "";
    if (tag && tag.textContent !== text) tag.textContent = text;
  }

  function rowGap(body) {
    var first = body.firstElementChild;
    return first ? parseFloat(getComputedStyle(first.classList.contains("wall-row") ? body : first).rowGap) || 0 : 0;
  }

  // -- stale feed and clock ----------------------------------------------------
  function age(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), t = S.cfg.text;
    if (s < 120) return t.age_seconds.replace("{n}", fmtInt(s));
    if (s < 2 * 3600) return t.age_minutes.replace("{n}", fmtInt(Math.floor(s / 60)));
    return t.age_hours.replace("{n}", fmtInt(Math.floor(s / 3600)));
  }

  function watch() {
    var clock = el("wall-clock");
    if (clock) clock.textContent = fmtTime(Date.now(), false) + " " + S.cfg.tzLabel;
    var stale = !S.socket.connected || Date.now() - S.lastUpdate > S.cfg.stale * 1000;
    S.stale = stale;
    var root = el("wall-root");
    if (root) root.classList.toggle("wall-stale-on", stale);
    var banner = el("wall-stale-banner");
    if (banner) {
      if (stale) {
        banner.textContent = "⚠ " + S.cfg.text.stale.replace("{age}", age(Date.now() - S.lastUpdate))
          .replace("{time}", fmtTime(S.lastUpdate) + " " + S.cfg.tzLabel);
        banner.style.display = "";
      } else {
        banner.style.display = "none";
      }
    }
    if (Date.now() - S.lastTickerRender > 30000) { S.lastTickerRender = Date.now(); renderTicker(); }
    if (Date.now() - S.rotor.at > PAGE_MS) { S.rotor.at = Date.now(); paginate(true); }
    // the names follow where the hexes are busiest, rechecked every few seconds while counts move
    if (S.updates !== S.placesUpdates && Date.now() - S.placesAt > 5000) {
      S.placesAt = Date.now(); S.placesUpdates = S.updates; placeNames();
    }
    publishState();
  }

  // -- views: zoom, rotation, time-lapse ----------------------------------------
  function switchView(view) {
    S.view = view;
    var label = el("wall-view-label");
    if (label) label.textContent = S.cfg.labels[view.join(":")] || "";
    clearAll();
    join();
  }

  function showViewPosition(idx) {
    var node = el("wall-view-pos");
    if (!node) return;
    node.textContent = S.cfg.text.view_of.replace("{n}", fmtInt(idx + 1)).replace("{of}", fmtInt(S.cfg.views.length));
    node.style.display = "";
  }

  function onZoom() {
    if (S.spikeMarks.length) placeSpikes();   // the incidents' circles keep their size on the screen
    var res = resForZoom(S.map.getZoom());
    if (res === S.res || S.timelapsing) return;
    S.res = res;
    clearAll();
    join();
  }

  // The last 24 hours in five-minute frames (/wall/api/timelapse), each frame showing the hour up
  // to its clock: 288 frames of 80 ms, the day in ~23 s (~3,750x real time). Live deltas are not
  // drawn meanwhile; the end reloads the snapshot, which holds them, and the wall is live again.
  var TIMELAPSE_FRAME_MS = 80;
  var TIMELAPSE_FRAMES_SHOWN = 12;  // five-minute frames summed per picture: one hour

  W.timelapse = function () {
    if (!S || S.timelapsing) return;
    var state = S, label = el("wall-view-label"), before = label ? label.textContent : "";
    var savedView = S.view, timer = null, root = el("wall-root"), bar = el("wall-progress");
    S.timelapsing = true; S.replayTs = null; S.replayFrame = null;
    if (root) root.classList.add("wall-replaying");
    placeSpikes();
    // a snapshot under way would paint live counts over the replay: dropped, reloaded at the end
    S.loadToken++; S.loading = false; S.pendingCells = []; S.pendingTicks = [];
    publishState();

    function finish() {
      if (timer !== null) { clearInterval(timer); timer = null; }
      if (S !== state) return;  // the wall was rebuilt meanwhile: nothing of this replay is on screen
      S.timelapsing = false; S.replayTs = null; S.replayFrame = null; S.view = savedView;
      if (label) label.textContent = before;
      if (root) root.classList.remove("wall-replaying");
      placeSpikes();
      clearAll();
      renderLegend();
      var res = resForZoom(S.map.getZoom());  // a zoom or resize during the replay took effect on hold
      if (res !== S.res) { S.res = res; join(); } else { loadSnapshot(); }
      publishState();
    }

    fetch(cityRoot() + "/wall/api/timelapse?res=" + S.res, {cache: "no-store"}).then(function (r) {
      if (!r.ok) throw new Error("timelapse: HTTP " + r.status);
      return r.json();
    }).then(function (tl) {
      if (S !== state) return;
      var frames = tl.frames || [], pictures = [], max = 1, i, k, c;
      for (i = 0; i < frames.length; i++) {
        var sum = {};
        for (k = Math.max(0, i - TIMELAPSE_FRAMES_SHOWN + 1); k <= i; k++) {
          for (c in frames[k]) sum[c] = (sum[c] || 0) + frames[k][c];
        }
        for (c in sum) max = Math.max(max, sum[c]);
        pictures.push(sum);
      }
      S.view = ["reports", "60m"];  // palette and legend of "reports in the last hour"
      S.breaks = niceBreaks(max);
      renderLegend();
      i = 0;
      timer = setInterval(function () {
        if (S !== state || i >= pictures.length) { finish(); return; }
        var picture = pictures[i];
        for (var old in S.counts) { if (!(old in picture)) setCell(old, 0); }
        for (var cell in picture) setCell(cell, picture[cell]);
        // the frame's end, but never past the moment the replay was asked for
        S.replayTs = Math.min(tl.start + (i + 1) * tl.step, tl.now || Infinity);
        S.replayFrame = i;
        if (label) label.textContent = (S.cfg.text.replay || "▶ {time}").replace("{time}", dayAndTime(S.replayTs * 1000));
        if (bar && bar.firstChild) bar.firstChild.style.width = (100 * (i + 1) / pictures.length).toFixed(1) + "%";
        i++;
        publishState();
      }, TIMELAPSE_FRAME_MS);
    }).catch(function (err) {
      if (window.console) console.warn("pantau wall:", err);
      finish();
    });
  };

  // -- start -------------------------------------------------------------------
  W.onEachAnchor = function (feature, layer) {
    layer.on("add", function () { W.attach(layer._map, layer); });
  };

  function teardown() {
    if (!S) return;
    S.timers.forEach(clearInterval);
    if (S.socket) S.socket.close();
    S = null;
  }

  W.attach = function (map, anchor) {
    if (S && S.map === map) return;
    if (!window.h3 || !window.io) { setTimeout(function () { W.attach(map, anchor); }, 100); return; }
    var cfgNode = el("wall-config");
    if (!cfgNode) { setTimeout(function () { W.attach(map, anchor); }, 100); return; }
    teardown();
    var cfg = JSON.parse(cfgNode.getAttribute("data-config"));
    document.documentElement.lang = cfg.lang;  // Dash's page has no lang of its own
    var prof = applyProfile(cfg);
    map.invalidateSize(false);
    map.fitBounds(cfg.bounds, {animate: false});
    if (map.attributionControl) map.attributionControl.setPrefix(false);
    S = {map: map, Poly: anchor.constructor, cfg: cfg, prof: prof, view: [cfg.metric, cfg.window],
         res: 8, counts: {}, polys: {}, breaks: [1, 2, 5, 10, 20], seq: -1, baseSeq: 0,
         loading: false, loadToken: 0, pendingCells: [], pendingTicks: [], lastUpdate: Date.now(),
         ticker: [], incidents: [], spikePolys: [], spikeMarks: [], pulseOn: false, timers: [], updates: 0,
         snapshots: 0, lastTickerRender: Date.now(), timelapsing: false, replayTs: null,
         replayFrame: null, stale: false, rotor: {section: 0, page: 0, pages: 1, at: Date.now()},
         panelPushes: 0, beats: 0, lastBeat: 0, panelsJoined: false, placed: [], placeLevel: "",
         viewIndex: 0, widths: {}, placesHtml: null, measure: null, placesAt: 0, placesUpdates: -1};
    S.res = cfg.res || resForZoom(map.getZoom());
    W.setSpikes(W._spikes || []);
    S.ticker = (cfg.recent || []).map(function (r) { return {r: r, fresh: false, at: 0}; });
    W.page = function (advance) { paginate(advance); publishState(); return S.rotor; };
    renderTicker();
    renderLegend();
    // WebSocket only: a display's session is one connection held by one web process, so several
    // processes serve walls without sticky sessions (app/server.py).
    var socket = S.socket = window.io(cfg.namespace, {path: cityRoot() + "/socket.io", transports: ["websocket"],
      reconnectionDelayMax: 2000});
    socket.on("connect", function () { join(); publishState(); });
    socket.on("disconnect", function () { if (S) S.panelsJoined = false; publishState(); });
    socket.on("wall_cells", function (msg) { if (S) applyCells(msg); });
    socket.on("wall_tick", function (msg) { if (S) onTick(msg); });
    socket.on("wall_resync", function () { if (S) loadSnapshot(); });
    socket.on("wall_panels", function (msg) { if (S) applyPanels(msg); });
    socket.on("wall_beat", function (msg) { if (S) onBeat(msg); });
    map.on("zoomend", onZoom);
    map.on("moveend", placeNamesSoon);
    // an unattended screen: whenever the map's box changes (another monitor, a banner comes or
    // goes, a browser restart) size the type again and fit the city again
    var refit = null, box = map.getContainer().parentNode;
    function refitSoon() {
      clearTimeout(refit);
      refit = setTimeout(function () {
        if (!S || S.map !== map) return;
        S.prof = applyProfile(cfg);
        map.invalidateSize(false);
        map.fitBounds(cfg.bounds, {animate: false});
        onZoom();
        paginate(false);
        publishState();
      }, 150);
    }
    map.on("resize", refitSoon);
    if (window.ResizeObserver) {
      var seen = null;
      new ResizeObserver(function () {
        var size = box.clientWidth + "x" + box.clientHeight;
        if (seen !== null && size !== seen) refitSoon();
        seen = size;
      }).observe(box);
    }
    // the controls show while someone moves the pointer or types, and hide after a few seconds
    var root = el("wall-root"), sleep = null;
    function wake() {
      if (!root) return;
      root.classList.add("wall-awake");
      clearTimeout(sleep);
      sleep = setTimeout(function () { root.classList.remove("wall-awake"); }, 6000);
    }
    document.addEventListener("mousemove", wake);
    document.addEventListener("keydown", wake);
    var rotor = el("wall-rotor");
    if (rotor && window.MutationObserver) {
      // Dash re-renders the panels' rows: keep showing the current page of whole rows
      new MutationObserver(function () { if (!S.paging) { S.paging = true; paginate(false); S.paging = false; } })
        .observe(rotor, {childList: true, subtree: true});
    }
    paginate(false);
    S.timers.push(setInterval(watch, 500));
    S.timers.push(setInterval(pulse, 600));
    if (cfg.rotate > 0) {
      // unattended: every view in turn, its name in the header and where it is in the round
      var idx = Math.max(0, cfg.views.map(function (v) { return v.join(":"); }).indexOf(S.view.join(":")));
      showViewPosition(idx);
      S.timers.push(setInterval(function () {
        if (S.timelapsing) return;  // a replay holds the rotation (it would take the map's room away)
        idx = (idx + 1) % cfg.views.length;
        switchView(cfg.views[idx]);
        showViewPosition(idx);
      }, cfg.rotate * 1000));
    }
    placeSpikes();
    W.state = function () { return S; };
    // true once the names stand where the map now is (no placement waiting, nothing moved since)
    W.placesSettled = function () { return !S.placePending && S.placedView === viewKey(); };
    W.countAt = function (lat, lng) {
      return S.counts[window.h3.latLngToCell(lat, lng, S.res)] || 0;
    };
  };
})();
