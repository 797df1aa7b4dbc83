/* The report form (/lapor) in the browser: GPS only on a tap, the map library fetched only when the
 * map is opened, errors put next to their field (the photo: assets/lapor-photo.js). The words come from the server (the catalogue), through data attributes and callbacks.
 */
(function () {
  "use strict";
  var FIELDS = ["category", "location", "description", "photo", "name", "phone", "email"];
  var FOCUS = {category: "#lapor-category button", location: "#lapor-place-search", description: "#lapor-description",
               photo: "#lapor-photo", name: "#lapor-name", phone: "#lapor-phone", email: "#lapor-email"};
  var FIELD_OF = {category: "#lapor-category", location: "#lapor-place-search", description: "#lapor-description",
                  photo: "#lapor-photo", name: "#lapor-name", phone: "#lapor-phone", email: "#lapor-email"};

  function lazyScript(url) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = url;
      tag.onload = resolve;
      tag.onerror = reject;
      document.head.appendChild(tag);
    });
  }

  function errorsOf(children) {
    var props = children && children.props;
    if (!props || !props["data-errors"]) { return null; }
    try { return JSON.parse(props["data-errors"]); } catch (e) { return null; }
  }

  // What the form holds, for a report kept on the phone with no signal (assets/lapor-offline.js).
  var state = window.pantauLaporState = window.pantauLaporState || {};

  var api = {
    // The "e-mail me updates" toggle: on after an odd number of presses.
    toggleUpdates: function (clicks) { return (clicks || 0) % 2 === 1 ? "true" : "false"; },
    // A category button pressed -> [its code, every button's aria-pressed]
    chooseCategory: function (clicks) {
      var trigger = window.dash_clientside.callback_context.triggered_id;
      var ids = window.dash_clientside.callback_context.outputs_list[1].map(function (o) { return o.id.code; });
      var code = trigger && trigger.code;
      if (code) {
        // A category is chosen: its "choose a category" message from the last send no longer holds.
        var box = document.querySelector(FIELD_OF.category);
        if (box) { box.removeAttribute("aria-invalid"); }
        if (window.dash_clientside.set_props) {
          window.dash_clientside.set_props("lapor-error-category", {children: ""});
        }
      }
      state.category = code || state.category;
      return [code, ids.map(function (id) { return id === code ? "true" : "false"; })];
    },
    // -> {lat, lng, accuracy} or {error: "denied" | "unavailable" | "timeout" | "unsupported"}
    gps: function () {
      if (!navigator.geolocation) { return {error: "unsupported", at: Date.now()}; }
      var button = document.getElementById("lapor-gps");
      if (window.dash_clientside.set_props && button && button.dataset.asking) {
        window.dash_clientside.set_props("lapor-gps-status", {children: button.dataset.asking});
      }
      return new Promise(function (resolve) {
        navigator.geolocation.getCurrentPosition(function (pos) {
          state.gps = {lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy: pos.coords.accuracy};
          if (window.pantauLaporKept) { window.pantauLaporKept.gpsKept(state.gps); }
          resolve({lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy: pos.coords.accuracy, at: Date.now()});
        }, function (err) {
          var reason = {1: "denied", 2: "unavailable", 3: "timeout"}[err && err.code] || "unavailable";
          resolve({error: reason, at: Date.now()});
        }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 60000});
      });
    },
    // -> "ready" once dash-leaflet is in the page (fetched here on the light pages), or "failed"
    loadMap: function () {
      if (window.dash_leaflet) { return "ready"; }
      var lazyData = document.getElementById("pantau-lazy");
      var lazy = lazyData ? JSON.parse(lazyData.textContent || "{}") : {};
      var urls = lazy.dash_leaflet || [];
      if (!urls.length) { return "failed"; }
      return urls.reduce(function (chain, url) {
        return chain.then(function () { return lazyScript(url); });
      }, Promise.resolve()).then(function () { return "ready"; }, function () { return "failed"; });
    },
    mapClick: function (click) { return click || null; },
    // The chosen point onto the map, when the map is open.
    followLocation: function (point) {
      var set = window.dash_clientside.set_props;
      state.location = point || null;
      if (!point || !set || !document.getElementById("lapor-map")) { return null; }
      var where = [point.lat, point.lng];
      set("lapor-marker", {children: [{type: "Marker", namespace: "dash_leaflet", props: {position: where}}]});
      set("lapor-map", {viewport: {center: where, zoom: 16, transition: "panTo"}});
      return where;
    },
    // The form's answer -> each field's message (next to it); focus on the first field refused,
    // or on the answer when the report was filed.
    placeErrors: function (children) {
      var errors = errorsOf(children) || {};
      var first = null;
      FIELDS.forEach(function (field) {
        var el = document.querySelector(FIELD_OF[field]);
        el = el && (el.closest(".dash-input-container") || el);
        if (el) {
          if (errors[field]) {
            el.setAttribute("aria-invalid", "true");
            el.setAttribute("aria-describedby", "lapor-error-" + field);
            if (!first) { first = field; }
          } else {
            el.removeAttribute("aria-invalid");
          }
        }
      });
      setTimeout(function () {
        var target = first ? document.querySelector(FOCUS[first]) : document.getElementById("lapor-result-heading");
        if (target) {
          if (!first) { target.setAttribute("tabindex", "-1"); }
          target.focus();
          if (target.scrollIntoView) { target.scrollIntoView({block: "center"}); }
        }
      }, 50);
      return FIELDS.map(function (field) { return errors[field] || ""; });
    }
  };
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.pantauLapor = api;

})();
