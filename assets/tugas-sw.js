/* The field officer's phone, offline (served as <city>/tugas/sw.js, scope <city>/tugas: app/pwa.py).
 *
 * Keeps on the phone what /tugas needs with no signal: the app shell (the page, Dash's scripts,
 * styles, layout and callback list), the answers of the screen's own callbacks (the task list, each
 * task's page) and every listed task's before photo. Online, everything comes from the network
 * first and refreshes what is kept (a new deploy is never hidden behind a stale shell); with no
 * signal, the kept copy answers. The shell is kept when the worker installs (both Dash pages: the
 * list's and a task's, which also loads the map library); whatever the network answers is put in the
 * cache before the page gets it, so what the page has drawn, a reload with no signal draws again.
 * On the first visit the page loads before the worker controls it: assets/tugas.js hands over the
 * callback answers it got meanwhile ({type: "shell", urls, answers}; later ones {type: "answer"}).
 *
 * A callback answer (a POST to _dash-update-component) is kept under a key made from its request
 * body normalised: the output and the inputs' and states' ids, properties and values, leaving out
 * what changes between two loads of the same screen (changedPropIds, an interval's count). A second
 * key, the output and the page's path alone, keeps the latest answer for that output on that page:
 * offline, the exact answer is served if kept, else the latest one.
 * Start and resolve (POSTs to /staff/api) are never answered from here: assets/tugas.js queues them
 * in IndexedDB and sends them, each with its idempotency key, when the signal is back.
 * The page tells the worker which tasks it lists ({type: "tasks", urls}); the worker fetches each
 * task's page answer and before photos, and answers how many it keeps ({type: "kept", n}).
 * The cache's name carries a version: a new worker deletes the older caches when it activates.
 */
"use strict";

var VERSION = "v2";
var CACHE = "pantau-tugas-" + VERSION;
var ROOT = self.location.pathname.replace(/\/tugas\/sw\.js$/, "");   // "" or the city's mount ("/kupang")
var SCREEN = ROOT + "/tugas";
// A task's page (/tugas/<ticket>) is one more Dash page, the same for every ticket: the list's page
// without the map library, a task's with it (app/web_assets.py). Both are kept.
var TASK_SHELL = SCREEN + "/-";
var CALLBACK = ROOT + "/_dash-update-component";
var KEY_PREFIX = ROOT + "/__pantau-tugas/callback/";
var ROUTER_KEY = ROOT + "/__pantau-tugas/router";
var ROUTER_OUTPUT = "shell-page.children";
var VOLATILE = {n_intervals: true, n_intervals_last: true, timestamp: true};
// Scripts a task's page loads on demand (webpack chunks: its map's area outlines) that the list
// page never asked for: kept with the shell so a task first opened offline still draws.
var CHUNKS = ["/_dash-component-suites/dash_leaflet/async-GeoJSON.js"];
var routerBody = null;      // the list page's router request body (the template for task pages)

// The shell, kept before the worker is installed: the page (the same for every task), Dash's layout
// and callback list, and every script and style the page names. The page hands over what it loaded
// too (message "shell"): whatever is kept already is skipped.
function keepPage(cache, path) {     // the page and what it names: [urls to keep]
  return fetch(path, {credentials: "same-origin"}).then(function (page) {
    var type = page.headers.get("Content-Type") || "";
    if (!page.ok || page.redirected || type.indexOf("text/html") !== 0) return [];   // signed out: nothing
    return page.clone().text().then(function (html) {
      var found = [], tag = /<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/g, m;
      while ((m = tag.exec(html))) {
        var u = new URL(m[1].replace(/&amp;/g, "&"), self.location.href);
        if (u.origin === self.location.origin && /\/(_dash-component-suites|assets)\//.test(u.pathname)) {
          found.push(u.pathname + u.search);
        }
      }
      return cache.put(path, page).then(function () { return found; });
    });
  });
}

function precacheShell() {
  return caches.open(CACHE).then(function (cache) {
    return Promise.all([keepPage(cache, SCREEN), keepPage(cache, TASK_SHELL)]).then(function (named) {
      var urls = [ROOT + "/_dash-layout", ROOT + "/_dash-dependencies"].concat(CHUNKS.map(function (u) { return ROOT + u; }),
                                                                              named[0], named[1]);
      urls = urls.filter(function (u, i) { return urls.indexOf(u) === i; });
      return Promise.all(urls.map(function (u) { return within(30000, keepUrl(cache, u)); }));
    });
  }).catch(function () { return []; });     // never a reason not to install: the page hands it over again
}

self.addEventListener("install", function (event) {
  event.waitUntil(within(60000, precacheShell()).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("pantau-tugas-") === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

// -- callback keys ------------------------------------------------------------------------------
function hex(buffer) {
  return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
    return ("0" + b.toString(16)).slice(-2);
  }).join("");
}

function digestKey(text) {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (digest) {
    return new Request(KEY_PREFIX + hex(digest));
  });
}

