// Dashboard controls: the custom date inputs show only for a custom range (choosing a date
// switches the range to custom). The report's print button is rxrevops/app.js's [data-print].
// No inline scripts (CSP).
(function () {
  "use strict";
  function sync(form) {
    var period = form.querySelector("select[name=period]");
    if (!period) { return; }
    var custom = period.value === "custom";
    form.querySelectorAll(".custom-dates").forEach(function (el) { el.hidden = !custom; });
    form.querySelectorAll(".custom-dates input").forEach(function (input) { input.disabled = !custom; });
  }
  function setup() {
    document.querySelectorAll("form.dash-controls").forEach(function (form) {
      sync(form);
      form.addEventListener("change", function (event) {
        if (event.target.name === "period") { sync(form); }
      }, true);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
