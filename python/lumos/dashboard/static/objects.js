"use strict";
L.live(async () => {
  const o = await L.api("/api/objects?limit=500");
  const stores = L.table([
    ["node", (s) => L.el("code", {}, L.short(s.node_id))], ["ip", (s) => s.node_ip],
    ["used / capacity", (s) => s.store ? L.bytes(s.store.used) + " / " + L.bytes(s.store.capacity) : "–", "num"],
    ["", (s) => s.store ? L.bar(s.store.used, s.store.capacity) : ""],
    ["objects", (s) => s.store ? s.store.num_objects : "–", "num"],
    ["spilled", (s) => s.store ? L.bytes(s.store.spilled_bytes) + " (" + s.store.num_spilled + ")" : "–", "num"],
  ], o.stores);
  const refs = L.table([
    ["object id", (r) => L.el("code", {}, r.object_id)], ["size", (r) => L.bytes(r.object_size), "num"],
    ["reference", (r) => r.reference_type], ["held by", (r) => r.type + " pid " + r.pid], ["ip", (r) => r.ip],
    ["where", (r) => r.location], ["call site", (r) => r.call_site],
  ], o.objects, "No process holds a reference.");
  L.show([L.el("h2", {}, "Object stores"), stores,
    L.el("h2", {}, "References (" + o.total + (o.truncated ? ", first " + o.objects.length + " shown" : "") + ")"), refs]);
}, 3000);