function plain(items) {      // [{id, property, value}], pattern-matched inputs nested as lists
  return (items || []).map(function (item) {
    if (Array.isArray(item)) return plain(item);
    if (!item || typeof item !== "object") return item;
    var id = typeof item.id === "object" ? JSON.stringify(item.id, Object.keys(item.id).sort()) : item.id;
    return [id, item.property, VOLATILE[item.property] ? null : item.value];
  });
}

function pathOf(items) {
  var found = "";
  (items || []).forEach(function (item) {
    if (Array.isArray(item)) { found = found || pathOf(item); return; }
    if (item && item.property === "pathname" && typeof item.value === "string") found = found || item.value;
  });
  return found;
}

// Both keys of a request body: [exact, latest for this output on this page], or null if unreadable.
function keysOf(text) {
  var body;
  try { body = JSON.parse(text); } catch (e) { return Promise.resolve(null); }
  if (!body || typeof body.output !== "string") return Promise.resolve(null);
  var exact = JSON.stringify([body.output, plain(body.inputs), plain(body.state)]);
  var latest = JSON.stringify([body.output, pathOf(body.inputs) || pathOf(body.state)]);
  return Promise.all([digestKey("exact " + exact), digestKey("latest " + latest)]);
}

function isListRouter(text) {
  try {
    var body = JSON.parse(text);
    return body.output === ROUTER_OUTPUT && pathOf(body.inputs) === SCREEN;
  } catch (e) { return false; }
}

function noteRouter(text) {    // kept in the cache too: a worker is stopped when idle, losing its globals
  if (typeof text !== "string" || !isListRouter(text)) return Promise.resolve();
  routerBody = text;
  return caches.open(CACHE).then(function (cache) { return cache.put(ROUTER_KEY, new Response(text)); })
    .catch(function () { /* kept in memory only */ });
}

function router() {
  if (routerBody) return Promise.resolve(routerBody);
  return caches.open(CACHE).then(function (cache) { return cache.match(ROUTER_KEY); })
    .then(function (hit) { return hit ? hit.text() : null; });
}

function keepAnswer(keys, response) {
  if (!keys || !response || !response.ok) return Promise.resolve(false);
  var first = response.clone(), second = response.clone();
  return caches.open(CACHE).then(function (cache) {
    return Promise.all([cache.put(keys[0], first), cache.put(keys[1], second)]);
  }).then(function () { return true; }, function () { return false; });
}

function keptAnswer(keys) {
  if (!keys) return Promise.resolve(undefined);
  return caches.open(CACHE).then(function (cache) {
    return cache.match(keys[0]).then(function (hit) { return hit || cache.match(keys[1]); });
  });
}

function offline() {
  return new Response(JSON.stringify({error: "offline"}), {status: 503, headers: {"Content-Type": "application/json"}});
}

// Online, the answer is kept before the page gets it: whatever the page has drawn, a reload with no
// signal draws again (a page that reloads as soon as it has its answer must not beat the cache).
function answerCallback(request) {
  return request.clone().text().then(function (text) {
    return Promise.all([noteRouter(text), keysOf(text)]).then(function (noted) {
      var keys = noted[1];
      return fetch(request).then(function (response) {
        if (!keys || !response.ok) return response;
        return keepAnswer(keys, response.clone()).then(function () { return response; });
      }, function () {
        return keptAnswer(keys).then(function (hit) { return hit || offline(); });
      });
    });
  });
}

// An answer the page got before this worker controlled it, handed over as text.
function keepAnswerText(body, answer) {
  if (typeof body !== "string" || typeof answer !== "string") return Promise.resolve(false);
  return Promise.all([noteRouter(body), keysOf(body)]).then(function (noted) {
    return keepAnswer(noted[1], new Response(answer, {headers: {"Content-Type": "application/json"}}));
  });
}

// -- GETs -------------------------------------------------------------------------------------------
// Kept before it is answered (as callback answers are): what the page has, a reload offline has.
function keep(request, response) {
  if (!(response && response.ok && response.type === "basic")) return Promise.resolve(response);
  var copy = response.clone();
  return caches.open(CACHE).then(function (cache) { return cache.put(request, copy); })
    .then(function () { return response; }, function () { return response; });
}

function networkFirst(request, fallbackUrl) {
  return fetch(request).then(function (response) {
    return keep(request, response);
  }, function () {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(request, {ignoreVary: true}).then(function (hit) {
        return hit || (fallbackUrl ? cache.match(fallbackUrl, {ignoreSearch: true, ignoreVary: true}) : undefined);
      });
    }).then(function (hit) { return hit || Response.error(); });
  });
}

function cacheFirst(request) {
  return caches.open(CACHE).then(function (cache) { return cache.match(request, {ignoreVary: true}); })
    .then(function (hit) { return hit || fetch(request).then(function (response) { return keep(request, response); }); });
}

