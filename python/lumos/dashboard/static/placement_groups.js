"use strict";
L.live(async () => {
  const p = await L.api("/api/placement_groups");
  L.show(L.table([
    ["id", (g) => L.el("code", {}, g.placement_group_id)], ["name", (g) => g.name], ["state", (g) => L.state(g.state)],
    ["strategy", (g) => g.strategy], ["job", (g) => L.short(g.creator_job_id)], ["detached", (g) => g.is_detached ? "yes" : ""],
    ["bundles", (g) => L.el("div", {}, g.bundles.map((b) => L.el("div", {class: "mono"},
      JSON.stringify(b.unit_resources) + (b.node_id ? " @ " + L.short(b.node_id) : ""))))],
    ["pending reason", (g) => g.pending_reason || ""],
  ], p.placement_groups, "No placement group."));
});
