"use strict";
const STATES = ["", "PENDING_ARGS_AVAIL", "PENDING_NODE_ASSIGNMENT", "SUBMITTED_TO_WORKER", "RUNNING", "FINISHED", "FAILED"];
const form = L.el("form", {class: "filters"},
  "State ", L.el("select", {name: "state"}, STATES.map((s) => L.el("option", {value: s}, s || "any"))),
  " Function ", L.el("select", {name: "func"}, L.el("option", {value: ""}, "any")),
  " Search ", L.el("input", {name: "q", placeholder: "name, id or error"}),
  L.el("button", {type: "submit"}, "Filter"));
for (const k of ["state", "q"]) form[k].value = L.param(k) || "";
let funcWanted = L.param("func") || "";
form.addEventListener("submit", (e) => { e.preventDefault(); funcWanted = form.func.value; refresh(); });
const refresh = L.live(async () => {
  const q = new URLSearchParams({limit: "200"});
  if (form.state.value) q.set("state", form.state.value);
  if (funcWanted) q.set("func", funcWanted);
  if (form.q.value) q.set("q", form.q.value);
  for (const k of ["job_id", "actor_id"]) if (L.param(k)) q.set(k, L.param(k));
  const [sum, t] = await Promise.all([L.api("/api/tasks/summary"), L.api("/api/tasks?" + q)]);
  const counts = L.el("div", {class: "cards", id: "state-counts"},
    Object.entries(sum.state_counts).map(([s, n]) => L.card(s, n)));
  const funcs = sum.summary.map((e) => e.func_or_class_name);
  form.func.replaceChildren(L.el("option", {value: ""}, "any"), ...funcs.map((f) => L.el("option", {value: f}, f)));
  form.func.value = funcWanted;
  const states = STATES.slice(1);
  const byFunc = L.table([["function", (e) => L.el("a", {href: "?func=" + encodeURIComponent(e.func_or_class_name)}, e.func_or_class_name)],
    ["type", (e) => e.type]].concat(states.map((s) => [s, (e) => e.state_counts[s] || "", "num"])), sum.summary, "No task has run yet.");
  const list = L.table([
    ["task id", (x) => L.el("a", {href: "/tasks/" + x.task_id}, L.el("code", {}, x.task_id))],
    ["name", (x) => x.name], ["state", (x) => L.state(x.state)], ["attempt", (x) => x.attempt_number, "num"],
    ["worker pid", (x) => x.worker_pid || "–", "num"], ["node", (x) => L.short(x.node_id)],
    ["duration", (x) => x.start_time_ms ? L.dur(x.start_time_ms, x.end_time_ms) : "–", "num"],
    ["error", (x) => x.error_type ? L.el("span", {class: "err", title: x.error_message || ""}, x.error_type) : ""],
  ], t.tasks, "No task matches.");
  L.show([counts, L.el("h2", {}, "By function"), byFunc, L.el("h2", {}, "Task attempts"), form,
    L.el("p", {class: "muted", id: "task-total"}, t.total + " attempt(s) match" + (t.scope !== "all" ? " (" + t.scope + ": pick a state to see others)" : "") +
      (t.truncated ? "; " + t.tasks.length + " shown, " + t.order : "") +
      (t.num_dropped ? "; " + t.num_dropped + " dropped by the GCS bound" : "")), list]);
});
