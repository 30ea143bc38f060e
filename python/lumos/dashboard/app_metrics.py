"""Application metrics as the dashboard sees them: the reports processes
write to the GCS (lumos._private.metrics_reporter), merged into one
Prometheus exposition with the cluster's own gauges.

Each process's samples get `pid` and `host` labels (two workers' counters
of the same name stay apart, as Ray's per-process endpoints keep them).
Reports older than STALE_S are from processes that have gone and are
deleted.
"""
import json
import time

from lumos._private.metrics_reporter import KV_NAMESPACE, STALE_S
from lumos.dashboard.cluster import TASK_STATES, ACTOR_STATES
from lumos.util.metrics import prometheus_text
from lumos.util.state.sources import StateSourceError


def reports(data):
    """Fresh reports of every process (cached for a second)."""
    def build():
        pb, gcs = data.pb, data.gcs
        keys = gcs.call("InternalKVGcsService", "KVKeys", pb.KVKeysRequest(namespace=KV_NAMESPACE)).keys
        out, now_ms = [], time.time() * 1000
        for key in keys:
            try:
                reply = gcs.call("InternalKVGcsService", "KVGet", pb.KVGetRequest(namespace=KV_NAMESPACE, key=key))
            except StateSourceError:
                continue
            if not reply.found:
                continue
            try:
                report = json.loads(reply.value)
            except ValueError:
                continue
            if now_ms - report.get("time_ms", 0) > STALE_S * 1000:
                gcs.call("InternalKVGcsService", "KVDel", pb.KVDelRequest(namespace=KV_NAMESPACE, key=key))
                continue
            out.append(report)
        return out
    return data.cached("app_metrics", build)


def merged(reports_):
    """One metric entry per name with every process's samples (pid/host labels added)."""
    by_name = {}
    for report in reports_:
        extra = {"pid": str(report.get("pid")), "host": report.get("host", "")}
        for m in report.get("metrics", ()):
            entry = by_name.get(m["name"])
            if entry is None:
                entry = by_name[m["name"]] = dict(m, samples=[])
            elif entry["type"] != m["type"]:
                continue  # two processes disagree on the type: keep the first one's
            for s in m["samples"]:
                entry["samples"].append(dict(s, tags=dict(s["tags"], **extra)))
    return [by_name[k] for k in sorted(by_name)]


def _gauge(name, description, samples):
    return {"name": name, "type": "gauge", "description": description, "samples": samples}


def cluster_gauges(overview):
    """The cluster's state as Prometheus gauges (lumos_cluster_*)."""
    res = overview["resources"]
    nodes = [n for n in overview["nodes"] if n["state"] == "ALIVE"]
    store = [n for n in nodes if n.get("store")]
    return [
        _gauge("lumos_cluster_resources_total", "Resources of the alive nodes, summed",
               [{"tags": {"resource": k}, "value": v["total"]} for k, v in res.items()]),
        _gauge("lumos_cluster_resources_used", "Resources held by tasks, actors and placement groups",
               [{"tags": {"resource": k}, "value": v["used"]} for k, v in res.items()]),
        _gauge("lumos_cluster_nodes", "Nodes by state",
               [{"tags": {"state": "ALIVE"}, "value": overview["num_nodes_alive"]},
                {"tags": {"state": "DEAD"}, "value": overview["num_nodes_dead"]}]),
        _gauge("lumos_cluster_tasks", "Task attempts kept by the GCS, by state",
               [{"tags": {"state": s}, "value": overview["tasks"].get(s, 0)} for s in TASK_STATES]),
        _gauge("lumos_cluster_actors", "Actors by state",
               [{"tags": {"state": s}, "value": overview["actors"].get(s, 0)} for s in ACTOR_STATES]),
        _gauge("lumos_object_store_used_bytes", "Object store bytes in shared memory, per node",
               [{"tags": {"node_id": n["node_id"], "ip": n["node_ip"]}, "value": n["store"]["used"]} for n in store]),
        _gauge("lumos_object_store_capacity_bytes", "Object store capacity, per node",
               [{"tags": {"node_id": n["node_id"], "ip": n["node_ip"]}, "value": n["store"]["capacity"]}
                for n in store]),
        _gauge("lumos_object_store_spilled_bytes", "Bytes of objects whose only copy is on disk, per node",
               [{"tags": {"node_id": n["node_id"], "ip": n["node_ip"]}, "value": n["store"]["spilled_bytes"]}
                for n in store]),
        _gauge("lumos_object_store_objects", "Objects in the store, per node",
               [{"tags": {"node_id": n["node_id"], "ip": n["node_ip"]}, "value": n["store"]["num_objects"]}
                for n in store]),
    ]


def exposition(data):
    """The /metrics text: cluster gauges, then every process's metrics."""
    return prometheus_text(cluster_gauges(data.overview()) + merged(reports(data)))
