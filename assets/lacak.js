/* Ticket tracking (/lacak) in the browser: the small map fetched on a tap; the holder of the reporter's link rates or disputes the
 * report (POST /api/feedback/<ticket>, the secret from the fragment in X-Reporter-Secret: it is never
 * in a URL the server sees), and switching the language keeps the fragment. */
(function () {
  "use strict";
  // Where this city's pages live: "/kupang" on a several-city install, "" on one city (Dash's own config).
  function cityRoot() {
    var node = document.getElementById("_dash-config");
    try { return (JSON.parse(node.textContent).requests_pathname_prefix || "/").replace(/\/$/, ""); }
    catch (e) { return ""; }
  }

  // The small map: dash-leaflet is fetched only on the tap (its URLs: the page's pantau-lazy block).
  function lazyScript(url) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = url;
      tag.onload = resolve;
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
  }
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.pantauLacak = {
    loadMap: function () {
      if (window.dash_leaflet) { return "ready"; }
      var lazyData = document.getElementById("pantau-lazy");
      var urls = (lazyData ? JSON.parse(lazyData.textContent || "{}") : {}).dash_leaflet || [];
      if (!urls.length) { return "failed"; }
      return urls.reduce(function (chain, url) {
        return chain.then(function () { return lazyScript(url); });
      }, Promise.resolve()).then(function () { return "ready"; }, function () { return "failed"; });
    }
  };

  function secret() {
    var match = /(?:^|[#&])k=([^&]+)/.exec(window.location.hash || "");
    return match ? decodeURIComponent(match[1]) : "";
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#citizen-language");
    if (link && window.location.pathname.indexOf(cityRoot() + "/lacak") === 0 && window.location.hash) {
      event.preventDefault();
      window.location.assign(link.getAttribute("href") + window.location.hash);
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("lacak-feedback-form")) { return; }
    event.preventDefault();
    var box = document.getElementById("lacak-feedback");
    var status = document.getElementById("lacak-feedback-status");
    var key = secret();
    if (!key) { status.textContent = box.dataset.noSecret; return; }
    var data = new FormData(form);
    var body = form.dataset.kind === "rate"
      ? {rating: parseInt((event.submitter && event.submitter.value) || "0", 10), comment: data.get("comment") || null}
      : {dispute: data.get("dispute")};
    var buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(cityRoot() + "/api/feedback/" + encodeURIComponent(box.dataset.ticket), {
      method: "POST", headers: {"Content-Type": "application/json", "X-Reporter-Secret": key},
      body: JSON.stringify(body), credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      status.className = "alert alert-success mt-2";
      status.textContent = box.dataset.sent;
      setTimeout(function () { window.location.reload(); }, 1500);
    }).catch(function () {
      status.className = "alert alert-danger mt-2";
      status.textContent = box.dataset.failed;
      buttons.forEach(function (b) { b.disabled = false; });
    });
  });
})();
