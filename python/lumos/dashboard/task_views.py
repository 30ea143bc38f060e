"""The dashboard's views of task attempts, kept cheap at the GCS's bound of
100,000 attempts.

The GCS filters and counts attempts itself. Moving every attempt to the
dashboard costs ~1 s and ~100 MB at 100,000, so no view does that once the
GCS keeps more than SMALL attempts:
  * counts per state and per function come from one counting query
    (GetTaskEventsRequest.summarize);
  * the task list is the GCS's filtered answer, newest first, up to the
    limit (GetTaskEventsRequest.newest_first);
  * the task stream draws the newest STREAM_ATTEMPTS attempts (and every
    running one) that ran in the window.
A GCS without those query options (an older build) gets the fallbacks:
per-state counts only; past SMALL, lists oldest first and by default only
the attempts not FINISHED, and a stream of running attempts. Each answer
says which ("order", "scope") so the page can tell the user.
"""
import time

from lumos.util.state import rows

SMALL = 5000
TASK_STATES = ["PENDING_ARGS_AVAIL", "PENDING_NODE_ASSIGNMENT", "SUBMITTED_TO_WORKER", "RUNNING", "FINISHED",
               "FAILED"]
MAX_SEARCHED = 20000  # beyond SMALL, a text search looks at this many attempts
STREAM_ATTEMPTS = 2000
STREAM_PERIOD_S = 2.0


