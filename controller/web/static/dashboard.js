// relctl dashboard: progressive enhancement only. Every page reads the same without it.
// The calendar's filters apply at once (the form still works without script, live).
"use strict";
(function () {
  var form = document.getElementById("filters");
  if (!form) { return; }
  var facets = ["train", "team", "cluster"];
  var SEP = "\u001f";
  function apply() {
    var chosen = {};
    facets.forEach(function (f) { chosen[f] = document.getElementById("filter-" + f).value; });
    document.querySelectorAll(".event").forEach(function (el) {
      var shown = facets.every(function (f) {
        var have = el.getAttribute("data-" + f) || "";
        if (!chosen[f] || have === "*") { return true; }
        return have.split(SEP).indexOf(chosen[f]) >= 0;
      });
      el.hidden = !shown;
    });
    var link = document.getElementById("ics");
    if (link && link.getAttribute("data-live") === "yes") {
      var params = new URLSearchParams();
      facets.forEach(function (f) { if (chosen[f]) { params.set(f, chosen[f]); } });
      var query = params.toString();
      link.setAttribute("href", link.getAttribute("data-base") + (query ? "?" + query : ""));
    }
  }
  facets.forEach(function (f) {
    document.getElementById("filter-" + f).addEventListener("change", apply);
  });
  apply();
})();
