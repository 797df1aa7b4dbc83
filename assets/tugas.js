/* The field officer's phone (/tugas): distances on the task cards, and the task page's actions.
 *
 * Start and resolve are plain multipart POSTs to the staff API (/staff/api/reports/<id>/<action>)
 * with the phone's position and its accuracy (the server decides whether that proves presence),
 * a progress bar, and an idempotency key. The after photo is sent as taken: resizing it here would
 * drop the EXIF capture time the server's proof checks read before stripping the metadata.
 * Everything the form holds belongs to the report whose page drew it: the page is rebuilt for every
 * task (its own URL), and nothing is kept between two of them.
 */
(function () {
  "use strict";
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

  function buildPhotoInput(slot) {
    if (slot.querySelector("input")) return;
    var label = document.createElement("label");
    label.className = "form-label small";
    label.htmlFor = "tugas-photo";
    label.textContent = slot.dataset.label;
    var input = document.createElement("input");
    input.type = "file";
    input.id = "tugas-photo";
    input.name = "photo";
    input.accept = "image/*";
    input.setAttribute("capture", "environment");
    input.className = "form-control";
    input.setAttribute("aria-describedby", "tugas-photo-hint");
    var hint = document.createElement("div");
    hint.id = "tugas-photo-hint";
    hint.className = "form-text";
    hint.textContent = slot.dataset.hint;
    slot.append(label, input, hint);
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
    say(form, texts.locating, "info");
    locate().then(function (coords) {
      var body = new FormData();
      body.append("version", form.dataset.version);
      body.append("lang", form.dataset.lang);
      body.append("idempotency_key", form.dataset.key || (form.dataset.key = newKey()));
      if (coords) {
        body.append("lat", coords.latitude);
        body.append("lng", coords.longitude);
        body.append("accuracy", coords.accuracy);
      }
      if (note && note.value) body.append("note", note.value);
      if (action === "resolve") body.append("photo", input.files[0], input.files[0].name);
      var csrf = document.querySelector("input[name=csrf_token]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/staff/api/reports/" + encodeURIComponent(form.dataset.report) + "/" + action +
        "?lang=" + encodeURIComponent(form.dataset.lang));
      xhr.setRequestHeader("X-CSRF-Token", csrf ? csrf.value : "");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) progress(form, e.loaded / e.total); };
      xhr.onload = function () {
        progress(form, null);
        var out = {};
        try { out = JSON.parse(xhr.responseText); } catch (e) { out = {}; }
        if (xhr.status === 200) {
          var presence = out.proof && out.proof.presence && out.proof.presence.verified ?
            texts["presence.ok"] : texts["presence.no"];
          say(form, (texts["done." + action] || "").replace("{presence}", presence), "success");
          form.dataset.done = action;
          // The task's page again, rebuilt from the server: the new state, its actions and proof.
          window.setTimeout(function () { window.location.replace(window.location.href); }, 1500);
          return;
        }
        buttons.forEach(function (b) { b.disabled = false; });
        say(form, out.message || out.error || texts["err.network"], xhr.status === 409 ? "warning" : "danger");
      };
      xhr.onerror = function () {
        progress(form, null);
        buttons.forEach(function (b) { b.disabled = false; });
        say(form, texts["err.network"], "danger");
      };
      say(form, texts.sending, "info");
      progress(form, 0);
      xhr.send(body);
    });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".tugas-act");
    if (button && !button.disabled) act(button);
  });

  function scan() {
    if (window.location.pathname.indexOf("/tugas") !== 0) return;   // other screens: nothing to do
    var main = document.querySelector("main.tugas");    // Dash's page has no lang of its own
    if (main && document.documentElement.lang !== main.getAttribute("lang")) {
      document.documentElement.lang = main.getAttribute("lang");
    }
    document.querySelectorAll(".tugas-photo-slot").forEach(buildPhotoInput);
    if (document.querySelector(".tugas-distance")) { watch(); paintDistances(); }
  }

  new MutationObserver(scan).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", scan);
})();
