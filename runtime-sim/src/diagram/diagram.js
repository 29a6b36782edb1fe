// palisade space-time diagram: draws the inline JSON model as SVG. No network access.
(function () {
  "use strict";
  var model = JSON.parse(document.getElementById("data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var chart = document.getElementById("chart");
  var tip = document.getElementById("tip");
  var LEFT = 120, RIGHT = 20, TOP = 34, LANE = 64, BOTTOM = 30;
  var bandColors = { partition: "rgba(208,49,45,.12)", degrade: "rgba(255,215,0,.18)", duplicate: "rgba(123,79,182,.12)" };
  var colors = { delivered: "#3b6fb6", duplicate: "#7b4fb6", held: "#c77800", drop: "#d0312d" };
  var markColors = { event: "#e07b00", timeout: "#9aa3ad", persist: "#2e8b57", command: "#444",
    crash: "#111", restart: "#2e8b57", torn: "#b00020", "wall-step": "#8a2be2", drift: "#8a2be2" };
  var width = 0, t0 = 0, t1 = Math.max(1, model.end_ns), laneOf = {};
  model.nodes.forEach(function (n, k) { laneOf[n] = k; });
  var height = TOP + LANE * model.nodes.length + BOTTOM;

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function x(t) { return LEFT + (t - t0) / (t1 - t0) * (width - LEFT - RIGHT); }
  function y(node) { return TOP + LANE * laneOf[node] + LANE / 2; }
  function secs(ns) { return (ns / 1e9).toFixed(ns < 1e10 ? 3 : 1) + " s"; }
  function hover(e, text) { e.setAttribute("data-tip", text); }
  function visible(a, b) { return b >= t0 && a <= t1; }

  function legend() {
    var items = [["delivered", colors.delivered], ["dropped", colors.drop], ["held while paused", colors.held],
      ["duplicate", colors.duplicate], ["pause", "rgba(255,170,0,.35)"], ["down (crashed)", "rgba(40,40,40,.35)"],
      ["partition", bandColors.partition], ["links degraded", bandColors.degrade],
      ["links duplicating", bandColors.duplicate],
      ["protocol event", markColors.event], ["timer", markColors.timeout], ["violation", "#b00020"]];
    document.getElementById("legend").innerHTML = items.map(function (it) {
      return '<span><i style="background:' + it[1] + '"></i>' + it[0] + "</span>";
    }).join("");
    var v = model.violation;
    var s = model.nodes.length + " nodes, " + secs(model.end_ns) + " simulated, " + model.msgs.length +
      " messages drawn, GST " + secs(model.gst_ns) + ".";
    if (model.omitted) s += " " + model.omitted + " items far from the violation left out.";
    if (v) s += " VIOLATION at " + secs(v.t) + " (event " + v.i + ", seed " + v.seed + "): " + v.checker + ": " + v.message;
    else s += " No violation.";
    document.getElementById("summary").textContent = s;
  }

  function clockAt(points, t) {
    var p = null;
    for (var k = 0; k < points.length && points[k].t <= t; k++) p = points[k];
    if (!p) return 0;
    return p.offset_ns + (t - p.t) * p.ppm / 1e6;
  }

  function draw() {
    width = Math.max(600, chart.clientWidth || window.innerWidth);
    chart.innerHTML = "";
    var svg = el("svg", { width: width, height: height, "data-lanes": model.nodes.length }, chart);
    var bg = el("g", {}, svg), lanes = el("g", {}, svg), arrows = el("g", {}, svg), top = el("g", {}, svg);
    // Bands across every lane.
    model.bands.forEach(function (b) {
      if (!visible(b.from, b.to)) return;
      var r = el("rect", { x: x(Math.max(b.from, t0)), y: TOP, width: Math.max(1, x(Math.min(b.to, t1)) - x(Math.max(b.from, t0))),
        height: LANE * model.nodes.length, fill: bandColors[b.kind] || bandColors.degrade,
        "class": "band " + b.kind }, bg);
      hover(r, b.kind + ": " + b.label + "\n" + secs(b.from) + " to " + secs(b.to));
    });
    // Lanes, clock strips and spans.
    var maxOff = 1;
    model.clocks.forEach(function (pts) {
      [t0, t1].concat(pts.map(function (p) { return p.t; })).forEach(function (t) {
        maxOff = Math.max(maxOff, Math.abs(clockAt(pts, t)));
      });
    });
    model.nodes.forEach(function (n, k) {
      var g = el("g", { "class": "lane", "data-node": n }, lanes);
      el("rect", { x: 0, y: TOP + LANE * k, width: width, height: LANE, fill: k % 2 ? "#f3f4f2" : "#fbfbfa" }, g);
      el("line", { x1: LEFT, x2: width - RIGHT, y1: y(n), y2: y(n), stroke: "#8a939c", "stroke-width": 1 }, g);
      var label = el("text", { x: 8, y: y(n) - 4, "class": "lane-label" }, g);
      label.textContent = "n" + n;
      if (model.byzantine[n]) {
        var bz = el("text", { x: 34, y: y(n) - 4, "class": "byzantine-label" }, g);
        bz.textContent = "Byzantine";
        hover(bz, "n" + n + " is Byzantine: the " + model.byzantine[n] + " adversary speaks for it");
      }
      var pts = model.clocks[k] || [];
      var off = clockAt(pts, t0), offEnd = clockAt(pts, t1);
      var cl = el("text", { x: 8, y: y(n) + 14, "class": "clock-label" }, g);
      var ppm = 0;
      pts.forEach(function (p) { if (p.t <= t0) ppm = p.ppm; });
      cl.textContent = "clock " + (off / 1e6 >= 0 ? "+" : "") + (off / 1e6).toFixed(1) + " ms" +
        (ppm ? ", " + (ppm > 0 ? "+" : "") + ppm + " ppm" : "");
      hover(cl, "n" + n + " wall clock error: " + (off / 1e6).toFixed(3) + " ms at " + secs(t0) + ", " +
        (offEnd / 1e6).toFixed(3) + " ms at " + secs(t1));
      // The clock's error as a thin line in the lane (scaled to the largest error shown).
      if (pts.length) {
        var samples = [t0];
        pts.forEach(function (p) { if (p.t > t0 && p.t < t1) { samples.push(p.t - 1); samples.push(p.t); } });
        samples.push(t1);
        var d = samples.map(function (t, j) {
          return (j ? "L" : "M") + x(t).toFixed(1) + "," + (y(n) + 22 - clockAt(pts, t) / maxOff * 8).toFixed(1);
        }).join("");
        el("path", { d: d, fill: "none", stroke: "#8a2be2", "stroke-width": 1, opacity: 0.6, "class": "clock" }, g);
      }
    });
    model.spans.forEach(function (s) {
      if (!visible(s.from, s.to) || laneOf[s.node] === undefined) return;
      var a = x(Math.max(s.from, t0)), b = x(Math.min(s.to, t1));
      var r = el("rect", { x: a, y: TOP + LANE * laneOf[s.node] + 4, width: Math.max(2, b - a), height: LANE - 8,
        fill: s.kind === "pause" ? "rgba(255,170,0,.35)" : "rgba(40,40,40,.35)", "class": "span " + s.kind }, lanes);
      hover(r, "n" + s.node + " " + (s.kind === "pause" ? "paused" : "down") + " " + secs(s.from) + " to " + secs(s.to));
    });
    // Messages.
    var shown = model.msgs.filter(function (m) { return visible(m.t, m.at); });
    var thin = shown.length > 4000;
    shown.forEach(function (m) {
      if (laneOf[m.from] === undefined || laneOf[m.to] === undefined) return;
      var dropped = m.fate.indexOf("drop") === 0;
      var hit = model.violation && m.di === model.violation.i;
      var c = hit ? "#b00020" : dropped ? colors.drop : (colors[m.fate] || colors.delivered);
      var x1 = x(m.t), y1 = y(m.from), y2 = y(m.to);
      var x2 = dropped && m.at === m.t ? x1 + 10 : x(m.at);
      var yEnd = dropped && m.at === m.t ? y1 + (y2 - y1) * 0.3 : y2;
      var line = el("line", { x1: x1, y1: y1, x2: x2, y2: yEnd, stroke: c, "stroke-width": hit ? 3 : thin ? 0.6 : 1.1,
        opacity: hit ? 1 : thin ? 0.5 : 0.85, "class": "msg " + (dropped ? "dropped" : m.fate) + (hit ? " violating" : "") }, arrows);
      if (dropped) {
        line.setAttribute("stroke-dasharray", "3,2");
        el("path", { d: "M" + (x2 - 3) + "," + (yEnd - 3) + "l6,6m0,-6l-6,6", stroke: c, "stroke-width": 1.5 }, arrows);
      } else if (!thin) {
        el("circle", { cx: x2, cy: yEnd, r: 2, fill: c }, arrows);
      }
      hover(line, m.label + "  n" + m.from + " → n" + m.to + "  " + m.fate + "\nsent " + secs(m.t) +
        (dropped ? "" : ", arrives " + secs(m.at)) + "\n" + m.detail);
    });
    // Marks.
    var marks = model.marks.filter(function (k) { return k.t >= t0 && k.t <= t1 && laneOf[k.node] !== undefined; });
    var lastLabel = {};
    marks.forEach(function (k) {
      var cx = x(k.t), cy = y(k.node), c = markColors[k.kind] || "#444";
      var hit = model.violation && model.violation.i === k.i;
      var e;
      if (k.kind === "timeout") {
        e = el("line", { x1: cx, x2: cx, y1: cy - 4, y2: cy + 4, stroke: c, "class": "mark timeout" }, top);
      } else if (k.kind === "crash" || k.kind === "restart" || k.kind === "torn") {
        e = el("rect", { x: cx - 4, y: cy - 9, width: 8, height: 18, fill: c, "class": "mark " + k.kind }, top);
      } else {
        e = el("circle", { cx: cx, cy: cy, r: hit ? 7 : 4, fill: c, stroke: hit ? "#b00020" : "#fff",
          "stroke-width": hit ? 3 : 1, "class": "mark " + k.kind + (hit ? " violating" : "") }, top);
        // Label an event only where the lane has room since the last label.
        if (k.kind === "event" && (lastLabel[k.node] === undefined || cx - lastLabel[k.node] > 8 * k.label.length + 16)) {
          var t = el("text", { x: cx + 5, y: cy - 7, "font-size": 10, fill: "#7a4300" }, top);
          t.textContent = k.label;
          lastLabel[k.node] = cx;
        }
      }
      hover(e, "n" + k.node + " " + k.kind + (k.label ? " " + k.label : "") + " at " + secs(k.t) + " (event " + k.i + ")\n" + k.detail);
    });
    // GST and the violation.
    if (model.gst_ns > 0 && model.gst_ns >= t0 && model.gst_ns <= t1) {
      var g = el("line", { x1: x(model.gst_ns), x2: x(model.gst_ns), y1: TOP, y2: height - BOTTOM, stroke: "#2e8b57",
        "stroke-dasharray": "6,4", "class": "gst" }, top);
      hover(g, "GST " + secs(model.gst_ns) + ": the last fault healed");
    }
    var v = model.violation;
    if (v) {
      var vx = Math.min(Math.max(x(v.t), LEFT), width - RIGHT);
      var vl = el("line", { x1: vx, x2: vx, y1: TOP - 8, y2: height - BOTTOM, stroke: "#b00020", "stroke-width": 2,
        "class": "violation" }, top);
      hover(vl, "VIOLATION " + v.checker + " at " + secs(v.t) + " (event " + v.i + ")\n" + v.message);
      var vt = el("text", { x: Math.min(vx + 4, width - 360), y: TOP - 12, "class": "violation-label" }, top);
      vt.textContent = "✖ " + v.checker;
    }
    // Time axis.
    var axis = el("g", { "class": "axis" }, svg);
    var span = t1 - t0, step = Math.pow(10, Math.floor(Math.log10(span / 8)));
    if (span / step > 16) step *= 5; else if (span / step > 8) step *= 2;
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      el("line", { x1: x(t), x2: x(t), y1: height - BOTTOM, y2: height - BOTTOM + 5, stroke: "#889" }, axis);
      var tx = el("text", { x: x(t) - 12, y: height - 8 }, axis);
      tx.textContent = secs(t);
    }
  }

  // Zoom (wheel, around the cursor), pan (drag), reset (double-click), hover details.
  chart.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var at = t0 + (ev.offsetX - LEFT) / (width - LEFT - RIGHT) * (t1 - t0);
    var f = ev.deltaY > 0 ? 1.25 : 0.8, span = Math.max(1000, (t1 - t0) * f);
    var left = at - (at - t0) * f;
    t0 = Math.max(0, left); t1 = Math.min(model.end_ns * 1.02 + 1, t0 + span);
    draw();
  }, { passive: false });
  var drag = null;
  chart.addEventListener("mousedown", function (ev) { drag = { x: ev.clientX, t0: t0, t1: t1 }; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (ev) {
    if (drag) {
      var dt = (ev.clientX - drag.x) / (width - LEFT - RIGHT) * (drag.t1 - drag.t0);
      var span = drag.t1 - drag.t0;
      t0 = Math.min(Math.max(0, drag.t0 - dt), Math.max(0, model.end_ns - span)); t1 = t0 + span;
      draw();
      return;
    }
    var text = ev.target && ev.target.getAttribute && ev.target.getAttribute("data-tip");
    if (text) { tip.hidden = false; tip.textContent = text; tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px"; }
    else tip.hidden = true;
  });
  chart.addEventListener("dblclick", function () { t0 = 0; t1 = model.end_ns * 1.02 + 1; draw(); });
  window.addEventListener("resize", draw);
  // Open zoomed on the violation, if any: a window of a tenth of the run around it.
  // A little room after the end, so a violation at the very end is not on the edge.
  t1 = model.end_ns * 1.02 + 1;
  if (model.violation && model.end_ns > 30e9) {
    var w = Math.max(model.end_ns / 10, 10e9);
    t0 = Math.max(0, model.violation.t - w * 0.7); t1 = Math.min(model.end_ns, t0 + w);
  }
  legend();
  draw();
  document.body.setAttribute("data-ready", "1");
})();
