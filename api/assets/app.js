// privtrail's only script: enhancements. Every page works without it.
"use strict";
document.addEventListener("keydown", function (ev) {
  // "/" focuses the search box, as in many tools reviewers know.
  if (ev.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
    var q = document.querySelector("input[name=q]");
    if (q) { ev.preventDefault(); q.focus(); }
  }
});
