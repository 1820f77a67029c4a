/* henchman Web UI: relative times, confirmations, bulk selection, SVG charts, live dashboard.
 * One file, no dependencies, no inline scripts (the CSP allows only this file). Chart data comes
 * from <script type="application/json"> blocks, which the browser never executes. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var charts = [];

  function svg(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(name, className, parent, text) {
    var node = document.createElement(name);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  /* ---- numbers and times ---------------------------------------------------------------- */

  function formatNumber(value) {
    if (typeof value !== "number" || !isFinite(value)) return "-";
    var digits = Math.abs(value) < 10 && value % 1 !== 0 ? 2 : (value % 1 !== 0 ? 1 : 0);
    return value.toLocaleString(undefined, { maximumFractionDigits: digits });
  }

  function span(seconds) {
    if (seconds < 60) return Math.round(seconds) + " s";
    var parts = [];
    var rest = Math.floor(seconds);
    [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]].forEach(function (unit) {
      if (parts.length < 2 && rest >= unit[0]) {
        parts.push(Math.floor(rest / unit[0]) + " " + unit[1]);
        rest = rest % unit[0];
      }
    });
    return parts.join(" ");
  }

  function relative(deltaMs) {
    var seconds = Math.abs(deltaMs) / 1000;
    if (seconds < 1) return "just now";
    return deltaMs > 0 ? "in " + span(seconds) : span(seconds) + " ago";
  }

  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time[data-rel]").forEach(function (node) {
      var when = Date.parse(node.getAttribute("datetime"));
      if (isNaN(when)) return;
      node.textContent = relative(when - now);
      if (!node.hasAttribute("data-local")) {
        node.setAttribute("data-local", "");
        node.title = node.title + " · " + new Date(when).toLocaleString() + " local";
      }
    });
  }

  function formatX(value, kind) {
    var date = new Date(value * 1000);
    if (kind === "date") {
      return date.toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
    }
    return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }

  /* ---- confirmations and bulk selection ------------------------------------------------- */

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  function setUpBulk(form) {
    var all = form.querySelector("[data-select-all]");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=key]"));
    var count = form.querySelector("[data-selected-count]");
    var buttons = form.querySelectorAll("[data-needs-selection]");
    function update() {
      var selected = boxes.filter(function (box) { return box.checked; }).length;
      if (count) count.textContent = selected + " selected";
      buttons.forEach(function (button) { button.disabled = selected === 0; });
      if (all) {
        all.checked = selected > 0 && selected === boxes.length;
        all.indeterminate = selected > 0 && selected < boxes.length;
      }
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  }

  /* ---- charts ----------------------------------------------------------------------------- */

  function scale(max) {
    if (!(max > 0)) return { top: 4, step: 1 };
    var raw = max / 4;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * power; })
      .filter(function (candidate) { return candidate >= raw; })[0];
    return { top: step * Math.ceil(max / step - 1e-9), step: step };
  }

  function frame(box, data) {
    box.textContent = "";
    var width = Math.max(box.clientWidth || 600, 240);
    var height = parseInt(box.getAttribute("data-height"), 10) || 220;
    var max = 0;
    data.series.forEach(function (s) {
      s.values.forEach(function (v) { if (v > max) max = v; });
    });
    var y = scale(max);
    var labels = [];
    for (var tick = 0; tick <= y.top + 1e-9; tick += y.step) labels.push(formatNumber(tick));
    var widest = Math.max.apply(null, labels.map(function (text) { return text.length; }));
    var pad = { left: 14 + 7 * widest, right: 12, top: 10, bottom: 26 };
    var root = svg("svg", { viewBox: "0 0 " + width + " " + height, height: height }, box);
    var plot = { x: pad.left, y: pad.top, w: width - pad.left - pad.right, h: height - pad.top - pad.bottom };
    var grid = svg("g", { "class": "grid" }, root);
    var axis = svg("g", { "class": "axis" }, root);
    labels.forEach(function (text, i) {
      var at = plot.y + plot.h - (plot.h * i * y.step) / y.top;
      svg("line", { x1: plot.x, x2: plot.x + plot.w, y1: at, y2: at }, grid);
      svg("text", { x: plot.x - 6, y: at + 4, "text-anchor": "end" }, axis).textContent = text;
    });
    return { root: root, plot: plot, axis: axis, top: y.top, width: width, height: height };
  }

  function legend(box, data) {
    if (data.series.length < 2 && !data.unit) return;
    var row = html("div", "legend", box);
    data.series.forEach(function (s, index) {
      var item = html("span", "", row);
      html("span", "swatch s" + (index % 6), item);
      item.appendChild(document.createTextNode(s.name + (data.unit ? " (" + data.unit + ")" : "")));
    });
  }

  function tooltip(box, f, count, xOf, describe) {
    var tip = html("div", "tip", box);
    tip.hidden = true;
    var cursor = svg("line", { "class": "cursor", y1: f.plot.y, y2: f.plot.y + f.plot.h, visibility: "hidden" }, f.root);
    var hit = svg("rect", { x: f.plot.x, y: f.plot.y, width: f.plot.w, height: f.plot.h, fill: "transparent" }, f.root);
    function move(event) {
      var bounds = f.root.getBoundingClientRect();
      var x = ((event.clientX - bounds.left) / bounds.width) * f.width;
      var index = 0;
      var best = Infinity;
      for (var i = 0; i < count; i++) {
        var d = Math.abs(xOf(i) - x);
        if (d < best) { best = d; index = i; }
      }
      cursor.setAttribute("x1", xOf(index));
      cursor.setAttribute("x2", xOf(index));
      cursor.setAttribute("visibility", "visible");
      tip.textContent = "";
      describe(index, tip);
      tip.hidden = false;
      var left = (xOf(index) / f.width) * bounds.width + 12;
      if (left + tip.offsetWidth > bounds.width) left = left - tip.offsetWidth - 24;
      tip.style.left = Math.max(left, 0) + "px";
      tip.style.top = "4px";
    }
    hit.addEventListener("mousemove", move);
    hit.addEventListener("mouseleave", function () {
      tip.hidden = true;
      cursor.setAttribute("visibility", "hidden");
    });
  }

  function describeRow(tip, title, data, index) {
    html("div", "strong", tip, title);
    data.series.forEach(function (s, n) {
      var line = html("div", "", tip);
      html("span", "swatch s" + (n % 6), line);
      line.appendChild(document.createTextNode(s.name + ": " + formatNumber(s.values[index]) + (data.unit ? " " + data.unit : "")));
    });
  }

  function drawLine(box, data) {
    var f = frame(box, data);
    var count = data.x.length;
    var xOf = function (i) { return f.plot.x + (count > 1 ? (f.plot.w * i) / (count - 1) : f.plot.w / 2); };
    var yOf = function (v) { return f.plot.y + f.plot.h - (f.plot.h * v) / f.top; };
    var every = Math.max(1, Math.ceil(count / Math.max(2, Math.floor(f.plot.w / 90))));
    for (var i = 0; i < count; i += every) {
      var label = svg("text", { x: xOf(i), y: f.height - 6, "text-anchor": "middle" }, f.axis);
      label.textContent = formatX(data.x[i], data.xformat);
    }
    (data.marks || []).forEach(function (mark) {
      if (!count || mark[0] < data.x[0]) return;
      var step = count > 1 ? data.x[1] - data.x[0] : 60;
      var at = f.plot.x + (f.plot.w * (mark[0] - data.x[0])) / Math.max(step * (count - 1), 1);
      var group = svg("g", { "class": "mark" }, f.root);
      svg("line", { x1: at, x2: at, y1: f.plot.y, y2: f.plot.y + f.plot.h }, group);
      svg("text", { x: at + 3, y: f.plot.y + 10 }, group).textContent = mark[1];
    });
    data.series.forEach(function (s, n) {
      if (!count) return;
      var points = s.values.map(function (v, i) { return xOf(i).toFixed(1) + "," + yOf(v).toFixed(1); });
      var cls = "s" + (n % 6);
      if (n === 0) {
        svg("path", { "class": "area " + cls, d: "M" + xOf(0) + "," + yOf(0) + " L" + points.join(" L") + " L" + xOf(count - 1) + "," + yOf(0) + " Z" }, f.root);
      }
      svg("path", { "class": "series " + cls, d: "M" + points.join(" L") }, f.root);
    });
    if (count) {
      tooltip(box, f, count, xOf, function (index, tip) {
        describeRow(tip, formatX(data.x[index], data.xformat === "date" ? "date" : "time"), data, index);
      });
    }
    legend(box, data);
  }

  function drawBars(box, data) {
    var f = frame(box, data);
    var count = data.labels.length;
    var slot = f.plot.w / Math.max(count, 1);
    var xOf = function (i) { return f.plot.x + slot * i + slot / 2; };
    var every = Math.max(1, Math.ceil(count / Math.max(2, Math.floor(f.plot.w / 48))));
    data.labels.forEach(function (text, i) {
      if (i % every === 0) {
        svg("text", { x: xOf(i), y: f.height - 6, "text-anchor": "middle" }, f.axis).textContent = text;
      }
    });
    data.series[0].values.forEach(function (v, i) {
      var h = (f.plot.h * v) / f.top;
      svg("rect", { "class": "bar s0", x: xOf(i) - slot * 0.36, width: slot * 0.72, y: f.plot.y + f.plot.h - h, height: Math.max(h, v > 0 ? 1 : 0), rx: 2 }, f.root);
    });
    tooltip(box, f, count, xOf, function (index, tip) {
      describeRow(tip, "under " + data.labels[index], data, index);
    });
  }

  function draw(box, data) {
    if (data.kind === "bar") drawBars(box, data); else drawLine(box, data);
  }

  function setUpChart(box) {
    var source = document.getElementById(box.getAttribute("data-chart"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    charts.push({ box: box, data: data });
    draw(box, data);
  }

  /* ---- live dashboard -------------------------------------------------------------------- */

  function setUpLive(box) {
    var url = box.getAttribute("data-stats-url");
    var interval = Math.max(parseFloat(box.getAttribute("data-interval")) || 5, 1) * 1000;
    var keep = 60;
    var data = { kind: "line", x: [], xformat: "time", series: [{ name: "Processed", values: [] }, { name: "Failed", values: [] }] };
    var last = null;
    var timer = null;
    var dot = document.getElementById("live-dot");
    var status = document.getElementById("live-status");
    var toggle = document.getElementById("live-toggle");
    var statusText = status ? status.textContent : "";
    charts.push({ box: box, data: data });

    function show(state, text) {
      if (dot) dot.className = "live-dot" + (state ? " " + state : "");
      if (status) status.textContent = text;
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (stats) {
          var numbers = stats.henchman;
          Object.keys(numbers).forEach(function (key) {
            var node = document.querySelector("[data-stat=" + key + "]");
            if (node) node.textContent = formatNumber(numbers[key]);
          });
          if (last) {
            data.x.push(stats.time);
            data.series[0].values.push(Math.max(numbers.processed - last.processed, 0));
            data.series[1].values.push(Math.max(numbers.failed - last.failed, 0));
            if (data.x.length > keep) {
              data.x.shift();
              data.series.forEach(function (s) { s.values.shift(); });
            }
            draw(box, data);
          }
          last = numbers;
          show("", statusText);
        })
        .catch(function (error) { show("error", "Disconnected (" + error.message + ")"); });
    }

    function start() {
      poll();
      timer = window.setInterval(poll, interval);
      if (toggle) toggle.textContent = "Pause";
      show("", statusText);
    }

    function stop() {
      window.clearInterval(timer);
      timer = null;
      if (toggle) toggle.textContent = "Resume";
      show("paused", "Paused");
    }

    if (toggle) toggle.addEventListener("click", function () { if (timer) stop(); else start(); });
    draw(box, data);
    start();
  }

  /* ---- start ----------------------------------------------------------------------------- */

  function start() {
    refreshTimes();
    window.setInterval(refreshTimes, 15000);
    document.querySelectorAll("form[data-bulk]").forEach(setUpBulk);
    document.querySelectorAll("[data-chart]").forEach(setUpChart);
    document.querySelectorAll("[data-chart-live]").forEach(setUpLive);
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(function () {
        charts.forEach(function (chart) { draw(chart.box, chart.data); });
      }, 150);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
