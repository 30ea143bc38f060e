"""What the dashboard knows of the cluster: the answers its pages and APIs
serve, built from the GCS (one gRPC channel shared by every request thread)
and the raylets (their store use, over the fastpath).

Answers that cost a walk over many task attempts are cached for a second
(CACHE_S): a page and its SSE refreshes, or several browsers, then share
one walk. Task rows are built from the protobuf events directly and only for
the rows shown, not for all 100,000 kept attempts.

Thread safety: every method may be called from any request thread.
"""
import threading
import time

from lumos.util.state import rows
from lumos.util.state.sources import Gcs, StateSourceError, node_stats

CACHE_S = 1.0
TASK_STATES = ["PENDING_ARGS_AVAIL", "PENDING_NODE_ASSIGNMENT", "SUBMITTED_TO_WORKER", "RUNNING", "FINISHED",
               "FAILED"]
ACTOR_STATES = ["PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD"]


class ClusterData:
    """Cached views of the cluster for the route modules (one per dashboard)."""

    def __init__(self, gcs_address, timeout=10.0):
        self.gcs = Gcs(gcs_address, timeout)
        self.pb = self.gcs.pb
        self._lock = threading.Lock()
        self._cache = {}      # key -> (monotonic time, value)
        self._computing = {}  # key -> Lock, so one thread computes and the others wait for it

    def cached(self, key, fn, ttl=CACHE_S):
        """fn()'s value, computed at most once per `ttl` seconds."""
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < ttl:
                return hit[1]
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                hit = self._cache.get(key)
                if hit is not None and time.monotonic() - hit[0] < ttl:
                    return hit[1]
            value = fn()
            with self._lock:
                self._cache[key] = (time.monotonic(), value)
            return value

    # ------------------------------------------------------------ nodes
    def nodes(self):
        return self.cached("nodes", self._nodes)

    def _nodes(self):
        out = []
        for n in self.gcs.nodes():
            row = rows.node_row(self.pb, n)
            row["resources_used"] = {k: v - row["resources_available"].get(k, 0.0)
                                     for k, v in row["resources_total"].items()}
            row["last_report_ms"] = n.last_report_ms
            row["store"] = None
            if row["state"] == "ALIVE":
                try:
                    s = node_stats(self.gcs, n)
                    row["store"] = {"capacity": s.store_capacity, "used": s.store_used,
                                    "num_objects": s.store_num_objects, "spilled_bytes": s.store_spilled_bytes,
                                    "num_spilled": s.store_num_spilled}
                    row["num_workers"] = s.num_workers
                    row["num_pending_leases"] = s.num_pending_leases
                    row["workers"] = [{"worker_id": c.worker_id.hex(), "pid": c.pid,
                                       "worker_type": "DRIVER" if c.is_driver else "WORKER"}
                                      for c in s.clients if c.endpoint]
                except StateSourceError as e:
                    row["store_error"] = str(e)
            out.append(row)
        return out

    def overview(self):
        return self.cached("overview", self._overview)

    def _overview(self):
        nodes = self.nodes()
        alive = [n for n in nodes if n["state"] == "ALIVE"]
        totals = {}
        for n in alive:
            for k, v in n["resources_total"].items():
                if k.startswith("node:") or "_group_" in k:
                    continue
                t = totals.setdefault(k, [0.0, 0.0])
                t[0] += n["resources_used"].get(k, 0.0)
                t[1] += v
        store = {"capacity": 0, "used": 0, "num_objects": 0, "spilled_bytes": 0, "num_spilled": 0}
        for n in alive:
            for k in store:
                store[k] += (n["store"] or {}).get(k, 0)
        return {"nodes": nodes, "num_nodes_alive": len(alive), "num_nodes_dead": len(nodes) - len(alive),
                "resources": {k: {"used": u, "total": t} for k, (u, t) in sorted(totals.items())},
                "store": store, "tasks": self.task_state_counts(), "actors": self.actor_state_counts(),
                "time_ms": int(time.time() * 1000)}

    # ------------------------------------------------------------ actors, jobs, groups
    def actors(self):
        def build():
            ips = {n["node_id"]: n["node_ip"] for n in self.nodes()}
            return [rows.actor_row(a, {bytes.fromhex(k): v for k, v in ips.items()}) for a in self.gcs.actors()]
        return self.cached("actors", build)

    def actor_state_counts(self):
        counts = {s: 0 for s in ACTOR_STATES}
        for a in self.actors():
            counts[a["state"]] = counts.get(a["state"], 0) + 1
        return counts

    def jobs(self):
        return self.cached("jobs", lambda: [rows.job_row(j) for j in self.gcs.jobs()])

    def placement_groups(self):
        return self.cached("pgs", lambda: [rows.placement_group_row(self.pb, p)
                                           for p in self.gcs.placement_groups()])

    # ------------------------------------------------------------ tasks
    def task_events(self):
        """Every kept attempt (protobuf events, oldest first) and the reply's counts."""
        def build():
            reply = self.gcs.task_events([], 0)
            return list(reply.events), reply.total, reply.num_dropped
        return self.cached("task_events", build)

    def task_state_counts(self):
        def build():
            counts = {}
            for state in TASK_STATES:  # the GCS counts; only the totals come back
                counts[state] = self.gcs.task_events([("state", "=", state)], 1).total
            return counts
        return self.cached("task_counts", build)

    def task_summary(self):
        """Per function: attempts in each state (Ray's `summary tasks`)."""
        def build():
            events, total, dropped = self.task_events()
            name = self.pb.TaskStatus.Name
            by_func = {}
            for ev in events:
                info = ev.info
                key = info.func_or_class_name or info.name
                entry = by_func.get(key)
                if entry is None:
                    entry = by_func[key] = {"func_or_class_name": key, "type": info.type, "state_counts": {}}
                state = name(ev.state) if ev.state else "NIL"
                entry["state_counts"][state] = entry["state_counts"].get(state, 0) + 1
            return {"summary": sorted(by_func.values(), key=lambda e: e["func_or_class_name"]),
                    "total": total, "num_dropped": dropped}
        return self.cached("task_summary", build)

    def tasks(self, state=None, func=None, job_id=None, actor_id=None, search=None, limit=200):
        """Newest attempts first that match, and how many matched in all."""
        filters = [(k, "=", v) for k, v in (("state", state), ("func_or_class_name", func), ("job_id", job_id),
                                            ("actor_id", actor_id)) if v]
        if filters:
            reply = self.gcs.task_events(filters, 0)
            events, dropped = list(reply.events), reply.num_dropped
        else:
            events, _, dropped = self.task_events()
        if search:
            needle = search.lower()
            events = [ev for ev in events if needle in ev.info.name.lower()
                      or needle in ev.info.func_or_class_name.lower() or needle in ev.task_id.hex()
                      or needle in ev.error_type.lower() or needle in ev.error_message.lower()]
        shown = events[-limit:][::-1] if limit else events[::-1]
        out = []
        for ev in shown:
            r = rows.task_row(self.pb, ev)
            r.pop("events", None)
            r["error_message"] = (r["error_message"] or "")[:300] or None  # the whole text: /api/tasks/{id}
            out.append(r)
        return {"tasks": out, "total": len(events), "truncated": len(out) < len(events), "num_dropped": dropped}

    def task(self, task_id):
        """Every attempt of one task (all columns, the whole error text)."""
        reply = self.gcs.task_events([("task_id", "=", task_id)], 0)
        return [rows.task_row(self.pb, ev) for ev in reply.events]

    def task_stream(self, window_s):
        """Spans of task code that ran in the last `window_s` seconds, per
        worker: {"workers": [{node_id, pid, worker_id}], "spans": [...]}."""
        def build():
            events, _, _ = self.task_events()
            now_us = int(time.time() * 1e6)
            since = now_us - int(window_s * 1e6)
            status = self.pb.TaskStatus.Name
            lanes, spans = {}, []
            for ev in events:
                start, end = ev.start_time_us, ev.end_time_us
                if not start or (end and end < since):
                    continue
                lane_key = (ev.node_id, ev.worker_pid)
                lane = lanes.get(lane_key)
                if lane is None:
                    lane = lanes[lane_key] = len(lanes)
                spans.append({"lane": lane, "start_us": max(start, since), "end_us": end or now_us,
                              "running": not end, "name": ev.info.func_or_class_name or ev.info.name,
                              "task_id": ev.task_id.hex(), "state": status(ev.state) if ev.state else "NIL",
                              "attempt": ev.attempt_number})
            workers = [None] * len(lanes)
            for (node, pid), i in lanes.items():
                workers[i] = {"node_id": node.hex(), "pid": pid}
            return {"workers": workers, "spans": spans[-20000:], "now_us": now_us, "since_us": since}
        return self.cached(("stream", window_s), build)