class TaskViews:
    """Task views over one ClusterData (its GCS stubs and snapshots)."""

    def __init__(self, data):
        self.data = data
        self.pb = data.pb
        fields = self.pb.GetTaskEventsRequest.DESCRIPTOR.fields_by_name
        self._can_summarize = "summarize" in fields
        self._newest_first = "newest_first" in fields

    def _query(self, filters, limit, summarize=False, newest_first=False):
        req = self.pb.GetTaskEventsRequest(limit=limit or 0)
        if summarize:
            req.summarize = True
        if newest_first:
            req.newest_first = True
        for key, pred, value in filters:
            req.filters.add(key=key, predicate=pred, value=str(value))
        try:
            return self.data.gcs.call("TaskEventGcsService", "GetTaskEvents", req)
        except ValueError as e:  # the GCS refused a filter: the caller's mistake
            raise LookupError(str(e)) from None

    # ------------------------------------------------------------ counts
    def summary(self):
        """{"summary": [{func_or_class_name, type, state_counts}], "state_counts", "total", "num_dropped"}."""
        return self.data.cached("task_summary", self._summary, ttl=1.0)

    def _summary(self):
        by_func, counts = {}, {s: 0 for s in TASK_STATES}
        if self._can_summarize:
            reply = self._query([], 0, summarize=True)
            for c in reply.state_counts:
                entry = by_func.setdefault((c.func_or_class_name, c.type), {
                    "func_or_class_name": c.func_or_class_name, "type": c.type, "state_counts": {}})
                entry["state_counts"][c.state] = entry["state_counts"].get(c.state, 0) + c.count
                counts[c.state] = counts.get(c.state, 0) + c.count
        elif self._query([], 1).total > SMALL:
            # A GCS without counting queries, holding many attempts: counts per
            # state only (one filtered count each), no per-function lines.
            reply = None
            for state in TASK_STATES:
                reply = self._query([("state", "=", state)], 1)
                counts[state] = reply.total
            return {"summary": [], "state_counts": counts, "total": sum(counts.values()),
                    "num_dropped": reply.num_dropped, "by_function": "needs a GCS with counting queries"}
        else:  # a GCS without counting queries: the few attempts come over
            reply = self._query([], 0)
            name = self.pb.TaskStatus.Name
            for ev in reply.events:
                info = ev.info
                func = info.func_or_class_name or info.name
                entry = by_func.get((func, info.type))
                if entry is None:
                    entry = by_func[(func, info.type)] = {"func_or_class_name": func, "type": info.type,
                                                          "state_counts": {}}
                state = name(ev.state) if ev.state else "NIL"
                entry["state_counts"][state] = entry["state_counts"].get(state, 0) + 1
                counts[state] = counts.get(state, 0) + 1
        return {"summary": sorted(by_func.values(), key=lambda e: (e["func_or_class_name"], e["type"])),
                "state_counts": counts, "total": reply.total, "num_dropped": reply.num_dropped, "by_function": "ok"}

    # ------------------------------------------------------------ lists
    def list(self, state=None, func=None, job_id=None, actor_id=None, search=None, limit=200):
        key = ("tasks", state, func, job_id, actor_id, search, limit)
        return self.data.cached(key, lambda: self._list(state, func, job_id, actor_id, search, limit), ttl=1.0)

    def _list(self, state, func, job_id, actor_id, search, limit):
        filters = [(k, "=", v) for k, v in (("state", state), ("func_or_class_name", func), ("job_id", job_id),
                                            ("actor_id", actor_id)) if v]
        small = self.summary()["total"] <= SMALL
        scope = "all"
        if small:
            fetch = 0
        else:
            if not filters and not search and not self._newest_first:
                filters, scope = [("state", "!=", "FINISHED")], "not finished"
            fetch = MAX_SEARCHED if search else limit
        newest = self._newest_first and not small
        reply = self._query(filters, fetch, newest_first=newest)
        events = list(reply.events)
        if search:
            needle = search.lower()
            events = [ev for ev in events if needle in ev.info.name.lower()
                      or needle in ev.info.func_or_class_name.lower() or needle in ev.task_id.hex()
                      or needle in ev.error_type.lower() or needle in ev.error_message.lower()]
            matched = len(events)
        else:
            matched = reply.total
        if small:
            events = events[::-1]
        shown = events[:limit] if limit else events
        out = []
        for ev in shown:
            r = rows.task_row(self.pb, ev)
            r.pop("events", None)
            r["error_message"] = (r["error_message"] or "")[:300] or None  # the whole text: attempts()
            out.append(r)
        return {"tasks": out, "total": matched, "truncated": len(out) < matched, "num_dropped": reply.num_dropped,
                "order": "newest first" if small or newest else "oldest first", "scope": scope,
                "searched": len(reply.events) if search else None}

    def attempts(self, task_id):
        """Every attempt of one task (all columns, the whole error text)."""
        return [rows.task_row(self.pb, ev) for ev in self._query([("task_id", "=", task_id)], 0).events]

    # ------------------------------------------------------------ stream
    def stream(self, window_s):
        """Spans of task code in the last `window_s` seconds, one lane per worker."""
        # At most every STREAM_PERIOD_S: its 2,000 attempts are the dashboard's
        # costliest view to poll (~13 ms of CPU each), and it draws minutes.
        return self.data.cached(("stream", window_s), lambda: self._stream(window_s), ttl=STREAM_PERIOD_S)

    def _stream(self, window_s):
        small = self.summary()["total"] <= SMALL
        if small:
            events, scope = list(self._query([], 0).events), "all"
        elif self._newest_first:
            # The newest attempts, and running ones older than those.
            events = list(self._query([], STREAM_ATTEMPTS, newest_first=True).events)
            seen = {(ev.task_id, ev.attempt_number) for ev in events}
            events += [ev for ev in self._query([("state", "=", "RUNNING")], 0).events
                       if (ev.task_id, ev.attempt_number) not in seen]
            scope = "newest %d" % STREAM_ATTEMPTS
        else:
            events, scope = list(self._query([("state", "=", "RUNNING")], 0).events), "running"
        now_us = int(time.time() * 1e6)
        since = now_us - int(window_s * 1e6)
        status = self.pb.TaskStatus.Name
        lanes, spans = {}, []
        for ev in events:
            start, end = ev.start_time_us, ev.end_time_us
            if not start or (end and end < since):
                continue
            lane = lanes.setdefault((ev.node_id, ev.worker_pid), len(lanes))
            spans.append({"lane": lane, "start_us": max(start, since), "end_us": min(end or now_us, now_us),
                          "running": not end, "name": ev.info.func_or_class_name or ev.info.name,
                          "task_id": ev.task_id.hex(), "state": status(ev.state) if ev.state else "NIL",
                          "attempt": ev.attempt_number})
        workers = [None] * len(lanes)
        for (node, pid), i in lanes.items():
            workers[i] = {"node_id": node.hex(), "pid": pid}
        return {"workers": workers, "spans": spans[-20000:], "now_us": now_us, "since_us": since,
                "scope": scope}
