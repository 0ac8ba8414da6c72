// Draw every [data-plotly="<id>"] element from the figure JSON in <script id="<id>">,
// with the plotly.js served by the app (never a CDN). Charts in a body that htmx swapped in
// are drawn after the swap; a point whose customdata is a link ("/...") opens it on click.
(function () {
  "use strict";
  function draw(root) {
    if (!window.Plotly) { return; }
    (root || document).querySelectorAll("[data-plotly]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-plotly"));
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, figure.data, figure.layout, {
        displaylogo: false,
        responsive: true,
        modeBarButtonsToRemove: ["select2d", "lasso2d"],
      }).then(function () { el.setAttribute("data-drawn", "1"); });
      el.on("plotly_click", function (event) {
        var point = event && event.points && event.points[0];
        var link = point && point.customdata;
        if (typeof link === "string" && link.charAt(0) === "/") { window.location.assign(link); }
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(document); });
  } else {
    draw(document);
  }
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
})();
