"""lumos.timeline(): task attempts as a Chrome trace (the JSON array format
of the Trace Event Format, opened by Perfetto and chrome://tracing).

One complete event ("ph": "X") per attempt whose code started and ended:
`ts`/`dur` in µs from the executor's clock, `pid` the node (numbered in
order of appearance), `tid` the worker's process id, task id, function and
attempt in `args`. Metadata events name each pid (node id and IP) and tid.
Profile spans the task's code recorded (lumos.util.profiling.profile) are
complete events on the same pid and tid, inside the task's interval, so
viewers nest them under it: named by the span (or its extra_data "name"),
coloured by extra_data "cname", with the extra data and the task's id,
function and attempt in `args`.
"""
import json
import os


def trace_events(address=None, timeout=None):
    """The trace as a list of event dicts."""
    from lumos.util.state.sources import Gcs
    from lumos.util.state import rows
    gcs = Gcs(address, timeout)
    try:
        reply = gcs.task_events([], 0, profile_events=True)
        attempts = [(rows.task_row(gcs.pb, ev), ev.profile_events) for ev in reply.events]
        node_ips = {n.node_id.hex(): n.node_ip for n in gcs.nodes()}
    finally:
        gcs.close()
    events, pid_of_node, named_tids = [], {}, set()
    for t, spans in attempts:
        start, end = t["start_time_us"], t["end_time_us"]
        if (not start or not end or end < start) and not spans:
            continue
        node = t["node_id"] or "unknown"
        if node not in pid_of_node:
            pid_of_node[node] = len(pid_of_node) + 1
            events.append({"name": "process_name", "ph": "M", "pid": pid_of_node[node], "tid": 0,
                           "args": {"name": "node %s (%s)" % (node, node_ips.get(node, "?"))}})
        pid, tid = pid_of_node[node], int(t["worker_pid"] or 0)
        if (pid, tid) not in named_tids:
            named_tids.add((pid, tid))
            events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                           "args": {"name": "worker %s (pid %d)" % (t["worker_id"], tid)}})
        if start and end and end >= start:
            events.append({
                "name": t["name"] or t["func_or_class_name"], "cat": "task:" + (t["type"] or "NORMAL_TASK").lower(),
                "ph": "X", "ts": start, "dur": end - start, "pid": pid, "tid": tid,
                "args": {"task_id": t["task_id"], "func_or_class_name": t["func_or_class_name"],
                         "attempt_number": t["attempt_number"], "state": t["state"], "job_id": t["job_id"],
                         "actor_id": t["actor_id"], "error_type": t["error_type"]},
            })
        for span in spans:
            events.append(_span_event(span, t, pid, tid))
    return events


def _span_event(span, task, pid, tid):
    """One profile span as a complete event on its task's row."""
    try:
        extra = json.loads(span.extra_data) if span.extra_data else {}
    except ValueError:
        extra = {"extra_data": span.extra_data}
    if not isinstance(extra, dict):
        extra = {"extra_data": extra}
    args = dict(extra, task_id=task["task_id"], func_or_class_name=task["func_or_class_name"],
                attempt_number=task["attempt_number"], job_id=task["job_id"], actor_id=task["actor_id"])
    event = {"name": str(extra.get("name") or span.event_name), "cat": span.event_name, "ph": "X",
             "ts": span.start_time_us, "dur": max(0, span.end_time_us - span.start_time_us),
             "pid": pid, "tid": tid, "args": args}
    if extra.get("cname"):
        event["cname"] = str(extra["cname"])
    return event


def timeline(filename=None, address=None):
    """Writes the trace to `filename` (JSON) and returns its absolute path;
    without a filename returns the events (Ray's behaviour)."""
    events = trace_events(address)
    if filename is None:
        return events
    path = os.path.abspath(filename)
    with open(path, "w") as f:
        json.dump(events, f)
    return path
