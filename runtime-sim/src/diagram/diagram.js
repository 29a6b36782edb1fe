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
  // Arrows are coloured by what they carry: the message's variant and, where it has one,
  // its value (so an equivocating node's two stories are two colours).
  var palette = ["#3b6fb6", "#2e8b57", "#c2185b", "#7b4fb6", "#00838f", "#8d6e00", "#5d4037", "#e65100",
    "#1565c0", "#6a1b9a", "#33691e", "#ad1457"];
  var keyColor = {}, keys = [], valuesOf = {}, countOf = {};
  model.msgs.forEach(function (m) {
    if (!m.value) return;
    (valuesOf[m.label] = valuesOf[m.label] || {})[m.value] = true;
    countOf[m.label] = (countOf[m.label] || 0) + 1;
  });
  // The value joins the colour only where a variant's values are few and repeat (Bracha's
  // payloads, echoed by every node, honest and lying), not where every message carries a
  // value of its own (a write's).
  function byValue(m) {
    if (!m.value) return false;
    var distinct = Object.keys(valuesOf[m.label]).length;
    return distinct <= 12 && countOf[m.label] >= 3 * distinct;
  }
  function keyOf(m) { return m.label + (byValue(m) ? " " + m.value : ""); }
  function textOf(m) {
    return m.label + (m.token !== null && m.token !== undefined ? " token " + m.token : "") + (m.value ? " " + m.value : "");
  }
  model.msgs.forEach(function (m) {
    var k = keyOf(m);
    if (!(k in keyColor)) { keyColor[k] = null; keys.push(k); }
  });
  // With a violation, the kinds of the messages nearest to it come first, in the legend and
  // in the palette: those are the ones the opening view shows, and they get distinct
  // colours (the palette repeats only beyond its twelfth kind).
  var order = keys.slice();
  if (model.violation) {
    var near = {}, vt = model.violation.t;
    model.msgs.forEach(function (m) {
      var k = keyOf(m), d = Math.min(Math.abs(m.t - vt), Math.abs(m.at - vt));
      if (!(k in near) || d < near[k]) near[k] = d;
    });
    // (A stable sort: equally near kinds keep their order of first appearance.)
    order.sort(function (a, b) { return near[a] - near[b]; });
  }
  order.forEach(function (k, n) { keyColor[k] = palette[n % palette.length]; });
  var width = 0, t0 = 0, t1 = Math.max(1, model.end_ns), laneOf = {};
  model.nodes.forEach(function (n, k) { laneOf[n] = k; });
  var height = TOP + LANE * model.nodes.length + BOTTOM;
  // What the checker saw: the last protocol event at the violation's instant (the checker
  // runs after a whole step, whose last trace line may be a send), and the message whose
  // delivery led to it.
  var flagI = null, causeI = null;
  if (model.violation) {
    var v0 = model.violation, flagMark = null;
    model.marks.forEach(function (k) {
      if (k.kind === "event" && k.t === v0.t && k.i <= v0.i && (!flagMark || k.i > flagMark.i)) flagMark = k;
    });
    flagI = flagMark ? flagMark.i : v0.i;
    if (flagMark) {
      model.msgs.forEach(function (m) {
        if (m.to === flagMark.node && m.di !== null && m.di !== undefined && m.di <= flagI &&
            (causeI === null || m.di > causeI)) causeI = m.di;
      });
      // Only if nothing else (a timer, a command) ran on that node between the delivery
      // and the event.
      if (causeI !== null && model.marks.some(function (k) {
        return k.node === flagMark.node && k.i > causeI && k.i < flagI && (k.kind === "timeout" || k.kind === "command");
      })) causeI = null;
    }
  }

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function x(t) { return LEFT + (t - t0) / (t1 - t0) * (width - LEFT - RIGHT); }
  function y(node) { return TOP + LANE * laneOf[node] + LANE / 2; }
  function secs(ns, digits) {
    if (digits === undefined) digits = ns < 1e10 ? 3 : 1;
    return (ns / 1e9).toFixed(digits) + " s";
  }
  function hover(e, text) { e.setAttribute("data-tip", text); }
  function visible(a, b) { return b >= t0 && a <= t1; }

  function legend() {
    var shownKeys = order.slice(0, 12).map(function (k) { return [k, keyColor[k]]; });
    if (keys.length > 12) shownKeys.push(["+" + (keys.length - 12) + " more kinds", "#999"]);
    var items = shownKeys.concat([["dropped (dashed, ✕)", colors.drop], ["held while paused (■)", colors.held],
      ["pause", "rgba(255,170,0,.35)"], ["down (crashed)", "rgba(40,40,40,.35)"],
      ["partition", bandColors.partition], ["links degraded", bandColors.degrade],
      ["links duplicating", bandColors.duplicate],
      ["protocol event", markColors.event], ["timer", markColors.timeout], ["violation", "#b00020"]]);
    // Built as nodes, not HTML: message values come from the run and may hold anything.
    var box = document.getElementById("legend");
    items.forEach(function (it) {
      var span = document.createElement("span"), swatch = document.createElement("i");
      swatch.style.background = it[1];
      span.appendChild(swatch);
      span.appendChild(document.createTextNode(it[0]));
      box.appendChild(span);
    });
    var v = model.violation;
    var s = model.nodes.length + " nodes, " + secs(model.end_ns) + " simulated, " + model.msgs.length +
      " messages drawn" + (model.gst_ns > 0 ? ", GST " + secs(model.gst_ns) : "") + ".";
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
    // Lane backgrounds first, then the bands over them (translucent), then everything else.
    // Arrows are clipped to the plot area (a nested viewport with the same coordinates):
    // one sent before the view starts is drawn from its left edge, not across the lane
    // names.
    var plotW = Math.max(1, width - LEFT - RIGHT);
    var bg = el("g", {}, svg), bandLayer = el("g", {}, svg), lanes = el("g", {}, svg),
      arrows = el("svg", { x: LEFT, y: 0, width: plotW, height: height, viewBox: LEFT + " 0 " + plotW + " " + height,
        overflow: "hidden" }, svg), top = el("g", {}, svg);
    model.nodes.forEach(function (n, k) {
      el("rect", { x: 0, y: TOP + LANE * k, width: width, height: LANE, fill: k % 2 ? "#f3f4f2" : "#fbfbfa" }, bg);
    });
    // Bands across every lane.
    model.bands.forEach(function (b) {
      if (!visible(b.from, b.to)) return;
      var r = el("rect", { x: x(Math.max(b.from, t0)), y: TOP, width: Math.max(1, x(Math.min(b.to, t1)) - x(Math.max(b.from, t0))),
        height: LANE * model.nodes.length, fill: bandColors[b.kind] || bandColors.degrade,
        "class": "band " + b.kind }, bandLayer);
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
    var shown = model.msgs.filter(function (m) { return visible(m.t, Math.max(m.at, m.handled || 0)); });
    var thin = shown.length > 4000;
    var labelled = [];
    shown.forEach(function (m) {
      if (laneOf[m.from] === undefined || laneOf[m.to] === undefined) return;
      var dropped = m.fate.indexOf("drop") === 0;
      var hit = flagI !== null && (m.di === flagI || m.si === flagI || (causeI !== null && m.di === causeI));
      var c = keyColor[keyOf(m)] || colors.delivered;
      var x1 = x(m.t), y1 = y(m.from), y2 = y(m.to);
      var x2 = dropped && m.at === m.t ? x1 + 10 : x(m.at);
      var yEnd = dropped && m.at === m.t ? y1 + (y2 - y1) * 0.3 : y2;
      var line = el("line", { x1: x1, y1: y1, x2: x2, y2: yEnd, stroke: hit ? "#b00020" : c,
        "stroke-width": hit ? 3 : thin ? 0.6 : 1.3, opacity: hit ? 1 : thin ? 0.5 : 0.85,
        "class": "msg " + (dropped ? "dropped" : m.fate) + (hit ? " violating" : ""), "data-i": m.si }, arrows);
      if (dropped) {
        line.setAttribute("stroke-dasharray", "3,2");
        el("path", { d: "M" + (x2 - 3) + "," + (yEnd - 3) + "l6,6m0,-6l-6,6", stroke: colors.drop, "stroke-width": 1.5 }, arrows);
      } else if (m.fate === "held") {
        el("rect", { x: x2 - 3, y: yEnd - 3, width: 6, height: 6, fill: colors.held }, arrows);
        if (m.handled) {
          // It waits in the paused node's inbox until the node resumes and handles it.
          el("line", { x1: Math.max(x2, LEFT), y1: yEnd, x2: Math.max(x(m.handled), LEFT), y2: yEnd, stroke: hit ? "#b00020" : colors.held,
            "stroke-width": hit ? 3 : 1.5, "stroke-dasharray": "1,3", "class": "held-wait" }, arrows);
        }
      } else if (!thin) {
        el("circle", { cx: x2, cy: yEnd, r: 2, fill: c }, arrows);
      }
      if (hit) {
        // Ring the end where the checker fired: the delivery, or the send.
        var sent = m.si === flagI;
        var rx = sent ? x1 : m.handled ? x(m.handled) : x2, ry = sent ? y1 : yEnd;
        el("circle", { cx: rx, cy: ry, r: 9, fill: "none", stroke: "#b00020", "stroke-width": 2.5, "class": "ring" }, top);
      }
      hover(line, textOf(m) + "  n" + m.from + " → n" + m.to + "  " + m.fate + "\nsent " + secs(m.t) +
        (dropped ? "" : ", arrives " + secs(m.at)) + " (event " + m.si + ")\n" + m.detail);
      // A label along the arrow where it is long enough, else beside its middle (a steep
      // arrow: delays short against the window), where clear of the labels drawn so far.
      var text = textOf(m), w = text.length * 6, len = Math.abs(x2 - x1), mx = (x1 + x2) / 2, my = (y1 + yEnd) / 2;
      var clear = function (lx0) {
        return lx0 >= LEFT && lx0 + w < width - RIGHT && !labelled.some(function (p) {
          return lx0 < p[1] && p[0] < lx0 + w && Math.abs(p[2] - my) < 11;
        });
      };
      var spots = len > w + 12 ? [mx - w / 2] : [mx + 4, mx - 4 - w];
      var spot = spots.filter(clear)[0];
      if (!thin && shown.length < 1500 && spot !== undefined) {
        var lt = el("text", { x: spot, y: my - 3, fill: c, "class": "msg-label" }, top);
        lt.textContent = text;
        labelled.push([spot, spot + w, my]);
      }
    });
    // Marks.
    var marks = model.marks.filter(function (k) { return k.t >= t0 && k.t <= t1 && laneOf[k.node] !== undefined; });
    var lastLabel = {};
    marks.forEach(function (k) {
      var cx = x(k.t), cy = y(k.node), c = markColors[k.kind] || "#444";
      var hit = flagI !== null && flagI === k.i;
      var e;
      if (k.kind === "timeout") {
        e = el("line", { x1: cx, x2: cx, y1: cy - 4, y2: cy + 4, stroke: c, "class": "mark timeout" }, top);
      } else if (k.kind === "crash" || k.kind === "restart" || k.kind === "torn") {
        e = el("rect", { x: cx - 4, y: cy - 9, width: 8, height: 18, fill: c, "class": "mark " + k.kind }, top);
      } else {
        e = el("circle", { cx: cx, cy: cy, r: hit ? 7 : 4, fill: c, stroke: hit ? "#b00020" : "#fff",
          "stroke-width": hit ? 3 : 1, "class": "mark " + k.kind + (hit ? " violating" : "") }, top);
        if (hit) el("circle", { cx: cx, cy: cy, r: 12, fill: "none", stroke: "#b00020", "stroke-width": 2.5, "class": "ring" }, top);
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
    // Enough decimals that neighbouring ticks never read the same.
    var digits = Math.max(0, Math.min(9, Math.ceil(-Math.log10(step / 1e9) - 1e-9)));
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      el("line", { x1: x(t), x2: x(t), y1: height - BOTTOM, y2: height - BOTTOM + 5, stroke: "#889" }, axis);
      var tx = el("text", { x: x(t) - 12, y: height - 8, "class": "tick" }, axis);
      tx.textContent = secs(t, digits);
    }
    drawCursor(top);
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
  // Step-through: every send, delivery and lane event in trace order; the cursor starts at
  // the violation. Each step shows what happened and every node's last events up to it.
  var steps = [];
  model.marks.forEach(function (k) { steps.push({ i: k.i, t: k.t, node: k.node, text: "n" + k.node + " " + k.kind + (k.label ? " " + k.label : ""), detail: k.detail, mark: k }); });
  model.msgs.forEach(function (m) {
    steps.push({ i: m.si, t: m.t, node: m.from, text: "n" + m.from + " sends " + textOf(m) + " to n" + m.to, detail: m.detail });
    if (m.di !== null && m.di !== undefined && m.di !== m.si)
      steps.push({ i: m.di, t: m.at, node: m.to, text: "n" + m.to + (m.fate === "delivered" || m.fate === "duplicate" || m.fate === "held" ? " receives " : " loses (" + m.fate + ") ") + textOf(m) + " from n" + m.from, detail: m.detail });
  });
  steps.sort(function (a, b) { return a.i - b.i || a.t - b.t; });
  var cursor = -1;
  function drawCursor(layer) {
    var s = steps[cursor];
    if (!s || s.t < t0 || s.t > t1) return;
    el("line", { x1: x(s.t), x2: x(s.t), y1: TOP, y2: height - BOTTOM, stroke: "#1d232a", "stroke-width": 1,
      "stroke-dasharray": "2,3", "class": "cursor" }, layer);
    el("circle", { cx: x(s.t), cy: y(s.node), r: 6, fill: "none", stroke: "#1d232a", "stroke-width": 2 }, layer);
  }
  function showStep() {
    var panel = document.getElementById("step"), s = steps[cursor];
    if (!panel || !s) return;
    var lines = ["step " + (cursor + 1) + " of " + steps.length + " — event " + s.i + " at " + secs(s.t, 6) + ": " + s.text, "  " + s.detail, ""];
    model.nodes.forEach(function (n) {
      var last = steps.slice(0, cursor + 1).filter(function (p) { return p.mark && p.node === n && p.mark.kind === "event"; }).slice(-2);
      lines.push("n" + n + ": " + (last.length ? last.map(function (p) { return p.mark.label + " @" + secs(p.t, 3); }).join(", ") : "no event yet"));
    });
    panel.textContent = lines.join("\n");
    if (s.t < t0 || s.t > t1) { var w = t1 - t0; t0 = Math.max(0, s.t - w / 2); t1 = t0 + w; }
    draw();
  }
  function move(by) { cursor = Math.max(0, Math.min(steps.length - 1, cursor + by)); showStep(); }
  var prev = document.getElementById("prev"), next = document.getElementById("next");
  if (prev) prev.addEventListener("click", function () { move(-1); });
  if (next) next.addEventListener("click", function () { move(1); });
  window.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowLeft" || ev.key === "p") move(-1);
    if (ev.key === "ArrowRight" || ev.key === "n") move(1);
  });

  // Open zoomed on the violation, if any: a window holding about the 80 sends, deliveries
  // and events nearest before it and 25 after, whatever the run's length.
  t1 = model.end_ns * 1.02 + 1;
  if (model.violation) {
    var vt = model.violation.t, times = [];
    model.msgs.forEach(function (m) { times.push(m.t); times.push(m.at); });
    model.marks.forEach(function (k) { times.push(k.t); });
    var before = times.filter(function (t) { return t <= vt; }).sort(function (a, b) { return b - a; });
    var after = times.filter(function (t) { return t > vt; }).sort(function (a, b) { return a - b; });
    var from = before.length ? before[Math.min(before.length - 1, 80)] : 0;
    var to = after.length ? after[Math.min(after.length - 1, 25)] : vt;
    var pad = Math.max((to - from) * 0.08, 1e5);
    t0 = Math.max(0, from - pad); t1 = Math.min(model.end_ns * 1.02 + 1, Math.max(to, vt) + pad);
    var k = 0;
    while (k < steps.length && steps[k].i <= flagI) k++;
    cursor = Math.max(0, k - 1);
  }
  legend();
  draw();
  if (cursor >= 0) showStep();
  document.body.setAttribute("data-ready", "1");
})();
