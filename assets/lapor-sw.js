/* The report form's service worker (served at /lapor-sw.js, scope /lapor): the form opens with no
 * signal. Every GET of a controlled page goes to the network first (a new version is never hidden)
 * and falls back to the copy kept in the cache (assets/lapor-offline.js fills it when the form
 * loads); the router's POST that draws the form falls back to its copy kept under a GET key. Other
 * POSTs (callbacks, uploads, the kept report's sending) are never answered from a cache.
 */
"use strict";
var CACHE = "pantau-lapor-v1";
var ROUTER_OUTPUT = "shell-page.children";

self.addEventListener("install", function (event) {
  // The form's files are kept by the page once it has loaded (from the browser's HTTP cache).
  event.waitUntil(self.skipWaiting());
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("pantau-lapor-") === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function kept(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request).then(function (hit) {
      if (hit || request.mode !== "navigate") { return hit; }
      return cache.match("/lapor", {ignoreSearch: true});   // the form in any language rather than nothing
    });
  });
}

function fromNetwork(request) {
  return fetch(request).then(function (response) {
    if (response.ok && request.method === "GET" && new URL(request.url).origin === self.location.origin
        && !/^\/lapor\/(token|photo|send)/.test(new URL(request.url).pathname)) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "GET") {
    if (/^\/lapor\/(token|photo|send)/.test(url.pathname)) { return; }
    event.respondWith(fromNetwork(request).catch(function () {
      return kept(request).then(function (hit) { return hit || Response.error(); });
    }));
    return;
  }
  if (request.method === "POST" && url.pathname === "/_dash-update-component") {
    event.respondWith(request.clone().text().then(function (text) {
      var key = null;
      try {
        var body = JSON.parse(text);
        if (body.output === ROUTER_OUTPUT) {
          var search = "";
          (body.state || []).concat(body.inputs || []).forEach(function (item) {
            if (item && item.property === "search" && item.value) { search = item.value; }
          });
          key = "/lapor/__page" + search;
        }
      } catch (e) { key = null; }
      return fetch(request).catch(function (error) {
        if (!key) { throw error; }
        return caches.open(CACHE).then(function (cache) {
          return cache.match(key).then(function (hit) {
            return hit || cache.match("/lapor/__page", {ignoreSearch: true}).then(function (any) {
              if (any) { return any; }
              throw error;
            });
          });
        });
      });
    }));
  }
});
