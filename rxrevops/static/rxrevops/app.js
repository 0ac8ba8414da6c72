// Small behaviours every page may use, declared with data attributes instead of inline
// handlers (the Content-Security-Policy allows no inline script):
//   <form data-confirm="Discard this draft?">  asks before submitting
//   <select data-autosubmit>                   submits its form when changed
//   <button data-print>                        opens the print dialog
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) { window.print(); }
  });
})();
