/* The citizen screens' first load (/lapor, /lacak): the screen's first layout and its callbacks came
 * in the page (app/web_assets.py, "pantau-first-*"). They are handed to Dash's renderer when it asks,
 * once each, with no round trip (0.3 s or more each on 3G). Loaded by both citizen screens and left
 * out of every other page (app/web_assets.py CITIZEN_ONLY, OFFICER_LEFT_OUT). */
(function () {
  "use strict";
  var network = window.fetch;
  if (!network || !window.Response) { return; }
  var handed = {};
  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    var match = /\/_dash-(layout|dependencies)$/.exec(url.split("?")[0]);
    var node = match && !handed[match[1]] && !(init && init.method && init.method !== "GET")
      && document.getElementById("pantau-first-" + match[1]);
    if (node) {
      handed[match[1]] = true;
      return Promise.resolve(new Response(node.textContent, {status: 200, headers: {"Content-Type": "application/json"}}));
    }
    return network.apply(this, arguments);
  };
})();
