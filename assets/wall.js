/* Pantau command-center wall: the live hex layer, legend, ticker, clock and stale banner.
 *
 * The server ships cell ids and counts (/wall/api/snapshot); polygons are built here with h3-js.
 * Live changes arrive over Socket.IO (namespace /wall) as absolute counts of the touched cells
 * ("wall_cells") and a tick per aggregator batch ("wall_tick": sequence numbers + new reports).
 * A gap in the tick sequence, a "wall_resync" or a reconnect reloads the snapshot.
 * Each changed hex is restyled on its own (Leaflet canvas): no layer redraw, no view reset.
 */
(function () {
  "use strict";
  var W = window.pantauWall = window.pantauWall || {};
  var PALETTES = {
    reports: ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
    open: ["#fff7bc", "#fec44f", "#fe9929", "#d95f0e", "#993404"],
    breaches: ["#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15"]
  };
  var S = null;  // the state of the wall on screen

  function resForZoom(z) {
    if (S && S.cfg.res) return S.cfg.res;
    if (z <= 10) return 6;
    if (z <= 11) return 7;
    if (z <= 12) return 8;
    if (z <= 14) return 9;
    return 10;
  }

  function niceBreaks(max) {
    // five classes starting at 1, rounded to readable numbers
    if (max <= 5) return [1, 2, 3, 4, 5];
    var raw = [1, max * 0.1, max * 0.25, max * 0.5, max * 0.75];
    var out = [1];
    for (var i = 1; i < raw.length; i++) {
      var m = Math.pow(10, Math.floor(Math.log10(raw[i])));
      var v = Math.max(out[i - 1] + 1, Math.round(raw[i] / m) * m);
      out.push(v);
    }
    return out;
  }

  function colour(n) {
    var pal = PALETTES[S.view[0]] || PALETTES.reports, k = 0;
    for (var i = 0; i < S.breaks.length; i++) { if (n >= S.breaks[i]) k = i; }
    return pal[k];
  }

  function styleFor(n) {
    return {color: "#0b0f14", weight: 0.6, opacity: 0.9, fillColor: colour(n), fillOpacity: 0.72,
            interactive: false};
  }

  function el(id) { return document.getElementById(id); }

  function fmtTime(ms, seconds) {
    var opts = {timeZone: S.cfg.timezone, hour: "2-digit", minute: "2-digit", hour12: false};
    if (seconds) opts.second = "2-digit";
    return new Intl.DateTimeFormat(S.cfg.lang === "id" ? "id-ID" : "en-GB", opts).format(new Date(ms));
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
    node.setAttribute("data-updates", String(S.updates));
    // the time-lapse: "1" while it plays; the frame on screen (0 = the oldest) and its replayed
    // clock (UTC seconds), empty when the map is live
    node.setAttribute("data-timelapse", S.timelapsing ? "1" : "0");
    node.setAttribute("data-replay-frame", S.replayTs ? String(S.replayFrame) : "");
    node.setAttribute("data-replay", S.replayTs ? String(S.replayTs) : "");
  }

  function renderLegend() {
    var node = el("wall-legend");
    if (!node) return;
    var pal = PALETTES[S.view[0]] || PALETTES.reports, html = "";
    for (var i = 0; i < S.breaks.length; i++) {
      var lo = S.breaks[i], hi = i + 1 < S.breaks.length ? S.breaks[i + 1] - 1 : null;
      var label = hi === null ? "≥ " + lo : (hi === lo ? String(lo) : lo + "–" + hi);
      html += '<div class="wall-legend-row"><span class="wall-swatch" style="background:' + pal[i] +
        '"></span><span>' + label + "</span></div>";
    }
    node.innerHTML = '<div class="wall-legend-title">' + (S.cfg.labels[S.view.join(":")] || "") + "</div>" + html;
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
    }
    if (flash) {
      poly.setStyle({color: "#ffffff", weight: 3});
      setTimeout(function () { if (S && S.polys[cell] === poly) poly.setStyle({color: "#0b0f14", weight: 0.6}); },
                 1500);
    }
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
  }

  function clearAll() {
    for (var c in S.polys) S.map.removeLayer(S.polys[c]);
    S.polys = {}; S.counts = {};
  }

  function loadSnapshot() {
    if (!S || S.timelapsing) return;
    var token = ++S.loadToken, view = S.view, res = S.res;
    S.loading = true; S.pendingCells = []; S.pendingTicks = [];
    var url = "/wall/api/snapshot?metric=" + encodeURIComponent(view[0]) + "&window=" +
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
    S.socket.emit("wall_join", {metric: S.view[0], window: S.view[1], res: S.res}, function () {
      loadSnapshot();
    });
  }

  // -- ticker ---------------------------------------------------------------
  function addTicker(items, fresh) {
    var list = items.slice().reverse().map(function (r) { return {r: r, fresh: fresh, at: Date.now()}; });
    S.ticker = list.concat(S.ticker).slice(0, 12);
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
      return '<div class="wall-tick' + (isNew ? " wall-tick-new" : "") + '" data-cell9="' + esc(r.cell9) + '">' +
        '<span class="wall-tick-icon">' + esc(S.cfg.icons[r.category] || "📌") + "</span>" +
        '<span class="wall-tick-what">' + esc(S.cfg.names[r.category] || r.category) + "</span>" +
        '<span class="wall-tick-where">' + esc(r.kelurahan || r.kecamatan || "") + "</span>" +
        '<span class="wall-tick-when">' + esc(ago(r.created_at)) + "</span></div>";
    }).join("");
  }

  // -- spikes -----------------------------------------------------------------
  W.setSpikes = function (cells) {
    if (!S) { W._spikes = cells; return; }
    S.spikeCells = cells || [];
    placeSpikes();
  };

  function placeSpikes() {
    S.spikePolys.forEach(function (p) { S.map.removeLayer(p); });
    S.spikePolys = S.spikeCells.map(function (cell) {
      return new S.Poly(window.h3.cellToBoundary(cell), {color: "#ff1744", weight: 5, opacity: 1, fill: false,
                                                          interactive: false}).addTo(S.map);
    });
    publishState();
  }

  function pulse() {
    S.pulseOn = !S.pulseOn;
    S.spikePolys.forEach(function (p) {
      p.setStyle({opacity: S.pulseOn ? 1 : 0.15, weight: S.pulseOn ? 6 : 3});
    });
  }

  // -- stale feed and clock ----------------------------------------------------
  function watch() {
    var clock = el("wall-clock");
    if (clock) clock.textContent = fmtTime(Date.now(), true) + " " + S.cfg.tzLabel;
    var stale = !S.socket.connected || Date.now() - S.lastUpdate > S.cfg.stale * 1000;
    var banner = el("wall-stale-banner");
    if (banner) {
      if (stale) {
        banner.textContent = "⚠ " + S.cfg.text.stale.replace("{time}", fmtTime(S.lastUpdate) + " " + S.cfg.tzLabel);
        banner.style.display = "";
      } else {
        banner.style.display = "none";
      }
    }
    if (Date.now() - S.lastTickerRender > 30000) { S.lastTickerRender = Date.now(); renderTicker(); }
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

  function onZoom() {
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
    var savedView = S.view, timer = null;
    S.timelapsing = true; S.replayTs = null; S.replayFrame = null;
    // a snapshot under way would paint live counts over the replay: dropped, reloaded at the end
    S.loadToken++; S.loading = false; S.pendingCells = []; S.pendingTicks = [];
    publishState();

    function finish() {
      if (timer !== null) { clearInterval(timer); timer = null; }
      if (S !== state) return;  // the wall was rebuilt meanwhile: nothing of this replay is on screen
      S.timelapsing = false; S.replayTs = null; S.replayFrame = null; S.view = savedView;
      if (label) label.textContent = before;
      clearAll();
      renderLegend();
      var res = resForZoom(S.map.getZoom());  // a zoom or resize during the replay took effect on hold
      if (res !== S.res) { S.res = res; join(); } else { loadSnapshot(); }
      publishState();
    }

    fetch("/wall/api/timelapse?res=" + S.res, {cache: "no-store"}).then(function (r) {
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
        if (label) label.textContent = (S.cfg.text.replay || "▶ {time}").replace("{time}", fmtTime(S.replayTs * 1000));
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
    map.fitBounds(cfg.bounds, {animate: false});
    S = {map: map, Poly: anchor.constructor, cfg: cfg, view: [cfg.metric, cfg.window],
         res: cfg.res || resForZoom(map.getZoom()), counts: {}, polys: {}, breaks: [1, 2, 3, 4, 5], seq: -1, baseSeq: 0,
         loading: false, loadToken: 0, pendingCells: [], pendingTicks: [], lastUpdate: Date.now(),
         ticker: [], spikeCells: W._spikes || [], spikePolys: [], pulseOn: false, timers: [], updates: 0,
         snapshots: 0, lastTickerRender: Date.now(), timelapsing: false, replayTs: null,
         replayFrame: null};
    S.ticker = (cfg.recent || []).map(function (r) { return {r: r, fresh: false, at: 0}; });
    renderTicker();
    renderLegend();
    // WebSocket only: a display's session is one connection held by one web process, so several
    // processes serve walls without sticky sessions (app/server.py).
    var socket = S.socket = window.io(cfg.namespace, {transports: ["websocket"], reconnectionDelayMax: 2000});
    socket.on("connect", function () { join(); publishState(); });
    socket.on("disconnect", function () { publishState(); });
    socket.on("wall_cells", function (msg) { if (S) applyCells(msg); });
    socket.on("wall_tick", function (msg) { if (S) onTick(msg); });
    socket.on("wall_resync", function () { if (S) loadSnapshot(); });
    map.on("zoomend", onZoom);
    // an unattended screen: after a resize (another monitor, a browser restart) fit the city again
    var refit = null;
    map.on("resize", function () {
      clearTimeout(refit);
      refit = setTimeout(function () { map.invalidateSize(false); map.fitBounds(cfg.bounds, {animate: false}); }, 250);
    });
    S.timers.push(setInterval(watch, 500));
    S.timers.push(setInterval(pulse, 600));
    if (cfg.rotate > 0) {
      var idx = 0;
      S.timers.push(setInterval(function () {
        if (S.timelapsing) return;  // a replay holds the rotation (it would take the map's room away)
        idx = (idx + 1) % cfg.views.length;
        switchView(cfg.views[idx]);
      }, cfg.rotate * 1000));
    }
    placeSpikes();
    W.state = function () { return S; };
    W.countAt = function (lat, lng) {
      return S.counts[window.h3.latLngToCell(lat, lng, S.res)] || 0;
    };
  };
})();
