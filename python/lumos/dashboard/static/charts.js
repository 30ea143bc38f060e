"use strict";
// Charts of the dashboard's own metrics history (/api/timeseries): no Prometheus needed.
const GROUPS = [
  ["CPU", ["cpu_used", "cpu_total"], L.num],
  ["Object store", ["store_used", "store_capacity", "spilled_bytes"], L.bytes],
  ["Tasks in flight", ["tasks_running", "tasks_pending"], L.num],
  ["Task attempts kept", ["tasks_finished", "tasks_failed"], L.num],
  ["Actors and nodes", ["actors_alive", "nodes_alive"], L.num],
  ["Memory reserved", ["memory_used", "memory_total"], L.bytes],
];
const PALETTE = ["#2f6fde", "#9aa5b8", "#d9822b", "#1a7f37", "#c62828", "#7c3aed"];
const NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs) { const e = document.createElementNS(NS, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; }
function chart(title, names, samples, fmt) {
  const W = 400, H = 150, t0 = samples[0][0], t1 = samples[samples.length - 1][0] || t0 + 1;
  let max = 0;
  for (const [, v] of samples) for (const n of names) max = Math.max(max, v[n] || 0);
  max = max || 1;
  const root = svg("svg", {viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none"});
  names.forEach((n, i) => {
    const pts = samples.map(([t, v]) => ((t - t0) / Math.max(1, t1 - t0) * (W - 4) + 2).toFixed(1) + "," +
      (H - 4 - (v[n] || 0) / max * (H - 14)).toFixed(1)).join(" ");
    root.appendChild(svg("polyline", {points: pts, fill: "none", stroke: PALETTE[i % PALETTE.length], "stroke-width": 1.6}));
  });
  const latest = samples[samples.length - 1][1];
  return L.el("div", {class: "chart"}, L.el("h3", {}, title + " (max " + fmt(max) + ")"), root,
    L.el("div", {class: "legend"}, names.map((n, i) => {
      const sw = L.el("i", {}); sw.style.background = PALETTE[i % PALETTE.length];
      return L.el("span", {}, sw, n + ": " + fmt(latest[n] || 0));
    })));
}
L.live(async () => {
  const ts = await L.api("/api/timeseries");
  if (ts.samples.length < 2) {
    L.show(L.el("p", {class: "muted"}, "Collecting: a sample every " + ts.interval_s + " s; charts appear after two."));
    return;
  }
  const groups = GROUPS.concat(ts.series.filter((s) => s.startsWith("app:")).map((s) => [s.slice(4), [s], L.num]));
  L.show([L.el("p", {class: "muted"}, ts.samples.length + " samples, one every " + ts.interval_s + " s (last " +
    Math.round(ts.capacity * ts.interval_s / 60) + " min kept). Prometheus text: ", L.el("a", {href: "/metrics"}, "/metrics")),
    L.el("div", {class: "charts"}, groups.map(([t, names, fmt]) => chart(t, names, ts.samples, fmt)))]);
}, 2000);
