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
