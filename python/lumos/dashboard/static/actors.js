"use strict";
const form = L.el("form", {class: "filters"},
  "State ", L.el("select", {name: "state"}, ["", "ALIVE", "PENDING_CREATION", "RESTARTING", "DEAD"].map(
    (s) => L.el("option", {value: s}, s || "any"))),
  " Class ", L.el("input", {name: "class_name", placeholder: "class name"}),
  L.el("button", {type: "submit"}, "Filter"));
form.state.value = L.param("state") || "";
form.class_name.value = L.param("class_name") || "";
form.addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
const refresh = L.live(async () => {
  const q = new URLSearchParams();
  if (form.state.value) q.set("state", form.state.value);
  if (form.class_name.value) q.set("class_name", form.class_name.value);
  const a = await L.api("/api/actors?" + q);
  const counts = L.el("div", {class: "cards"}, Object.entries(a.state_counts).map(([s, n]) => L.card(s, n)));
  L.show([counts, form, L.el("p", {class: "muted"}, a.total + " actor(s)" + (a.truncated ? ", first " + a.actors.length + " shown" : "")),
    L.table([
      ["actor id", (x) => L.el("code", {}, x.actor_id)], ["class", (x) => x.class_name], ["name", (x) => x.name],
      ["state", (x) => L.state(x.state)], ["pid", (x) => x.pid || "–", "num"], ["node", (x) => L.short(x.node_id)],
      ["restarts", (x) => x.num_restarts + " / " + (x.max_restarts < 0 ? "∞" : x.max_restarts), "num"],
      ["death cause", (x) => x.death_cause || ""],
      ["logs", (x) => x.pid ? L.el("a", {href: "/logs?actor_id=" + x.actor_id}, "out") : ""],
      ["tasks", (x) => L.el("a", {href: "/tasks?actor_id=" + x.actor_id}, "calls")],
    ], a.actors, "No actor matches.")]);
});
