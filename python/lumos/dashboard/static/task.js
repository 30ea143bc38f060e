"use strict";
const id = document.getElementById("app").dataset.taskId;
L.live(async () => {
  const t = await L.api("/api/tasks/" + encodeURIComponent(id));
  const parts = [];
  for (const a of t.attempts) {
    parts.push(L.el("h2", {}, "Attempt " + a.attempt_number + " — ", L.state(a.state)));
    parts.push(L.table([["field", (r) => r[0]], ["value", (r) => r[1]]], [
      ["task id", a.task_id], ["name", a.name], ["function", a.func_or_class_name], ["type", a.type],
      ["job", a.job_id], ["actor", a.actor_id || "–"], ["node", a.node_id || "–"], ["worker", a.worker_id || "–"],
      ["worker pid", a.worker_pid || "–"], ["created", L.time(a.creation_time_ms)], ["started", L.time(a.start_time_ms)],
      ["ended", L.time(a.end_time_ms)], ["duration", a.start_time_ms ? L.dur(a.start_time_ms, a.end_time_ms) : "–"],
      ["resources", JSON.stringify(a.required_resources)], ["error type", a.error_type || "–"],
      ["logs", a.worker_id ? L.el("a", {href: "/logs?task_id=" + a.task_id}, "this task's output") : "–"],
    ]));
    if (a.error_message) parts.push(L.el("h2", {}, "Error"), L.el("pre", {class: "traceback"}, a.error_message));
  }
  L.show(parts);
}, 2000);
