/* The field officer's phone, offline (served as /tugas/sw.js, scope /tugas: app/pwa.py).
 *
 * Keeps on the phone what /tugas needs with no signal: the app shell (the page, Dash's scripts,
 * styles, layout and callback list), the answers of the screen's own callbacks (the task list, each
 * task's page: a POST answer kept under the SHA-256 of its request body, since the renderer sends
 * the same body for the same screen), and every task's before photo. Online, everything comes from
 * the network first and refreshes what is kept; with no signal, the kept copy answers.
 * Start and resolve (POSTs to /staff/api) are never answered from here: assets/tugas.js queues them
 * in IndexedDB and sends them, each with its idempotency key, when the signal is back.
 * The page tells the worker which tasks it lists ({type: "tasks", urls}); the worker fetches each
 * task's page answer and before photos, and answers how many it keeps ({type: "kept", n}).
 */
"use strict";

var CACHE = "pantau-tugas-v1";
var CALLBACK = "/_dash-update-component";
var KEY_PREFIX = "/__pantau-tugas/callback/";
var ROUTER_KEY = "/__pantau-tugas/router";
var routerBody = null;      // the list page's router request body (the template for task pages)

function noteRouter(body) {    // kept in the cache too: a worker is stopped when idle, losing its globals
  if (typeof body !== "string" || !isRouter(body) || body.indexOf('"value":"/tugas"') === -1) return;
  routerBody = body;
  caches.open(CACHE).then(function (cache) { cache.put(ROUTER_KEY, new Response(body)); });
}

function router() {
  if (routerBody) return Promise.resolve(routerBody);
  return caches.match(ROUTER_KEY).then(function (hit) { return hit ? hit.text() : null; });
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(["/tugas"]).catch(function () { /* signed out: kept on first visit */ });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("pantau-tugas-") === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function hex(buffer) {
  return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
    return ("0" + b.toString(16)).slice(-2);
  }).join("");
}

function keyOf(body) {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)).then(function (digest) {
    return new Request(KEY_PREFIX + hex(digest));
  });
}

function keep(request, response) {
  if (response && response.ok && response.type === "basic") {
    var copy = response.clone();
    caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
  }
  return response;
}

function networkFirst(request, fallbackUrl) {
  return fetch(request).then(function (response) {
    return response.ok ? keep(request, response) : response;
  }, function () {
    return caches.match(request, {ignoreVary: true}).then(function (hit) {
      return hit || (fallbackUrl ? caches.match(fallbackUrl, {ignoreSearch: true}) : undefined) ||
        Response.error();
    });
  });
}

function cacheFirst(request) {
  return caches.match(request).then(function (hit) {
    return hit || fetch(request).then(function (response) { return keep(request, response); });
  });
}

function isRouter(body) {
  return body.indexOf('"shell-page.children"') !== -1 && body.indexOf('"property":"pathname"') !== -1;
}

