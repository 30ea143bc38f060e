"use strict";
const WHICH = ["node_id", "filename", "actor_id", "task_id", "pid", "suffix"];
const target = new URLSearchParams();
for (const k of WHICH) if (L.param(k)) target.set(k, L.param(k));
const MAX_CHARS = 2000000;

function tail() {
  const what = target.get("filename") || (target.get("actor_id") ? "actor " + target.get("actor_id") :
    target.get("task_id") ? "task " + target.get("task_id") : "worker pid " + target.get("pid"));
  const suffix = target.get("suffix") || "out";
  const other = new URLSearchParams(target); other.set("suffix", suffix === "out" ? "err" : "out");
  const pre = L.el("pre", {id: "log"}, "");
  const status = L.el("p", {class: "muted"}, "Following " + what + " (" + suffix + ") … ",
    target.get("filename") ? null : L.el("a", {href: "?" + other}, "show " + (suffix === "out" ? "stderr" : "stdout")));
  L.show([status, pre]);
  const es = new EventSource("/api/logs/stream?" + target + "&tail=500");
  es.addEventListener("log", (e) => {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    let text = pre.textContent + JSON.parse(e.data);
    if (text.length > MAX_CHARS) text = text.slice(text.length - MAX_CHARS);
    pre.textContent = text;
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  });
  es.addEventListener("failed", (e) => { status.textContent = "Stopped: " + JSON.parse(e.data); es.close(); });
  es.onerror = async () => {
    es.close();
    // The stream answers JSON errors (a name that does not exist) before it starts.
    try { await L.api("/api/logs/file?" + target + "&tail=1"); status.textContent = "Disconnected."; }
    catch (err) { status.textContent = "Could not follow: " + err.message; status.className = "err"; }
  };
}

async function browse() {
  const nodes = (await L.api("/api/nodes")).nodes.filter((n) => n.state === "ALIVE");
  const nodeId = L.param("node_id") || (nodes.find((n) => n.is_head_node) || nodes[0] || {}).node_id;
  const pick = L.el("select", {onchange: (e) => { location.search = "?node_id=" + e.target.value; }},
    nodes.map((n) => L.el("option", {value: n.node_id}, n.node_ip + " " + L.short(n.node_id) + (n.is_head_node ? " (head)" : ""))));
  pick.value = nodeId;
  const listing = await L.api("/api/logs?node_id=" + nodeId);
  const parts = [L.el("form", {class: "filters"}, "Node ", pick)];
  for (const [category, names] of Object.entries(listing.files)) {
    if (!names.length) continue;
    parts.push(L.el("h2", {}, category), L.el("div", {class: "files"}, names.map((n) =>
      L.el("a", {href: "?node_id=" + nodeId + "&filename=" + encodeURIComponent(n)}, n))));
  }
  L.show(parts);
}

if (target.get("filename") || target.get("actor_id") || target.get("task_id") || target.get("pid")) tail();
else browse().catch(L.fail);
