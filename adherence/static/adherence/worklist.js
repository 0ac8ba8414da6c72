// Worklist keyboard: j / ArrowDown and k / ArrowUp move between rows, 1-5 log an outcome on
// the focused row (the buttons' data-key order), Escape leaves a row's note field. After a
// row is logged (htmx swaps the row in place), the next row gets the focus.
(function () {
  "use strict";
  var ROW = "[data-worklist-row]";
  var advanceFrom = null; // id of the row whose outcome was just posted

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll(ROW));
  }

  function focusRow(row) {
    if (!row) { return; }
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function move(from, step) {
    var all = rows();
    if (!all.length) { return; }
    var i = from ? all.indexOf(from) : -1;
    if (i >= 0) {
      focusRow(all[Math.min(all.length - 1, Math.max(0, i + step))]);
    } else if (from && step > 0) { // a row that is no longer workable: the next one below it
      focusRow(all.filter(function (r) {
        return from.compareDocumentPosition(r) & Node.DOCUMENT_POSITION_FOLLOWING;
      })[0]);
    } else {
      focusRow(step > 0 ? all[0] : all[all.length - 1]);
    }
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) { return; }
    var target = e.target instanceof Element ? e.target : null;
    var row = target ? target.closest(ROW) : null;
    if (target && target.matches("input, textarea, select, [contenteditable]")) {
      if (e.key === "Escape" && row) { e.preventDefault(); focusRow(row); }
      return;
    }
    if (e.key === "j" || (row && e.key === "ArrowDown")) {
      e.preventDefault();
      move(row, 1);
    } else if (e.key === "k" || (row && e.key === "ArrowUp")) {
      e.preventDefault();
      move(row, -1);
    } else if (row && /^[1-5]$/.test(e.key)) {
      var button = row.querySelector('button[data-key="' + e.key + '"]');
      if (button && !button.disabled && !row.hasAttribute("aria-busy")) {
        e.preventDefault();
        button.click();
      }
    }
  });

  document.addEventListener("htmx:beforeRequest", function (e) {
    var row = e.target instanceof Element ? e.target.closest(ROW) : null;
    if (row) {
      advanceFrom = row.id;
      row.setAttribute("aria-busy", "true");
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!advanceFrom) { return; }
    var row = document.getElementById(advanceFrom);
    advanceFrom = null;
    if (!row) { return; }
    row.removeAttribute("aria-busy");
    if (row.querySelector(".error")) { focusRow(row); } else { move(row, 1); }
  });

  function failed() {
    var row = advanceFrom && document.getElementById(advanceFrom);
    advanceFrom = null;
    if (row) { row.removeAttribute("aria-busy"); focusRow(row); }
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
})();
