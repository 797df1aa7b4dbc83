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

/* A ticket clicked in the queue opens its report: one listener for every row (a callback on each
   row's button would run for every row a push inserts). */
document.addEventListener('click', function (event) {
  var button = event.target.closest && event.target.closest('.dispatch-table .dispatch-ticket');
  var row = button && button.closest('tr[data-report]');
  var dc = window.dash_clientside;
  if (row && dc && dc.set_props) {
    dc.set_props('dispatch-row-click', {data: {id: row.getAttribute('data-report'), at: Date.now()}});
  }
});

/* The queue by push (app.staff.push): the server names the reports that came or changed, at most
   every 250 ms; the page sends them to the queue's own callback, which answers with only the rows to
   insert or remove (filters, page, ticked rows, the open row and scroll stay). One update at a time:
   what arrives meanwhile is merged and sent as soon as the last one is applied (its ack). */
(function () {
  var socket = null, inflight = false, pending = null, started = 0, recountTimer = null, stuck = null;
  function many(x) { return Array.isArray(x) ? x.length : (x || 0); }
  function merge(a, b) {
    if (!a) { return {new: (b.new || []).slice(), changed: many(b.changed), since: b.since || 0,
                      overflow: !!b.overflow, recount: !!b.recount}; }
    a.new = a.new.concat(b.new || []);
    a.changed += many(b.changed);
    a.since = Math.min(a.since || b.since || 0, b.since || a.since || 0);
    a.overflow = a.overflow || !!b.overflow || a.new.length > 500;
    a.recount = a.recount || !!b.recount;
    return a;
  }
  function applied() {
    inflight = false;
    if (stuck) { clearTimeout(stuck); stuck = null; }
    flush();
  }
  function flush() {
    var dc = window.dash_clientside;
    if (!pending || !dc || !dc.set_props) { return; }
    if (inflight && Date.now() - started < 5000) { return; }
    var msg = pending;
    pending = null;
    inflight = true;
    started = Date.now();
    stuck = setTimeout(applied, 5000);           // an update that never came back (a lost reply)
    dc.set_props('dispatch-push', {data: {ts: Date.now() + Math.random(), new: msg.overflow ? [] : msg.new,
                                          changed: msg.changed, since: msg.since, overflow: msg.overflow,
                                          recount: msg.recount}});
  }
  function poke(msg) {
    msg = msg || {};
    pending = merge(pending, msg);
    // another console's change moves the counts: recount once things settle
    if (many(msg.changed) > 0 && !recountTimer) {
      recountTimer = setTimeout(function () { recountTimer = null; poke({recount: true}); }, 3500);
    }
    flush();
  }
  function watch() {
    var ack = document.getElementById('dispatch-push-ack');
    if (ack && !ack.dataset.pushWatched) {
      ack.dataset.pushWatched = '1';
      new MutationObserver(applied).observe(ack, {childList: true, subtree: true, characterData: true});
    }
  }
  function connect() {
    var page = document.querySelector('.dispatch');
    if (page && !socket && window.io) {
      socket = window.io('/dispatch', {transports: ['websocket'], reconnectionDelayMax: 2000});
      socket.on('queue_changed', poke);
      socket.on('connect', function () {
        document.documentElement.setAttribute('data-dispatch-push', 'on');
        if (socket.recovered === false && socket.pushSeen) { poke({overflow: true}); }   // missed while away
        socket.pushSeen = true;
      });
      socket.on('disconnect', function () { document.documentElement.setAttribute('data-dispatch-push', 'off'); });
    } else if (!page && socket) {
      socket.close();
      socket = null;
    }
    if (page) { watch(); }
  }
  new MutationObserver(connect).observe(document.documentElement, {childList: true, subtree: true});
  connect();
})();
