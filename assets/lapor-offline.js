/* The report form with no signal (/lapor). The service worker (/lapor-sw.js, scope /lapor) keeps
 * the form's page, its scripts and its first answers, so the form opens without a connection. A
 * report sent while the phone is offline is kept on the phone (IndexedDB, with the resized photo)
 * under a random idempotency key; when the connection is back it is sent to /lapor/send (the photo
 * first, to /lapor/photo), and the same key files it once however often it is sent. The screen says
 * it is waiting, then shows the ticket and the private tracking link. Words: the form's data
 * attributes (layouts/lapor.py, kept_texts).
 */
(function () {
  "use strict";
  var DB = "pantau-lapor", STORE = "kept", CACHE = "pantau-lapor-v1";
  var ROUTER_OUTPUT = "shell-page.children";
  var state = window.pantauLaporState = window.pantauLaporState || {};
  var sending = false, retryTimer = null;

  function onForm() { return /^\/lapor\/?$/.test(location.pathname); }
  function set(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props) { window.dash_clientside.set_props(id, props); }
  }
  function texts() {
    var form = document.getElementById("lapor-form");
    return form ? form.dataset : null;
  }
  function lang() {
    var data = texts();
    return (data && data.lang) || document.documentElement.lang || "id";
  }
  function el(type, props) { return {type: type, namespace: "dash_html_components", props: props}; }

  // -- IndexedDB: the reports kept on this phone -----------------------------------------------
  function db() {
    return new Promise(function (resolve, reject) {
      var open = indexedDB.open(DB, 1);
      open.onupgradeneeded = function () { open.result.createObjectStore(STORE, {keyPath: "key"}); };
      open.onsuccess = function () { resolve(open.result); };
      open.onerror = function () { reject(open.error); };
    });
  }
  function tx(mode, work) {
    return db().then(function (conn) {
      return new Promise(function (resolve, reject) {
        var t = conn.transaction(STORE, mode), result;
        t.oncomplete = function () { conn.close(); resolve(result); };
        t.onerror = t.onabort = function () { conn.close(); reject(t.error); };
        var request = work(t.objectStore(STORE));
        if (request) { request.onsuccess = function () { result = request.result; }; }
      });
    });
  }
  function put(entry) { return tx("readwrite", function (store) { return store.put(entry); }); }
  function remove(key) { return tx("readwrite", function (store) { return store.delete(key); }); }
  function all() { return tx("readonly", function (store) { return store.getAll(); }); }

  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function value(id) {
    var input = document.getElementById(id);
    return input && input.value ? input.value : null;
  }

  // -- kept: the send button pressed with no signal ------------------------------------------------
  function show(children) {
    set("lapor-kept", {children: children});
  }
  function keep() {
    var data = texts();
    var point = state.location || state.gps || null;
    var errors = {};
    if (!state.category) { errors.category = data.noCategory; }
    if (!point) { errors.location = data.noLocation; }
    set("lapor-error-category", {children: errors.category || ""});
    set("lapor-error-location", {children: errors.location || ""});
    if (errors.category || errors.location) {
      var first = document.querySelector(errors.category ? "#lapor-category button" : "#lapor-gps");
      if (first) { first.focus(); }
      return Promise.resolve(null);
    }
    var photo = state.photo || null;
    var entry = {key: newKey(), lang: lang(), created: Date.now(), category: state.category,
                 lat: point.lat, lng: point.lng, description: value("lapor-description"),
                 name: value("lapor-name"), phone: value("lapor-phone"), email: value("lapor-email"),
                 updates: !!(value("lapor-email") && document.querySelector("#lapor-updates[aria-pressed=true]")),
                 photo: photo ? photo.blob || null : null, photoRef: photo ? photo.ref || null : null};
    return put(entry).then(function () {
      set("lapor-submit", {disabled: true});
      show([el("P", {children: data.waiting, id: "lapor-kept-waiting", className: "alert alert-warning"})]);
      var box = document.getElementById("lapor-kept");
      if (box) { box.focus(); }
      return entry;
    });
  }

  // -- sent: the connection is back ----------------------------------------------------------------
  function json(url, options) {
    return fetch(url, options).then(function (response) {
      return response.json().then(function (body) { return {status: response.status, body: body}; },
                                  function () { return {status: response.status, body: {}}; });
    });
  }
  function freshToken() {
    return json("/lapor/token", {cache: "no-store"}).then(function (answer) { return answer.body.token; });
  }
  function uploadPhoto(entry, token) {
    if (!entry.photo || entry.photoRef) { return Promise.resolve(entry); }
    var form = new FormData();
    form.append("token", token);
    form.append("photo", entry.photo, "photo.jpg");
    return json("/lapor/photo?lang=" + entry.lang, {method: "POST", body: form}).then(function (answer) {
      if (answer.status === 200 && answer.body.ref) {
        entry.photoRef = answer.body.ref;
        return put(entry).then(function () { return entry; });
      }
      if (answer.status >= 500 || answer.status === 429) { throw new Error("later"); }
      entry.photo = null;      // refused for good: the report goes without it
      return entry;
    });
  }
  function filed(answer) {
    var a = answer.body;
    // .lapor-done: the form gives way to the answer, as after a send with signal (assets/lapor.css).
    show([el("Div", {className: "lapor-done", children: [
      el("H2", {children: a.heading, className: "h5", id: "lapor-kept-heading"}),
      el("Div", {children: a.ticket, id: "lapor-kept-ticket", className: "lapor-ticket"}),
      el("A", {children: a.track_label, href: a.track, id: "lapor-kept-track", className: "btn btn-success mt-2 me-2"}),
      el("A", {children: a.again_label, href: a.again, id: "lapor-kept-again", className: "btn btn-outline-light mt-2"}),
      el("P", {children: a.keep, className: "small mt-2"})]})]);
    set("lapor-submit", {disabled: true});
    setTimeout(function () {
      var heading = document.getElementById("lapor-kept-heading");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    }, 50);
  }
  function sendOne(entry) {
    var data = texts();
    return freshToken().then(function (token) {
      return uploadPhoto(entry, token).then(function () {
        var body = {token: token, key: entry.key, category: entry.category, lat: entry.lat, lng: entry.lng,
                    description: entry.description, name: entry.name, phone: entry.phone, email: entry.email,
                    updates: !!entry.updates, photo: entry.photoRef};
        return json("/lapor/send?lang=" + entry.lang, {method: "POST", body: JSON.stringify(body),
                                                        headers: {"Content-Type": "application/json"}});
      });
    }).then(function (answer) {
      if (answer.status === 201) {
        return remove(entry.key).then(function () { if (data) { filed(answer); } });
      }
      if (answer.status >= 500 || answer.status === 429 || answer.body.error === "form") {
        throw new Error("later");
      }
      // Refused for good (a field the server's rules refuse): said in words; the form is there to fix it.
      return remove(entry.key).then(function () {
        if (!data) { return; }
        show([el("P", {children: data.refused.replace("{message}", answer.body.message || ""),
                       className: "alert alert-danger", role: "alert"})]);
        set("lapor-submit", {disabled: false});
      });
    });
  }
  function flush() {
    if (sending || !navigator.onLine || !window.indexedDB) { return; }
    sending = true;
    all().then(function (entries) {
      if (!entries || !entries.length) { return; }
      var data = texts();
      if (data) { show([el("P", {children: data.sending, className: "alert alert-info", id: "lapor-kept-sending"})]); }
      return entries.reduce(function (chain, entry) {
        return chain.then(function () { return sendOne(entry); });
      }, Promise.resolve());
    }).catch(function () {
      // Not now (no signal after all, the server busy): again in a while, or when the phone is back online.
      clearTimeout(retryTimer);
      retryTimer = setTimeout(flush, 15000);
      var data = texts();
      if (data) { show([el("P", {children: data.waiting, id: "lapor-kept-waiting", className: "alert alert-warning"})]); }
    }).then(function () { sending = false; });
  }

  // The send button with no signal: kept here, Dash's callback (which would fail) never sees the tap.
  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest && event.target.closest("#lapor-submit");
    if (!button || navigator.onLine || !window.indexedDB) { return; }
    event.stopPropagation();
    event.preventDefault();
    keep();
  }, true);
  window.addEventListener("online", flush);
  window.addEventListener("load", function () { setTimeout(flush, 500); });

  // -- the page kept for offline use ---------------------------------------------------------------
  // `work` a while after the form is on screen: the page's load event comes before Dash has fetched
  // the layout and drawn the form, and on 3G this work would compete with that.
  function whenFormUp(delay, work) {
    var started = false;
    function check(observer) {
      if (started || !document.getElementById("lapor-submit")) { return; }
      started = true;
      if (observer) { observer.disconnect(); }
      setTimeout(work, delay);
    }
    var observer = new MutationObserver(function () { check(observer); });
    observer.observe(document.documentElement, {childList: true, subtree: true});
    check(observer);
  }
  // The router's answer (the form itself) comes from a POST, which the Cache API cannot keep: its
  // copy is kept here, under a GET key the service worker answers from when there is no signal.
  function routerKey(bodyText) {
    try {
      var body = JSON.parse(bodyText);
      if (body.output !== ROUTER_OUTPUT) { return null; }
      var search = "";
      (body.state || []).concat(body.inputs || []).forEach(function (item) {
        if (item && item.property === "search" && item.value) { search = item.value; }
      });
      return "/lapor/__page" + search;
    } catch (e) { return null; }
  }
  function isSend(bodyText) {
    try {
      var body = JSON.parse(bodyText);
      return String(body.output).indexOf("lapor-result.children") >= 0
        && (body.changedPropIds || []).indexOf("lapor-submit.n_clicks") >= 0;
    } catch (e) { return false; }
  }
  if (onForm() && window.caches && window.fetch) {
    var pageFetch = window.fetch;
    window.fetch = function (input, init) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      var promise = pageFetch.apply(this, arguments);
      var path = url.split("?")[0].replace(location.origin, "");
      if (/^\/(_dash-layout|_dash-dependencies)$/.test(path) && !(init && init.method && init.method !== "GET")) {
        // Kept as Dash fetches them: no second download for the copy.
        promise.then(function (response) {
          if (response.ok) {
            var copy = response.clone();
            caches.open(CACHE).then(function (cache) { return cache.put(path, copy); }).catch(function () {});
          }
        }).catch(function () {});
      }
      if (/\/_dash-update-component$/.test(url.split("?")[0]) && init && typeof init.body === "string") {
        if (isSend(init.body)) {
          // The phone said it had signal but the form's send never reached the server: kept here instead.
          promise.catch(function () { keep(); });
        }
        var key = routerKey(init.body);
        if (key) {
          promise.then(function (response) {
            if (response.ok) {
              var copy = response.clone();
              caches.open(CACHE).then(function (cache) { return cache.put(key, copy); }).catch(function () {});
            }
          }).catch(function () {});
        }
      }
      return promise;
    };
    whenFormUp(2500, keepPage);
  }
  // The files this page loaded, kept for the next visit without signal: a while after the load, so
  // it never competes with the form on 3G; the bundles come from the browser's HTTP cache.
  function keepPage() {
    var urls = [location.pathname + location.search];
    (performance.getEntriesByType("resource") || []).forEach(function (entry) {
      var u = new URL(entry.name);
      if (u.origin === location.origin && /^\/(_dash-component-suites|assets|_favicon)/.test(u.pathname)) {
        urls.push(u.pathname + u.search);
      }
    });
    caches.open(CACHE).then(function (cache) {
      return Promise.all(urls.map(function (u) { return cache.add(u).catch(function () {}); }));
    }).then(function () { document.documentElement.dataset.laporKept = "page"; }, function () {});
  }
  // Registered once the form is up: a worker taking over the page's requests while it loads would
  // delay the form on a slow phone (measured: seconds on a loaded machine).
  if (onForm() && navigator.serviceWorker) {
    whenFormUp(1500, function () {
      navigator.serviceWorker.register("/lapor-sw.js", {scope: "/lapor"}).catch(function () {});
    });
  }
  // A GPS point taken with no signal: the server cannot name the place now, so say it is kept.
  function gpsKept(point) {
    var data = texts();
    if (!data || navigator.onLine) { return; }
    set("lapor-gps-status", {children: data.gps.replace("{metres}", String(Math.round(point.accuracy || 0)))});
  }
  window.pantauLaporKept = {flush: flush, all: all, gpsKept: gpsKept};
})();
