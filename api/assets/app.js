// privtrail's only script: enhancements. Every page works without it.
"use strict";

// "/" focuses the search box, as in many tools reviewers know.
document.addEventListener("keydown", function (ev) {
  if (ev.key !== "/" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  var active = document.activeElement;
  if (active && (/^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) || active.isContentEditable)) return;
  var q = document.getElementById("q") || document.querySelector("input[name=q]");
  if (q) { ev.preventDefault(); q.focus(); q.select(); }
});

function pad(n) { return (n < 10 ? "0" : "") + n; }

// UTC is shown; the local time goes into each time's title (hover).
function localTitles() {
  var times = document.querySelectorAll("time[datetime]");
  for (var i = 0; i < times.length; i++) {
    var t = times[i];
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d.getTime())) continue;
    var local = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    var zone = "";
    try { zone = " " + Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = " local"; }
    t.title = local + zone + " (" + t.textContent.trim() + " UTC)";
  }
}

// Timeline: a click on the chart, off the spans, asks who held what at that moment.
function timelinePicker() {
  var svg = document.getElementById("timeline");
  if (!svg || !svg.getScreenCTM) return;
  svg.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("a")) return;
    var ctm = svg.getScreenCTM();
    if (!ctm) return;
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(ctm.inverse());
    var x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
    if (!(p.x >= x0 && p.x <= x1)) return;
    var from = Date.parse(svg.dataset.from), to = Date.parse(svg.dataset.to);
    if (isNaN(from) || isNaN(to)) return;
    var at = new Date(from + (p.x - x0) / (x1 - x0) * (to - from));
    var fmt = function (ms) { return new Date(ms).toISOString().slice(0, 19).replace("T", " "); };
    var u = new URL(window.location.href);
    u.searchParams.set("from", fmt(from));
    u.searchParams.set("to", fmt(to));
    u.searchParams.set("at", fmt(Math.round(at.getTime() / 60000) * 60000));
    u.hash = "held";
    window.location.href = u.toString();
  });
}

document.addEventListener("DOMContentLoaded", function () {
  localTitles();
  timelinePicker();
});
