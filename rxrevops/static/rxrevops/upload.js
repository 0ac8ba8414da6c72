// Drag-and-drop upload with a progress bar. Without JavaScript the form still posts normally.
(function () {
  "use strict";
  function setup(form) {
    var zone = form.querySelector("[data-dropzone]");
    var input = form.querySelector("input[type=file]");
    var name = form.querySelector("[data-filename]");
    var bar = form.querySelector("[data-upload-progress]");
    var percent = form.querySelector("[data-upload-percent]");
    function show() { name.textContent = input.files.length ? input.files[0].name : ""; }
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
    });
    form.addEventListener("submit", function (e) {
      if (!window.XMLHttpRequest || !window.FormData) { return; }
      e.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      bar.hidden = false;
      xhr.upload.addEventListener("progress", function (p) {
        if (p.lengthComputable) {
          var v = Math.round((p.loaded / p.total) * 100);
          bar.querySelector("progress").value = v;
          percent.textContent = v + "%";
        }
      });
      xhr.addEventListener("load", function () {
        if (xhr.responseURL && xhr.responseURL !== window.location.href) {
          window.location.assign(xhr.responseURL);  // the job page: import progress continues there
        } else {
          document.open(); document.write(xhr.responseText); document.close();
        }
      });
      xhr.send(new FormData(form));
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-upload]").forEach(setup);
  });
})();