function answerCallback(request) {
  return request.clone().text().then(function (body) {
    noteRouter(body);
    return keyOf(body).then(function (key) {
      return fetch(request).then(function (response) {
        if (response.ok) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
        }
        return response;
      }, function () {
        return caches.match(key).then(function (hit) {
          return hit || new Response(JSON.stringify({error: "offline"}), {
            status: 503, headers: {"Content-Type": "application/json"}});
        });
      });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (url.origin !== self.location.origin) return;              // map tiles: the browser's own cache
  if (request.method === "POST") {
    if (url.pathname === CALLBACK) event.respondWith(answerCallback(request));
    return;                                                     // /staff/api: never from here
  }
  if (request.method !== "GET" || url.pathname.indexOf("/socket.io") === 0) return;
  if (request.mode === "navigate") {
    if (url.pathname === "/tugas" || url.pathname.indexOf("/tugas/") === 0) {
      event.respondWith(networkFirst(request, "/tugas"));
    }
    return;
  }
  if (url.pathname.indexOf("/_dash-component-suites/") === 0 || url.pathname.indexOf("/assets/") === 0) {
    event.respondWith(url.search ? cacheFirst(request) : networkFirst(request));   // ?m=: fingerprinted
    return;
  }
  if (url.pathname.indexOf("/_dash-") === 0 || url.pathname.indexOf("/photos/") === 0 ||
      url.pathname.indexOf("/_favicon") === 0) {
    event.respondWith(networkFirst(request));
  }
});

// The listed tasks' pages and before photos, fetched now so they open with no signal.
function keepTask(path) {
  return router().then(function (template) { return template ? keepTaskFrom(template, path) : false; });
}

function keepTaskFrom(template, path) {
  var body = template.replace('"value":"/tugas"', JSON.stringify("value") + ":" + JSON.stringify(path));
  return keyOf(body).then(function (key) {
    return fetch(CALLBACK, {method: "POST", body: body, credentials: "same-origin",
                            headers: {"Content-Type": "application/json", "Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) return false;
        return response.clone().text().then(function (text) {
          var photos = text.match(/\/photos\/[A-Za-z0-9._-]+/g) || [];
          return caches.open(CACHE).then(function (cache) {
            return Promise.all([cache.put(key, response)].concat(photos.map(function (src) {
              return cache.match(src).then(function (hit) {
                return hit || fetch(src, {credentials: "same-origin"}).then(function (r) {
                  return r.ok ? cache.put(src, r) : null;
                }, function () { return null; });
              });
            })));
          }).then(function () { return true; });
        });
      }, function () { return false; });
  });
}

function within(ms, promise) {   // a fetch that never settles must not hold the answer back
  return Promise.race([promise, new Promise(function (resolve) {
    setTimeout(function () { resolve("timed out"); }, ms);
  })]);
}

// What the page loaded before this worker controlled it (its first visit): kept now.
function keepShell(urls, bodies) {
  return caches.open(CACHE).then(function (cache) {
    var gets = urls.filter(function (u) { return typeof u === "string" && u.charAt(0) === "/"; }).map(function (u) {
      return cache.match(u).then(function (hit) {
        return hit || fetch(u, {credentials: "same-origin"}).then(function (r) {
          return r.ok ? cache.put(u, r).then(function () { return true; }) : "status " + r.status + " " + u;
        });
      }).catch(function (err) { return String(err) + " " + u; });
    });
    var posts = bodies.filter(function (b) { return typeof b === "string"; }).map(function (body) {
      return keyOf(body).then(function (key) {
        return fetch(CALLBACK, {method: "POST", body: body, credentials: "same-origin",
                                headers: {"Content-Type": "application/json", "Accept": "application/json"}})
          .then(function (r) { return r.ok ? cache.put(key, r).then(function () { return true; }) : "status " + r.status; });
      }).catch(function (err) { return String(err); });
    });
    return Promise.all(gets.concat(posts).map(function (p) { return within(30000, p); }));
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "shell" && Array.isArray(data.urls) && Array.isArray(data.bodies)) {
    data.bodies.forEach(noteRouter);        // now, before any task is asked for
    var asker = event.source;
    event.waitUntil(keepShell(data.urls.slice(0, 200), data.bodies.slice(0, 20)).then(function (done) {
      var missed = done.filter(function (d) { return d !== true; });
      if (asker) asker.postMessage({type: "shell-kept", missed: missed});
    }));
  } else if (data.type === "tasks" && Array.isArray(data.urls)) {
    var paths = data.urls.filter(function (u) { return typeof u === "string" && u.indexOf("/tugas/") === 0; });
    var source = event.source;
    event.waitUntil(Promise.all(paths.map(keepTask)).then(function (done) {
      var n = done.filter(Boolean).length;
      if (source) source.postMessage({type: "kept", n: n, of: paths.length});
    }));
  } else if (data.type === "forget") {           // signed out: nothing of the agency's stays on the phone
    event.waitUntil(caches.delete(CACHE));
  }
});
