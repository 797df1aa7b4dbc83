/* The dispatch console (/dispatch): Dash's dropdowns keep their keyboard focus on a hidden input
   (aria-hidden yet focusable, without a name). Move it to the dropdown's own button and name that
   button by the control's visible label, so a screen reader says "Status: Baru, Dibuka ulang". */
(function () {
  var queued = false;
  function fix() {
    queued = false;
    document.querySelectorAll('.dispatch .dash-dropdown-wrapper').forEach(function (wrapper) {
      var target = wrapper.querySelector('.dash-dropdown-focus-target');
      var button = wrapper.querySelector('button.dash-dropdown');
      if (!button) { return; }
      if (target && target.getAttribute('tabindex') !== '-1') { target.setAttribute('tabindex', '-1'); }
      if (button.getAttribute('tabindex') !== '0') { button.setAttribute('tabindex', '0'); }
      var label = document.querySelector('label[for="' + button.id + '"]');
      if (!label) { return; }
      if (!label.id) { label.id = button.id + '-label'; }
      var ids = (button.getAttribute('aria-labelledby') || '').split(' ').filter(function (x) {
        return x && x !== label.id;
      });
      var wanted = [label.id].concat(ids).join(' ');
      if (button.getAttribute('aria-labelledby') !== wanted) { button.setAttribute('aria-labelledby', wanted); }
    });
  }
  new MutationObserver(function () {
    if (!queued) { queued = true; window.requestAnimationFrame(fix); }
  }).observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                         attributeFilter: ['tabindex', 'aria-labelledby']});
})();

/* Keyboard shortcuts of the console (outside a text field): "/" search, "j"/"k" the next/previous
   report, "v" verify & assign to the suggested agency, "x" tick the open report. */
(function () {
  function typing(el) {
    return el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' ||
                  el.isContentEditable);
  }
  function openRow(step) {
    var rows = Array.prototype.slice.call(document.querySelectorAll('.dispatch-table tbody tr[data-report]'));
    if (!rows.length) { return; }
    var at = rows.findIndex(function (tr) { return tr.classList.contains('dispatch-open'); });
    var next = rows[at < 0 ? 0 : Math.min(Math.max(at + step, 0), rows.length - 1)];
    var button = next.querySelector('.dispatch-ticket');
    if (button) { button.click(); button.focus(); }
  }
  document.addEventListener('keydown', function (event) {
    if (!document.querySelector('.dispatch') || event.ctrlKey || event.metaKey || event.altKey ||
        typing(event.target)) { return; }
    var key = event.key;
    if (key === '/') {
      var search = document.getElementById('dispatch-search');
      if (search) { event.preventDefault(); search.focus(); }
    } else if (key === 'j' || key === 'k') {
      event.preventDefault();
      openRow(key === 'j' ? 1 : -1);
    } else if (key === 'v') {
      var route = document.getElementById('dispatch-verify-route');
      if (route && !route.disabled) { event.preventDefault(); route.click(); }
    } else if (key === 'x') {
      var box = document.querySelector('.dispatch-table tr.dispatch-open input[type=checkbox]');
      if (box) { event.preventDefault(); box.click(); }
    }
  });
})();

/* The queue by push (app/staff/push.py): the server says the queue changed; the page re-reads it
   through its own callback (filters, page, ticked rows and scroll stay). Announcements are
   coalesced: one re-read at a time, the next as soon as the queue has been redrawn. */
(function () {
  var socket = null, inflight = false, pending = null, started = 0;
  function redrawn() {
    inflight = false;
    if (pending) { var next = pending; pending = null; poke(next); }
  }
  function poke(msg) {
    var dc = window.dash_clientside;
    if (!dc || !dc.set_props) { return; }
    if (inflight && Date.now() - started < 5000) { pending = msg; return; }
    inflight = true;
    started = Date.now();
    dc.set_props('dispatch-push', {data: {ts: Date.now(), n: (msg && msg.new) || 0}});
  }
  function watchQueue() {
    var queue = document.getElementById('dispatch-queue');
    if (queue && !queue.dataset.pushWatched) {
      queue.dataset.pushWatched = '1';
      new MutationObserver(redrawn).observe(queue, {childList: true, subtree: true});
    }
  }
  function connect() {
    var page = document.querySelector('.dispatch');
    if (page && !socket && window.io) {
      socket = window.io('/dispatch', {transports: ['websocket'], reconnectionDelayMax: 2000});
      socket.on('queue_changed', poke);
      socket.on('connect', function () {
        document.documentElement.setAttribute('data-dispatch-push', 'on');
        if (socket.recovered === false && socket.pushSeen) { poke({}); }   // missed while away
        socket.pushSeen = true;
      });
      socket.on('disconnect', function () { document.documentElement.setAttribute('data-dispatch-push', 'off'); });
    } else if (!page && socket) {
      socket.close();
      socket = null;
    }
    if (page) { watchQueue(); }
  }
  new MutationObserver(connect).observe(document.documentElement, {childList: true, subtree: true});
  connect();
})();
