/* Charts for the ops pages (Chart.js, vendored). Each <canvas data-chart="KIND" data-source="ID"> reads its
 * data from the JSON <script id="ID"> the server rendered next to it. */
(function () {
  "use strict";
  var COLORS = ["#1f5fa8", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490", "#a16207", "#be185d"];
  var charts = {};

  function ms(value) { return value ? Date.parse(value) : null; }
  function dayText(value) {
    return new Date(value).toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }
  function timeAxis(title) {
    return { type: "linear", title: { display: true, text: title }, ticks: { callback: dayText, maxTicksLimit: 6 } };
  }

  function etaChart(canvas, data) {
    var h = data.history.filter(function (p) { return p.p50; });
    var xs = h.map(function (p) { return ms(p.at); });
    var first = Math.min.apply(null, xs), last = Math.max.apply(null, xs.concat([Date.now()]));
    if (data.delivered_at) last = Math.max(first, Math.min(last, ms(data.delivered_at)));
    var flat = function (v) { return [{ x: first, y: v }, { x: last, y: v }]; };
    // Each prediction holds until the next one: steps after each point, the latest held until now.
    var series = function (key) {
      var points = h.map(function (p) { return { x: ms(p.at), y: ms(p[key]) }; });
      if (points.length) points.push({ x: last, y: points[points.length - 1].y });
      return points;
    };
    var sets = [
      { label: "Window start", data: series("start"), borderColor: COLORS[0],
        backgroundColor: "rgba(31,95,168,0.15)", stepped: "after", pointRadius: 2 },
      { label: "Window end", data: series("end"), borderColor: COLORS[0],
        backgroundColor: "rgba(31,95,168,0.15)", fill: "-1", stepped: "after", pointRadius: 2 },
      { label: "Most likely", data: series("p50"), borderColor: COLORS[2], borderDash: [6, 4],
        stepped: "after", pointRadius: 3 }
    ];
    if (data.promised_at) sets.push({ label: "Promise", data: flat(ms(data.promised_at)), borderColor: COLORS[4], pointRadius: 0, borderWidth: 2 });
    if (data.delivered_at) sets.push({ label: "Delivered", data: flat(ms(data.delivered_at)), borderColor: COLORS[3], borderDash: [2, 3], pointRadius: 0 });
    return new Chart(canvas, {
      type: "line",
      data: { datasets: sets },
      options: {
        maintainAspectRatio: false, animation: false, parsing: false,
        scales: { x: timeAxis("Prediction made"), y: timeAxis("Predicted delivery") },
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + dayText(c.parsed.y); } } } }
      }
    });
  }

  function weeklyChart(canvas, data, metric) {
    var top = Number(canvas.dataset.top || 0);
    var keys = Object.keys(data).sort(function (a, b) {
      var n = function (k) { return data[k].reduce(function (s, w) { return s + w.n; }, 0); };
      return n(b) - n(a);
    });
    if (top) keys = keys.slice(0, top);
    var sets = keys.map(function (k, i) {
      return { label: k, borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length], pointRadius: 2,
               data: data[k].map(function (w) { return { x: Date.parse(w.week), y: w[metric] }; }) };
    });
    var rate = metric !== "mae_hours";
    return new Chart(canvas, {
      type: "line", data: { datasets: sets },
      options: {
        maintainAspectRatio: false, animation: false, parsing: false, spanGaps: true,
        scales: {
          x: { type: "linear", title: { display: true, text: "Week of delivery" },
               ticks: { maxTicksLimit: 8, callback: function (v) { return new Date(v).toLocaleDateString(undefined, { day: "numeric", month: "short" }); } } },
          y: rate ? { min: 0, max: 1, ticks: { callback: function (v) { return Math.round(v * 100) + "%"; } } }
                  : { min: 0, title: { display: true, text: "hours" } }
        }
      }
    });
  }

  function reliabilityChart(canvas, data) {
    var points = function (curve) {
      return curve.filter(function (b) { return b.count; }).map(function (b) { return { x: b.mean_predicted, y: b.observed_rate }; });
    };
    return new Chart(canvas, {
      type: "scatter",
      data: { datasets: [
        { label: "Test window", data: points(data.test), borderColor: COLORS[0], backgroundColor: COLORS[0], showLine: true },
        { label: "Live (this service)", data: points(data.live), borderColor: COLORS[1], backgroundColor: COLORS[1], showLine: true },
        { label: "Perfect calibration", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: "#6b7280", borderDash: [4, 4], pointRadius: 0, showLine: true }
      ] },
      options: {
        maintainAspectRatio: false, animation: false,
        scales: { x: { min: 0, max: 1, title: { display: true, text: "Predicted late risk" } },
                  y: { min: 0, max: 1, title: { display: true, text: "Observed late rate" } } }
      }
    });
  }

  function draw(canvas, metric) {
    var data = JSON.parse(document.getElementById(canvas.dataset.source).textContent);
    if (charts[canvas.id]) charts[canvas.id].destroy();
    var kind = canvas.dataset.chart;
    charts[canvas.id] = kind === "eta" ? etaChart(canvas, data)
      : kind === "weekly" ? weeklyChart(canvas, data, metric || "on_time_rate")
      : reliabilityChart(canvas, data);
    canvas.dataset.drawn = "true";
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (c) { draw(c); });
  document.querySelectorAll("select[data-metric-for]").forEach(function (select) {
    select.addEventListener("change", function () {
      select.dataset.metricFor.split(" ").forEach(function (id) { draw(document.getElementById(id), select.value); });
    });
  });
})();
