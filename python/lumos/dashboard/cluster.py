"""What the dashboard knows of the cluster: the answers its pages and APIs
serve, built from the GCS (one gRPC channel shared by every request thread)
and the raylets (their store use, over the fastpath).

Every view is a snapshot (snapshots.py): requests read the last one while a
stale one is recomputed off the request path, at a rate bounded by what it
costs. Task views over many attempts are in task_views.py.

Thread safety: every method may be called from any request thread.
"""
import json
import time

from lumos.dashboard import task_views
from lumos.dashboard.snapshots import Snapshots
from lumos.util.state import rows
from lumos.util.state.sources import Gcs, StateSourceError, node_stats

CACHE_S = 1.0
TASK_STATES = task_views.TASK_STATES
ACTOR_STATES = ["PENDING_CREATION", "ALIVE", "RESTARTING", "DEAD"]


class _DashboardGcs(Gcs):
    """The state API's GCS stubs, given the token (the dashboard has it) so
    that nothing looks for a session or a connected driver."""

    def __init__(self, address, token, timeout):
        import grpc
        from lumos._private import auth
        from lumos._proto import gcs_service_pb2, gcs_service_pb2_grpc
        self.address, self.timeout, self.token = address, timeout, token
        self.pb, self._grpc, self._pb_grpc = gcs_service_pb2, grpc, gcs_service_pb2_grpc
        # Answers over 100k task attempts exceed grpcio's default 4 MB limit.
        self._channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", -1)])
        self._metadata = auth.grpc_metadata(token)


class ClusterData:
    """Snapshot views of the cluster for the route modules (one per dashboard)."""

    def __init__(self, gcs_address, token=None, timeout=10.0):
        self.gcs = _DashboardGcs(gcs_address, token, timeout) if token else Gcs(gcs_address, timeout)
        self.pb = self.gcs.pb
        self._snapshots = Snapshots()
        self.tasks_view = task_views.TaskViews(self)

    def cached(self, key, fn, ttl=CACHE_S):
        """fn()'s latest snapshot (recomputed off the request path once older than `ttl`)."""
        return self._snapshots.get(key, fn, ttl)

    def fresh(self, key, fn):
        return self._snapshots.fresh(key, fn)

    def encoded(self, key, *parts, shape=None):
        """JSON bytes of shape(*parts) (default: the one part), encoded once per
        snapshot: polls that find the same snapshot objects reuse them."""
        def encode(*ps):
            return json.dumps(shape(*ps) if shape else ps[0], default=str).encode()
        return self._snapshots.encoded(key, parts, encode)

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

    def fresh_overview(self):
        """An overview whose nodes and resources are read now (the node list is
        one cheap GCS call; task and actor counts stay snapshots): for the
        metrics sampler, whose samples must not repeat a snapshot taken before
        a node registered or its resources changed."""
        return self._overview(self.fresh("nodes", self._nodes))

    def _overview(self, nodes=None):
        nodes = self.nodes() if nodes is None else nodes
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
    # The GCS filters, limits and counts actors (actor_state_query.h): no view
    # moves or builds rows for 10,000 actors to show a page of them.
    def actors(self, filters=(), limit=1000):
        """{"rows", "total"}: actors whose fields equal [(key, value)]
        (case-insensitive; keys of rows.ACTOR_FIELDS the GCS filters on), at most `limit`."""
        filters = tuple(filters)
        return self.cached(("actors", filters, limit), lambda: self._actor_rows(filters, limit))

    def actor(self, actor_id):
        """The actor's row, or None (asked now: a page opened from a fresh id)."""
        found = self._actor_rows((("actor_id", actor_id),), 1)["rows"]
        return found[0] if found else None

    def _actor_rows(self, filters, limit):
        reply = self.gcs.actor_query([(k, "=", v) for k, v in filters], limit)
        ips = {bytes.fromhex(n["node_id"]): n["node_ip"] for n in self.nodes()}
        return {"rows": [rows.actor_row(a, ips) for a in reply.actors], "total": reply.total}

    def actor_state_counts(self):
        def build():
            counts = {s: 0 for s in ACTOR_STATES}
            for c in self.gcs.actor_query([], 0, summarize=True).state_counts:
                counts[c.state] = counts.get(c.state, 0) + c.count
            return counts
        return self.cached("actor_counts", build)

    def jobs(self):
        return self.cached("jobs", lambda: [rows.job_row(j) for j in self.gcs.jobs()])

    def placement_groups(self):
        return self.cached("pgs", lambda: [rows.placement_group_row(self.pb, p)
                                           for p in self.gcs.placement_groups()])

    # ------------------------------------------------------------ tasks
    def task_state_counts(self):
        return self.tasks_view.summary()["state_counts"]

    def task_summary(self):
        return self.tasks_view.summary()

    def tasks(self, **kw):
        return self.tasks_view.list(**kw)

    def task(self, task_id):
        return self.tasks_view.attempts(task_id)

    def task_stream(self, window_s):
        return self.tasks_view.stream(window_s)
