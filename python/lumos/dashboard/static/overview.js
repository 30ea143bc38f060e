"use strict";
L.live(async () => {
  const o = await L.api("/api/overview");
  const r = o.resources, cpu = r.CPU || {used: 0, total: 0}, mem = r.memory || {used: 0, total: 0};
  const cards = L.el("div", {class: "cards"},
    L.card("nodes alive" + (o.num_nodes_dead ? " (" + o.num_nodes_dead + " dead)" : ""), o.num_nodes_alive),
    L.card("CPU used / total", L.num(cpu.used) + " / " + L.num(cpu.total), cpu.used, cpu.total),
    r.GPU ? L.card("GPU used / total", L.num(r.GPU.used) + " / " + L.num(r.GPU.total), r.GPU.used, r.GPU.total) : null,
    L.card("memory reserved / total", L.bytes(mem.used) + " / " + L.bytes(mem.total), mem.used, mem.total),
    L.card("object store used / capacity", L.bytes(o.store.used) + " / " + L.bytes(o.store.capacity),
           o.store.used, o.store.capacity),
    L.card("spilled (" + o.store.num_spilled + " objects)", L.bytes(o.store.spilled_bytes)),
    L.card("tasks running / finished / failed",
           (o.tasks.RUNNING || 0) + " / " + (o.tasks.FINISHED || 0) + " / " + (o.tasks.FAILED || 0)),
    L.card("actors alive", o.actors.ALIVE || 0));
  const res = L.table([["resource", (k) => k], ["used", (k) => L.num(r[k].used), "num"],
                       ["total", (k) => L.num(r[k].total), "num"], ["", (k) => L.bar(r[k].used, r[k].total)]],
                      Object.keys(r));
  const nodes = L.table([
    ["node", (n) => L.el("code", {}, L.short(n.node_id))], ["ip", (n) => n.node_ip],
    ["head", (n) => n.is_head_node ? "yes" : ""], ["state", (n) => L.state(n.state)],
    ["CPU", (n) => L.num((n.resources_used || {}).CPU) + " / " + L.num(n.resources_total.CPU), "num"],
    ["store", (n) => n.store ? L.bytes(n.store.used) + " / " + L.bytes(n.store.capacity) : "–", "num"],
    ["spilled", (n) => n.store ? L.bytes(n.store.spilled_bytes) : "–", "num"],
    ["workers", (n) => n.workers ? n.workers.length : "–", "num"],
    ["logs", (n) => n.state === "ALIVE" ? L.el("a", {href: "/logs?node_id=" + n.node_id}, "logs") : ""],
  ], o.nodes);
  L.show([cards, L.el("h2", {}, "Resources"), res, L.el("h2", {}, "Nodes"), nodes]);
});
