"use strict";
// A Dask-style task stream: one lane per worker process, a bar per task
// attempt over the last minutes, coloured by function.
const LANE = 16, LEFT = 150;
const windowSel = L.el("select", {}, [60, 120, 300, 600].map((s) => L.el("option", {value: s}, (s / 60) + " min")));
windowSel.value = L.param("window") || "120";
const canvas = L.el("canvas", {id: "stream"});
const info = L.el("p", {class: "muted", id: "stream-info"}, "Point at a bar to see its task.");
const legend = L.el("div", {class: "legend"});
let last = null;
const colors = {};
function color(name) {
  if (!colors[name]) {
    let h = 0;
    for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    colors[name] = "hsl(" + Math.round((h % 997) * 137.508 % 360) + ",62%,52%)";
  }
  return colors[name];
}
function draw(d) {
  const w = canvas.clientWidth || 900, h = Math.max(60, d.workers.length * LANE + 24);
  canvas.width = w; canvas.height = h;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, w, h);
  const span = d.now_us - d.since_us, sx = (t) => LEFT + (w - LEFT - 8) * (t - d.since_us) / span;
  g.font = "11px sans-serif"; g.fillStyle = "#556";
  d.workers.forEach((wk, i) => g.fillText("pid " + wk.pid + " @" + wk.node_id.slice(0, 6), 4, i * LANE + 12));
  for (const s of d.spans) {
    g.fillStyle = s.state === "FAILED" ? "#c62828" : color(s.name);
    g.fillRect(sx(s.start_us), s.lane * LANE + 2, Math.max(1, sx(s.end_us) - sx(s.start_us)), LANE - 4);
  }
  g.fillStyle = "#889";
  for (let k = 0; k <= 4; k++) {
    const t = d.since_us + span * k / 4;
    g.fillText("-" + Math.round((d.now_us - t) / 1e6) + " s", sx(t) - (k === 4 ? 24 : 0), h - 6);
  }
  legend.replaceChildren(...[...new Set(d.spans.map((s) => s.name))].slice(0, 30).map((n) => {
    const i = L.el("i", {}); i.style.background = color(n); return L.el("span", {}, i, n);
  }));
}
canvas.addEventListener("mousemove", (e) => {
  if (!last) return;
  const r = canvas.getBoundingClientRect(), x = e.clientX - r.left, lane = Math.floor((e.clientY - r.top) / LANE);
  const span = last.now_us - last.since_us, t = last.since_us + (x - LEFT) * span / ((canvas.clientWidth || 900) - LEFT - 8);
  const s = last.spans.find((s) => s.lane === lane && s.start_us <= t && t <= s.end_us);
  info.textContent = s ? s.name + " · task " + s.task_id + " · attempt " + s.attempt + " · " + s.state + " · " +
    ((s.end_us - s.start_us) / 1000).toFixed(1) + " ms" : "Point at a bar to see its task.";
});
windowSel.addEventListener("change", () => refresh());
L.show([L.el("form", {class: "filters"}, "Window ", windowSel), canvas, info, legend]);
const refresh = L.live(async () => {
  last = await L.api("/api/task_stream?window=" + windowSel.value);
  if (!document.getElementById("stream")) L.show([L.el("form", {class: "filters"}, "Window ", windowSel), canvas, info, legend]);
  draw(last);
  info.dataset.spans = String(last.spans.length);
  if (last.scope !== "all") info.textContent = "Many attempts are kept: drawn are the " + last.scope + " attempts" +
    (last.scope === "running" ? "" : " and the running ones") + ".";
});
