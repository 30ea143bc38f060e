// lumos dashboard: helpers every page uses. Data is always inserted as text
// (never as HTML), so a task name or a log line cannot inject markup.
"use strict";
const L = {};

L.el = function (tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
};

L.api = async function (path) {
  const r = await fetch(path, {credentials: "same-origin", headers: {"Accept": "application/json"}});
  const body = await r.json().catch(() => ({error: "not JSON (HTTP " + r.status + ")"}));
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
};

L.bytes = function (n) {
  if (n === null || n === undefined) return "–";
  const units = [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]];
  for (const [u, s] of units) if (n >= s) return (n / s).toFixed(2) + " " + u;
  return n + " B";
};
L.num = (v) => (v === null || v === undefined) ? "–" : (Math.round(v * 100) / 100).toString();
L.short = (id) => id ? id.slice(0, 12) : "–";
L.time = (ms) => ms ? new Date(ms).toLocaleTimeString() : "–";
L.dur = function (a, b) {
  if (!a) return "–";
  const s = ((b || Date.now()) - a) / 1000;
  return s < 1 ? (s * 1000).toFixed(0) + " ms" : s < 120 ? s.toFixed(2) + " s" : (s / 60).toFixed(1) + " min";
};
L.state = (s) => L.el("span", {class: "state " + (s || "")}, s || "–");
L.param = (name) => new URLSearchParams(location.search).get(name);

// A table: columns are [header, row => cell (text or Node), "num" for right-aligned].
L.table = function (columns, rows, empty) {
  if (!rows.length) return L.el("p", {class: "muted"}, empty || "Nothing to show.");
  return L.el("table", {},
    L.el("thead", {}, L.el("tr", {}, columns.map(([h, , cls]) => L.el("th", {class: cls}, h)))),
    L.el("tbody", {}, rows.map((r) => L.el("tr", {}, columns.map(([, f, cls]) => L.el("td", {class: cls}, f(r)))))));
};

L.bar = function (used, total) {
  const pct = total ? Math.min(100, 100 * used / total) : 0;
  const span = L.el("span", {});
  span.style.width = pct.toFixed(1) + "%";
  return L.el("div", {class: "bar"}, span);
};

L.card = (label, value, used, total) =>
  L.el("div", {class: "card"}, L.el("div", {class: "v"}, value), L.el("div", {class: "k"}, label),
       total !== undefined ? L.bar(used, total) : null);

L.show = function (node) {
  const c = document.getElementById("content");
  c.replaceChildren(...[].concat(node));
};
L.fail = (e) => L.show(L.el("p", {class: "err"}, "Could not load: " + e.message));

// Runs render() now and again on every tick of /api/events (at most one
// run at a time and one a second), so a page stays live.
L.live = function (render, minGapMs) {
  let running = false, last = 0, pending = false;
  const run = async () => {
    if (running) { pending = true; return; }
    running = true; last = Date.now();
    try { await render(); } catch (e) { L.fail(e); }
    running = false;
    if (pending) { pending = false; setTimeout(run, minGapMs || 1000); }
  };
  run();
  const es = new EventSource("/api/events");
  const dot = document.getElementById("live");
  es.addEventListener("tick", () => {
    if (dot) dot.className = "on";
    if (Date.now() - last >= (minGapMs || 1000)) run();
  });
  es.onerror = () => { if (dot) dot.className = ""; };
  return run;
};
