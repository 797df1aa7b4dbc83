/* The field officer's phone (/tugas): distances on the task cards, and the task page's actions.
 *
 * Start and resolve are plain multipart POSTs to the staff API (/staff/api/reports/<id>/<action>)
 * with the phone's position and its accuracy (the server decides whether that proves presence),
 * a progress bar, and an idempotency key. The after photo is shrunk on the phone as soon as it is
 * chosen (at most 1600 px on its long side, JPEG): a photo as taken is 3-5 MB, a minute of upload on
 * 3G. Drawing it on a canvas drops its EXIF, so the original's EXIF segment is copied into the new JPEG
 * (Orientation set to 1, the pixels being upright): the server's proof checks still read the capture
 * time before they strip the metadata. What failed to shrink is sent as taken; the offline queue keeps
 * the photo as it will be sent.
 * Everything the form holds belongs to the report whose page drew it: the page is rebuilt for every
 * task (its own URL), and nothing is kept between two of them.
 */
(function () {
  "use strict";
  // Where this city's pages live: "/kupang" on a several-city install, "" on one city (Dash's own config).
  function cityRoot() {
    var node = document.getElementById("_dash-config");
    try { return (JSON.parse(node.textContent).requests_pathname_prefix || "/").replace(/\/$/, ""); }
    catch (e) { return ""; }
  }
  var position = null, watching = false;

  function metres(lat1, lng1, lat2, lng2) {
    var r = 6371008.8, rad = Math.PI / 180;
    var dp = (lat2 - lat1) * rad, dl = (lng2 - lng1) * rad;
    var a = Math.sin(dp / 2) * Math.sin(dp / 2) +
      Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dl / 2) * Math.sin(dl / 2);
    return 2 * r * Math.asin(Math.sqrt(a));
  }

  function lang() {
    var main = document.querySelector("main.tugas");
    return (main && main.getAttribute("lang")) || "id";
  }

  function distanceText(m) {
    var fmt = new Intl.NumberFormat(lang() === "en" ? "en-GB" : "id-ID", {maximumFractionDigits: 1});
    return m < 1000 ? fmt.format(Math.round(m / 10) * 10) + " m" : fmt.format(Math.round(m / 100) / 10) + " km";
  }

  function paintDistances() {
    if (!position) return;
    document.querySelectorAll(".tugas-distance[data-lat]").forEach(function (el) {
      var m = metres(position.latitude, position.longitude, +el.dataset.lat, +el.dataset.lng);
      var text = (el.dataset.template || "{d}").replace("{d}", distanceText(m));
      if (el.textContent !== text) el.textContent = text;   // unchanged: no mutation, no loop
    });
  }

  function watch() {
    if (watching || !navigator.geolocation) return;
    watching = true;
    navigator.geolocation.watchPosition(function (p) { position = p.coords; paintDistances(); },
      function () { position = null; }, {enableHighAccuracy: true, maximumAge: 30000, timeout: 20000});
  }

  function locate() {   // the current position, or null (denied, unavailable, too slow)
    return new Promise(function (resolve) {
      if (!navigator.geolocation) return resolve(null);
      navigator.geolocation.getCurrentPosition(function (p) { resolve(p.coords); },
        function () { resolve(null); }, {enableHighAccuracy: true, maximumAge: 0, timeout: 12000});
    });
  }

  // -- the after photo made small on the phone: a 4000x3000 photo is 3-5 MB, a minute on 3G. A JPEG
  // longer than MAX_SIDE (or heavier than MAX_BYTES) is decoded upright, drawn at most MAX_SIDE px on
  // its long side and encoded as a JPEG again; the original's EXIF segment (APP1) is carried into the
  // new file right after its SOI, so the server still reads the capture time (its proof of time) before
  // it strips the metadata, with the Orientation tag set to 1 (the pixels are upright now). Other
  // types are shrunk too, with no EXIF to carry. Anything failing (an old browser, a decode error):
  // the photo goes as taken. The segment copy is a few lines of byte copying written here: the npm
  // libraries that write EXIF (piexifjs and the like) are unmaintained, and the kept-up ones are
  // bundles with their own resize pipeline, far more than this needs.
  var MAX_SIDE = 1600, MAX_BYTES = 1.5 * 1024 * 1024, QUALITY = 0.85, MAX_EXIF = 64 * 1024,
      HEAD = 512 * 1024;   // the JPEG's headers (EXIF, frame size) are read from its first bytes only

  function jpegHead(bytes) {   // {exif: the APP1 "Exif" segment or null, width, height} of a JPEG, or null
    if (bytes[0] !== 0xFF || bytes[1] !== 0xD8) return null;
    var out = {exif: null, width: 0, height: 0}, i = 2;
    while (i + 4 <= bytes.length && bytes[i] === 0xFF) {
      var marker = bytes[i + 1];
      if (marker === 0xFF) { i += 1; continue; }                       // fill byte
      if (marker === 0xD9 || marker === 0xDA) break;                    // end, or the picture itself
      if ((marker >= 0xD0 && marker <= 0xD7) || marker === 0x01) { i += 2; continue; }   // no length
      var length = (bytes[i + 2] << 8) | bytes[i + 3];
      if (length < 2 || i + 2 + length > bytes.length) break;
      if (marker === 0xE1 && !out.exif && length >= 16 && bytes[i + 4] === 0x45 && bytes[i + 5] === 0x78 &&
          bytes[i + 6] === 0x69 && bytes[i + 7] === 0x66 && bytes[i + 8] === 0 && bytes[i + 9] === 0) {
        out.exif = bytes.slice(i, i + 2 + length);                      // FF E1, length, "Exif\0\0", TIFF
      }
      if (marker >= 0xC0 && marker <= 0xCF && marker !== 0xC4 && marker !== 0xC8 && marker !== 0xCC &&
          !out.width && length >= 7) {                                  // a frame header (SOFn)
        out.height = (bytes[i + 5] << 8) | bytes[i + 6];
        out.width = (bytes[i + 7] << 8) | bytes[i + 8];
      }
      i += 2 + length;
    }
    return out;
  }

  // The IFD0 Orientation tag (0x0112) of an APP1 segment: its value (1 when absent or unreadable); with
  // `to`, rewritten in place in the TIFF header's byte order.
  function orientation(segment, to) {
    var t = 10, little = segment[t] === 0x49 && segment[t + 1] === 0x49;
    if (!little && !(segment[t] === 0x4D && segment[t + 1] === 0x4D)) return 1;
    function u16(p) { return little ? segment[p] | (segment[p + 1] << 8) : (segment[p] << 8) | segment[p + 1]; }
    function u32(p) { return little ? (u16(p + 2) * 65536 + u16(p)) : (u16(p) * 65536 + u16(p + 2)); }
    if (t + 8 > segment.length || u16(t + 2) !== 42) return 1;
    var ifd = t + u32(t + 4);
    if (ifd + 2 > segment.length) return 1;
    for (var k = 0, n = u16(ifd); k < n; k++) {
      var entry = ifd + 2 + 12 * k;
      if (entry + 12 > segment.length) return 1;
      if (u16(entry) !== 0x0112) continue;
      var value = u16(entry + 8);                  // a SHORT: the first two bytes of the value field
      if (to !== undefined) {
        segment[entry + 8] = little ? to & 0xFF : to >> 8;
        segment[entry + 9] = little ? to >> 8 : to & 0xFF;
      }
      return value;
    }
    return 1;
  }

  function decodeUpright(file) {   // {source, width, height, bitmap, close} with the camera's orientation applied
    function viaImg() {
      return new Promise(function (resolve, reject) {
        var link = URL.createObjectURL(file), img = new Image();
        img.onload = function () {
          resolve({source: img, width: img.naturalWidth, height: img.naturalHeight, bitmap: false,
                   close: function () { URL.revokeObjectURL(link); }});
        };
        img.onerror = function () { URL.revokeObjectURL(link); reject(new Error("decode")); };
        img.src = link;
      });
    }
    if (!window.createImageBitmap) return viaImg();
    var made;
    try { made = createImageBitmap(file, {imageOrientation: "from-image"}); } catch (e) { return viaImg(); }
    return made.then(function (b) {
      return {source: b, width: b.width, height: b.height, bitmap: true, close: function () { b.close(); }};
    }, viaImg);
  }

  function shrink(file) {   // resolves {blob, name, shrunk}: what to send (the photo as taken if nothing gained)
    var asTaken = {blob: file, name: file.name || "photo.jpg", shrunk: false};
    if (!window.Blob || !Blob.prototype.arrayBuffer || !HTMLCanvasElement.prototype.toBlob) {
      return Promise.resolve(asTaken);
    }
    var isJpeg = file.type === "image/jpeg" || (!file.type && /\.jpe?g$/i.test(file.name || ""));
    return file.slice(0, HEAD).arrayBuffer().then(function (buffer) {
      var head = isJpeg ? jpegHead(new Uint8Array(buffer)) : null;
      if (head && head.width && Math.max(head.width, head.height) <= MAX_SIDE && file.size <= MAX_BYTES) return asTaken;
      return decodeUpright(file).then(function (img) {
        var long = Math.max(img.width, img.height);
        if (!long || (long <= MAX_SIDE && file.size <= MAX_BYTES)) { img.close(); return asTaken; }
        var scale = Math.min(1, MAX_SIDE / long), canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(img.width * scale));
        canvas.height = Math.max(1, Math.round(img.height * scale));
        var ctx = canvas.getContext("2d");
        ctx.fillStyle = "#fff";                      // a transparent PNG: white, not black, in the JPEG
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.imageSmoothingQuality = "high";
        ctx.drawImage(img.source, 0, 0, canvas.width, canvas.height);
        img.close();
        var exif = head && head.exif && head.exif.length <= MAX_EXIF ? head.exif : null;
        if (exif) {
          var was = orientation(exif);
          // Upright now? A quarter turn (5-8) shows in the size; a flip (2-4) is trusted to the decoder.
          var upright = was >= 5 ? (img.width === head.height && img.height === head.width) :
            (img.bitmap || (window.CSS && CSS.supports && CSS.supports("image-orientation", "from-image")));
          if (was !== 1 && upright) orientation(exif, 1);   // else the pixels are as stored: the tag stays true
        }
        return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", QUALITY); }).then(function (drawn) {
          if (!drawn || drawn.type !== "image/jpeg") return asTaken;
          var blob = exif ? new Blob([drawn.slice(0, 2), exif, drawn.slice(2)], {type: "image/jpeg"}) : drawn;
          if (blob.size >= file.size) return asTaken;
          return {blob: blob, name: (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg", shrunk: true};
        });
      });
    }).catch(function () { return asTaken; });
  }

  function sizeText(bytes) {
    var fmt = new Intl.NumberFormat(lang() === "en" ? "en-GB" : "id-ID", {maximumFractionDigits: 1});
    return bytes < 1024 * 1024 ? fmt.format(Math.max(1, Math.round(bytes / 1024))) + " KB" :
      fmt.format(Math.round(bytes / 1024 / 1024 * 10) / 10) + " MB";
  }

  // The photo to send, prepared as soon as it is chosen (while the note is typed): one per chosen file.
  function prepared(input) {
    var file = input.files && input.files[0];
    if (!file) return null;
    if (!input.prepared || input.prepared.file !== file) input.prepared = {file: file, ready: shrink(file)};
    return input.prepared.ready;
  }

  // The browser's own file input says "Choose File / No file chosen" in the browser's language, not
  // the screen's: it is kept (focusable, for the keyboard and the camera) under a button of our own.
  function buildPhotoInput(slot) {
    if (slot.querySelector("input")) return;
    var title = document.createElement("div");
    title.className = "form-label small";
    title.id = "tugas-photo-title";
    title.textContent = slot.dataset.label;
    var input = document.createElement("input");
    input.type = "file";
    input.id = "tugas-photo";
    input.name = "photo";
    input.accept = "image/*";
    input.setAttribute("capture", "environment");
    input.className = "tugas-file";
    input.setAttribute("aria-labelledby", "tugas-photo-title");
    input.setAttribute("aria-describedby", "tugas-photo-chosen tugas-photo-hint");
    var pick = document.createElement("label");
    pick.htmlFor = "tugas-photo";
    pick.className = "btn btn-outline-light tugas-pick";
    pick.textContent = slot.dataset.pick || slot.dataset.label;
    var chosen = document.createElement("div");
    chosen.id = "tugas-photo-chosen";
    chosen.className = "tugas-chosen small";
    chosen.setAttribute("aria-live", "polite");
    chosen.textContent = slot.dataset.none || "";
    input.addEventListener("change", function () {
      var ready = prepared(input);
      if (!ready) { chosen.textContent = slot.dataset.none || ""; return; }
      var file = input.files[0];
      chosen.textContent = file.name + " · " + (slot.dataset.shrinking || "");
      chosen.dataset.shrink = "working";
      ready.then(function (photo) {
        if (input.files[0] !== file) return;          // another photo chosen meanwhile
        chosen.textContent = photo.shrunk ? file.name + " · " + (slot.dataset.shrunk || "")
          .replace("{before}", sizeText(file.size)).replace("{after}", sizeText(photo.blob.size)) : file.name;
        chosen.dataset.shrink = photo.shrunk ? "shrunk" : "as-taken";
      });
    });
    var hint = document.createElement("div");
    hint.id = "tugas-photo-hint";
    hint.className = "form-text";
    hint.textContent = slot.dataset.hint;
    slot.append(title, input, pick, chosen, hint);
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function say(form, text, kind) {
    var box = form.querySelector(".tugas-message");
    box.className = "tugas-message alert py-2 alert-" + kind;
    box.textContent = text;
  }

  function progress(form, fraction) {
    var bar = form.querySelector(".tugas-progress");
    if (!bar) return;
    bar.hidden = fraction === null;
    var pct = Math.round((fraction || 0) * 100);
    bar.setAttribute("aria-valuenow", pct);
    bar.firstChild.style.width = pct + "%";
  }

  // -- the offline queue: actions done with no signal wait in IndexedDB (with their photo and
  // position) and are sent when the phone is back online, each with its idempotency key, so a resend
  // files once (the server answers the earlier outcome).
  var DB = "pantau-tugas", STORE = "queue";

  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, {keyPath: "key"}); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode), store = t.objectStore(STORE), out = work(store);
        t.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : out); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }

  function queued() { return tx("readonly", function (store) { return store.getAll(); }); }

  function showPending() {
    var main = document.querySelector("main.tugas");
    if (!main || !window.indexedDB) return;
    queued().then(function (items) {
      var box = document.querySelector(".tugas-pending");
      if (!box) return;
      box.hidden = !items.length;
      box.dataset.count = String(items.length);
      box.textContent = (box.dataset.template || "{n}").replace("{n}", items.length) +
        (items.length ? " (" + items.map(function (i) { return i.ticket; }).join(", ") + ")" : "");
    });
  }

  function formData(p) {
    var body = new FormData();
    body.append("version", p.version);
    body.append("lang", p.lang);
    body.append("idempotency_key", p.key);
    if (p.lat !== null) {
      body.append("lat", p.lat);
      body.append("lng", p.lng);
      body.append("accuracy", p.accuracy);
    }
    if (p.note) body.append("note", p.note);
    if (p.photo) body.append("photo", p.photo, p.photoName || "photo.jpg");
    return body;
  }

  function post(p, onProgress) {   // resolves {status, body}; rejects on no network
    return new Promise(function (resolve, reject) {
      var csrf = document.querySelector("input[name=csrf_token]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", cityRoot() + "/staff/api/reports/" + encodeURIComponent(p.report) + "/" + p.action +
        "?lang=" + encodeURIComponent(p.lang));
      xhr.setRequestHeader("X-CSRF-Token", csrf ? csrf.value : "");
      xhr.setRequestHeader("Accept", "application/json");
      if (onProgress) xhr.upload.onprogress = function (e) { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = function () {
        var out = {};
        try { out = JSON.parse(xhr.responseText); } catch (e) { out = {}; }
        resolve({status: xhr.status, body: out});
      };
      xhr.onerror = function () { reject(new Error("network")); };
      xhr.send(formData(p));
    });
  }

  var flushing = false;
  function flush() {
    if (flushing || !window.indexedDB || !navigator.onLine) return;
    flushing = true;
    queued().then(function (items) {
      return items.reduce(function (chain, p) {
        return chain.then(function () {
          return post(p).then(function () {    // answered (done, or refused for good): off the queue
            return tx("readwrite", function (store) { store.delete(p.key); });
          }, function () { /* still no signal: stays queued */ });
        });
      }, Promise.resolve());
    }).then(function () { flushing = false; showPending(); }, function () { flushing = false; });
  }
  window.addEventListener("online", flush);

  function act(button) {
    var form = button.closest(".tugas-form");
    var texts = JSON.parse(form.dataset.texts || "{}");
    var action = button.dataset.action;
    var input = form.querySelector("#tugas-photo");
    var note = form.querySelector("#tugas-note");
    if (action === "resolve" && !(input && input.files && input.files.length)) {
      say(form, texts["err.photo_missing"], "warning");
      return;
    }
    if (!window.confirm(texts["confirm." + action])) return;
    var buttons = form.querySelectorAll(".tugas-act");
    buttons.forEach(function (b) { b.disabled = true; });
    var photo = null;
    // The photo as it will be sent (shrunk on the phone): the same one goes to the offline queue.
    var ready = action === "resolve" ? prepared(input) : null;
    if (ready) say(form, texts.shrinking, "info");
    Promise.resolve(ready).then(function (chosen) {
      photo = chosen;
      say(form, texts.locating, "info");
      return locate();
    }).then(function (coords) {
      var p = {key: form.dataset.key || (form.dataset.key = newKey()), report: form.dataset.report,
               ticket: form.dataset.ticket, action: action, version: form.dataset.version, lang: form.dataset.lang,
               note: note ? note.value : "", lat: coords ? coords.latitude : null,
               lng: coords ? coords.longitude : null, accuracy: coords ? coords.accuracy : null,
               photo: photo ? photo.blob : null, photoName: photo ? photo.name : null};
      function enqueue() {
        progress(form, null);
        if (!window.indexedDB) {
          buttons.forEach(function (b) { b.disabled = false; });
          return say(form, texts["err.network"], "danger");
        }
        tx("readwrite", function (store) { store.put(p); }).then(function () {
          say(form, texts.queued, "warning");
          showPending();
        });
      }
      if (!navigator.onLine) return enqueue();
      say(form, texts.sending, "info");
      progress(form, 0);
      post(p, function (f) { progress(form, f); }).then(function (answer) {
        progress(form, null);
        var out = answer.body;
        if (answer.status === 200) {
          var presence = out.proof && out.proof.presence && out.proof.presence.verified ?
            texts["presence.ok"] : texts["presence.no"];
          say(form, (texts["done." + action] || "").replace("{presence}", presence), "success");
          form.dataset.done = action;
          // The task's page again, rebuilt from the server: the new state, its actions and proof.
          window.setTimeout(function () { window.location.replace(window.location.href); }, 1500);
          return;
        }
        buttons.forEach(function (b) { b.disabled = false; });
        say(form, out.message || out.error || texts["err.network"], answer.status === 409 ? "warning" : "danger");
      }, enqueue);
    });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".tugas-act");
    if (button && !button.disabled) act(button);
  });

  // -- the service worker (assets/tugas-sw.js): the shell and the listed tasks kept on the phone.
  // On the very first visit the page loads before the worker controls it: the callback answers the
  // renderer gets meanwhile are copied here ({body, answer}) and handed to the worker, which keeps
  // them as they are (no second request). The page says it is kept (html[data-offline-shell]) only
  // once the worker controls it, has kept the shell and every such answer, and none is still on its
  // way: from then on every answer passes through the worker, which keeps it before the page has it.
  var offered = "", early = [], inFlight = 0, handed = false, unacked = {}, shellKept = null, answerNo = 0;
  function handOver(item) {       // an answer that came back after the shell was handed over
    var worker = navigator.serviceWorker.controller;
    if (!worker) return;
    var id = ++answerNo;
    unacked[id] = true;
    worker.postMessage({type: "answer", id: id, body: item.body, answer: item.answer});
  }
  function reportKept() {
    if (shellKept === null || inFlight || Object.keys(unacked).length || !navigator.serviceWorker.controller) return;
    document.documentElement.dataset.offlineShell = shellKept;
  }
  if (window.fetch && window.location.pathname.indexOf(cityRoot() + "/tugas") === 0 && "serviceWorker" in navigator &&
      !navigator.serviceWorker.controller) {
    var plainFetch = window.fetch;
    window.fetch = function (input, init) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      var answer = plainFetch.apply(this, arguments);
      if (init && init.method === "POST" && typeof init.body === "string" && /\/_dash-update-component(\?|$)/.test(url) &&
          !navigator.serviceWorker.controller && early.length < 50) {
        var body = init.body;
        inFlight += 1;
        answer.then(function (r) {
          return r.ok ? r.clone().text().then(function (text) {
            var item = {body: body, answer: text};
            if (handed) handOver(item); else early.push(item);
          }) : null;
        }).catch(function () { /* not kept */ }).then(function () { inFlight -= 1; reportKept(); });
      }
      return answer;
    };
  }

  function shellUrls() {
    var root = cityRoot();
    var urls = [window.location.pathname, root + "/_dash-layout", root + "/_dash-dependencies"];
    (performance.getEntriesByType ? performance.getEntriesByType("resource") : []).forEach(function (e) {
      var u = new URL(e.name), path = u.pathname.slice(root.length);
      if (u.origin === window.location.origin && u.pathname.indexOf(root) === 0 &&
          /^\/(_dash-component-suites|assets|photos)\//.test(path)) {
        urls.push(u.pathname + u.search);
      }
    });
    return urls;
  }
  function registerWorker() {
    if (!("serviceWorker" in navigator) || registerWorker.done) return;
    registerWorker.done = true;
    navigator.serviceWorker.register(cityRoot() + "/tugas/sw.js", {scope: cityRoot() + "/tugas"})
      .catch(function () { /* not kept */ });
    function handShell() {
      // Whatever the page fetched before the worker controlled it: kept now (what is kept is skipped).
      var worker = navigator.serviceWorker.controller;
      if (!worker || handed) return;
      handed = true;
      worker.postMessage({type: "shell", urls: shellUrls(), answers: early});
      early = [];
    }
    // The worker claims the page when it activates; only then does every later answer pass through it.
    if (navigator.serviceWorker.controller) handShell();
    navigator.serviceWorker.addEventListener("controllerchange", handShell);
    navigator.serviceWorker.addEventListener("message", function (e) {
      var main = document.querySelector("main.tugas");
      if (!e.data) return;
      if (e.data.type === "kept" && main) main.dataset.offlineKept = String(e.data.n);
      if (e.data.type === "kept" && e.data.n < e.data.of) {    // some not kept yet (no router answer): again soon
        offered = "";
        window.setTimeout(offerTasks, 3000);
      }
      if (e.data.type === "shell-kept") {
        shellKept = e.data.missed && e.data.missed.length ? "partly" : "kept";
        if (e.data.missed && e.data.missed.length && window.console) console.warn("not kept offline", e.data.missed);
        reportKept();
      }
      if (e.data.type === "answer-kept") {
        delete unacked[e.data.id];
        reportKept();
      }
    });
  }

  function offerTasks() {
    if (!("serviceWorker" in navigator)) return;
    var urls = Array.prototype.map.call(document.querySelectorAll("a.tugas-card[href]"), function (a) {
      return new URL(a.href, window.location.href).pathname;
    });
    var list = urls.join(" ");
    if (!urls.length || list === offered) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (list === offered || !registration.active) return;
      offered = list;
      registration.active.postMessage({type: "tasks", urls: urls});
      window.setTimeout(function () {      // no answer from the worker (stopped meanwhile): offered again
        var main = document.querySelector("main.tugas");
        if (offered === list && main && main.dataset.offlineKept !== String(urls.length)) {
          offered = "";
          offerTasks();
        }
      }, 10000);
    });
  }

  document.addEventListener("submit", function (e) {     // signing out forgets the kept tasks
    var form = e.target;
    if (form && form.action && /\/logout$/.test(form.action) && navigator.serviceWorker &&
        navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({type: "forget"});
    }
  }, true);

  function scan() {
    if (window.location.pathname.indexOf(cityRoot() + "/tugas") !== 0) return;   // other screens: nothing to do
    registerWorker();
    if (document.querySelector("a.tugas-card")) offerTasks();
    var main = document.querySelector("main.tugas");    // Dash's page has no lang of its own
    if (main && document.documentElement.lang !== main.getAttribute("lang")) {
      document.documentElement.lang = main.getAttribute("lang");
    }
    document.querySelectorAll(".tugas-photo-slot").forEach(buildPhotoInput);
    if (document.querySelector(".tugas-distance")) { watch(); paintDistances(); }
    var main = document.querySelector("main.tugas");
    if (main && !main.dataset.queueSeen) {    // once per page: what waits, and send it if we can
      main.dataset.queueSeen = "1";
      showPending();
      flush();
    }
  }

  new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", scan);
})();
