"use strict";
L.live(async () => {
  const g = await L.api("/api/cluster_jobs");
  const parts = [L.el("h2", {}, "Drivers (" + g.total + ")"), L.table([
    ["job id", (j) => L.el("code", {}, j.job_id)], ["status", (j) => L.state(j.status === "RUNNING" ? "RUNNING" : j.status)],
    ["entrypoint", (j) => j.entrypoint], ["driver pid", (j) => j.driver_info.pid, "num"],
    ["driver ip", (j) => j.driver_info.node_ip_address], ["namespace", (j) => j.namespace],
    ["started", (j) => L.time(j.start_time)], ["duration", (j) => L.dur(j.start_time, j.end_time), "num"],
    ["tasks", (j) => L.el("a", {href: "/tasks?job_id=" + j.job_id}, "tasks")],
  ], g.jobs, "No job has run yet.")];
  // Submission jobs come from lumos.job_submission's REST API, when served.
  try {
    const sub = await L.api("/api/jobs/");
    const list = Array.isArray(sub) ? sub : (sub.jobs || []);
    parts.push(L.el("h2", {}, "Submitted jobs (" + list.length + ")"), L.table([
      ["submission id", (j) => L.el("code", {}, j.submission_id || "–")], ["status", (j) => L.state(j.status)],
      ["entrypoint", (j) => j.entrypoint], ["message", (j) => j.message || ""],
      ["started", (j) => L.time(j.start_time)], ["duration", (j) => L.dur(j.start_time, j.end_time), "num"],
    ], list, "No job was submitted."));
  } catch (e) { /* not served by this dashboard */ }
  L.show(parts);
});
