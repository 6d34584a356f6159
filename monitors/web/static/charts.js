/* Charts drawn from the JSON data blocks the pages carry (no inline script: the CSP forbids it).
   Every chart has a table beside it; without ECharts (or JavaScript) the tables are the page. */
(function () {
  "use strict";
  if (typeof window.echarts === "undefined") { return; }
  var COLORS = { "cell-ok": "#7cc68a", "cell-short": "#f2b23e", "cell-fail": "#d9534f", "cell-open": "#c8cdd5",
                 "cell-none": "#ffffff" };

  function data(id) {
    var node = document.getElementById(id);
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function mount(node) {
    node.classList.add("ready");
    var chart = window.echarts.init(node);
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }

  function heatmap() {
    var d = data("heatmap-data"), node = document.getElementById("heatmap-chart");
    if (!d || !node || !d.units.length) { return; }
    node.style.height = Math.max(240, d.units.length * 22 + 80) + "px";
    var chart = mount(node);
    chart.setOption({
      tooltip: { formatter: function (p) {
        return d.units[p.value[1]] + " " + d.months[p.value[0]] + "：" + p.value[2] + " 条（考核 " + d.quota + " 条）";
      } },
      grid: { left: 10, right: 20, top: 30, bottom: 20, containLabel: true },
      xAxis: { type: "category", data: d.months, position: "top", splitArea: { show: true } },
      yAxis: { type: "category", data: d.units, inverse: true, splitArea: { show: true } },
      series: [{ type: "heatmap", label: { show: true },
        data: d.cells.map(function (c) {
          return { value: [c[0], c[1], c[2]], itemStyle: { color: COLORS[c[3]] || "#fff" } };
        }) }]
    });
    chart.on("click", function (p) {
      var row = document.querySelector('#heatmap-table tr.unit-row:nth-child(' + (p.value[1] + 1) + ') a');
      if (row) { window.location.href = row.getAttribute("href"); }
    });
  }

  function columnBars() {
    var d = data("column-data"), node = document.getElementById("column-chart");
    if (!d || !node) { return; }
    mount(node).setOption({
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 20, top: 20, bottom: 30 },
      xAxis: { type: "category", data: d.months },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: d.posts, itemStyle: { color: "#1d4f91" }, label: { show: true, position: "top" } }]
    });
  }

  function latency() {
    var d = data("latency-data");
    if (!d) { return; }
    var nodes = document.querySelectorAll(".latency-chart");
    Array.prototype.forEach.call(nodes, function (node) {
      var site = d.sites[Number(node.getAttribute("data-index"))];
      if (!site || !site.points.length) { return; }
      mount(node).setOption({
        title: { text: "响应时间（毫秒）", textStyle: { fontSize: 13 } },
        tooltip: { trigger: "axis" },
        grid: { left: 50, right: 20, top: 40, bottom: 30 },
        xAxis: { type: "time" },
        yAxis: { type: "value" },
        series: [{ type: "line", showSymbol: false, data: site.points, connectNulls: false,
                   lineStyle: { color: "#1d4f91" } }]
      });
    });
  }

  function start() { heatmap(); columnBars(); latency(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