function under(path, prefix) { return path.indexOf(ROOT + prefix) === 0; }

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (url.origin !== self.location.origin) return;              // map tiles: the browser's own cache
  if (request.method === "POST") {
    if (url.pathname === CALLBACK) event.respondWith(answerCallback(request));
    return;                                                     // /staff/api: never from here
  }
  if (request.method !== "GET" || under(url.pathname, "/socket.io")) return;
  if (request.mode === "navigate") {
    if (url.pathname === SCREEN) event.respondWith(networkFirst(request, SCREEN));
    else if (url.pathname.indexOf(SCREEN + "/") === 0) {
      event.respondWith(networkFirst(request, TASK_SHELL));     // Dash's page is the same for every task
    }
    return;
  }
  if (under(url.pathname, "/_dash-component-suites/") || under(url.pathname, "/assets/")) {
    event.respondWith(url.search ? cacheFirst(request) : networkFirst(request));   // ?m=: fingerprinted
    return;
  }
  if (under(url.pathname, "/_dash-") || under(url.pathname, "/photos/") || under(url.pathname, "/_favicon")) {
    event.respondWith(networkFirst(request));
  }
});

// -- what the page hands over -------------------------------------------------------------------
function post(body) {
  return fetch(CALLBACK, {method: "POST", body: body, credentials: "same-origin",
                          headers: {"Content-Type": "application/json", "Accept": "application/json"}});
}

function keepPhotos(cache, text) {
  // Dash's JSON writes "/" as "\u002f" (no "</script>" in an answer): read it back first.
  var photos = text.replace(/\\u002f/gi, "/").match(/\/photos\/[A-Za-z0-9._-]+/g) || [];
  return Promise.all(photos.map(function (src) {
    var path = src.indexOf(ROOT + "/photos/") === 0 ? src : ROOT + src;
    return cache.match(path).then(function (hit) {
      return hit || fetch(path, {credentials: "same-origin"}).then(function (r) {
        return r.ok ? cache.put(path, r) : null;
      }, function () { return null; });
    });
  }));
}

// The listed tasks' pages and before photos, fetched now so they open with no signal.
function keepTask(path) {
  return router().then(function (template) {
    if (!template) return false;
    var body;
    try {
      body = JSON.parse(template);
      (body.inputs || []).concat(body.state || []).forEach(function (item) {
        if (item && item.property === "pathname") item.value = path;
      });
      body = JSON.stringify(body);
    } catch (e) { return false; }
    return keysOf(body).then(function (keys) {
      return post(body).then(function (response) {
        if (!response.ok) return false;
        return response.clone().text().then(function (text) {
          return caches.open(CACHE).then(function (cache) {
            return Promise.all([keepAnswer(keys, response), keepPhotos(cache, text)]);
          }).then(function (done) { return done[0]; });
        });
      }, function () { return false; });
    });
  });
}

function within(ms, promise) {   // a fetch that never settles must not hold the answer back
  return Promise.race([promise, new Promise(function (resolve) {
    setTimeout(function () { resolve("timed out"); }, ms);
  })]);
}

function keepUrl(cache, u) {     // true, or why not
  return cache.match(u).then(function (hit) {
    return hit ? true : fetch(u, {credentials: "same-origin"}).then(function (r) {
      return r.ok ? cache.put(u, r).then(function () { return true; }) : "status " + r.status + " " + u;
    });
  }).catch(function (err) { return String(err) + " " + u; });
}

// What the page loaded before this worker controlled it (its first visit): the files fetched again
// (from the browser's cache, mostly), the callback answers as the page got them ({body, answer}).
function keepShell(urls, answers) {
  return caches.open(CACHE).then(function (cache) {
    var gets = urls.filter(function (u) { return typeof u === "string" && u.charAt(0) === "/"; }).map(function (u) {
      return keepUrl(cache, u);
    });
    var kept = answers.filter(function (a) { return a && typeof a.body === "string"; }).map(function (a) {
      return keepAnswerText(a.body, a.answer).then(function (ok) { return ok || "answer not kept"; },
                                                   function (err) { return String(err); });
    });
    return Promise.all(gets.concat(kept).map(function (p) { return within(30000, p); }));
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "shell" && Array.isArray(data.urls) && Array.isArray(data.answers)) {
    var asker = event.source;
    var urls = data.urls.slice(0, 200).concat(CHUNKS.map(function (u) { return ROOT + u; }));
    event.waitUntil(keepShell(urls, data.answers.slice(0, 50)).then(function (done) {
      var missed = done.filter(function (d) { return d !== true; });
      if (asker) asker.postMessage({type: "shell-kept", missed: missed});
    }));
  } else if (data.type === "answer") {        // one the page got after it handed the shell over
    var from = event.source;
    event.waitUntil(keepAnswerText(data.body, data.answer).catch(function () { return false; }).then(function (ok) {
      if (from) from.postMessage({type: "answer-kept", id: data.id, ok: ok});
    }));
  } else if (data.type === "tasks" && Array.isArray(data.urls)) {
    var paths = data.urls.filter(function (u) { return typeof u === "string" && u.indexOf(SCREEN + "/") === 0; });
    var source = event.source;
    event.waitUntil(Promise.all(paths.slice(0, 200).map(keepTask)).then(function (done) {
      var n = done.filter(Boolean).length;
      if (source) source.postMessage({type: "kept", n: n, of: paths.length});
    }));
  } else if (data.type === "forget") {           // signed out: nothing of the agency's stays on the phone
    event.waitUntil(caches.delete(CACHE));
  }
});
