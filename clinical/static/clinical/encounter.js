// Encounter form shortcuts: Ctrl/Cmd+S saves the draft now (htmx autosave), Ctrl/Cmd+Enter
// signs it.
(function () {
  "use strict";
  document.addEventListener("keydown", function (e) {
    var form = document.getElementById("encounter-form");
    if (!form || !(e.ctrlKey || e.metaKey)) { return; }
    if (e.key === "s") { e.preventDefault(); if (window.htmx) { window.htmx.trigger(form, "save-now"); } }
    if (e.key === "Enter") { e.preventDefault(); form.querySelector('[data-testid="sign"]').click(); }
  });
})();
