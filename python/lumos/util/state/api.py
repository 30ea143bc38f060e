"""lumos.util.state: Ray's state API over the whole cluster.

list_*: filters first (on any default or detail column, '=' / '!=', values
compared as text, case-insensitively), then the limit; the answer is a list
that carries `total` (exact) and `truncated`, and a cut answer warns.
Tasks are filtered by the GCS itself (over up to 100,000 kept attempts), so
`state=RUNNING` finds running tasks however many finished ones there are.
"""
import warnings

from lumos.util.state import common, rows
from lumos.util.state.common import DEFAULT_LIMIT
from lumos.util.state.sources import Gcs, StateSourceError, node_stats, reference_table


def _warn_truncated(resource, answer):
    if answer.truncated:
        warnings.warn("%d of %d %s match; the answer was cut at the limit (pass a larger limit= or --limit)"
                      % (len(answer), answer.total, resource), UserWarning, stacklevel=3)


def _ip_of_node(gcs):
    return {n.node_id: n.node_ip for n in gcs.nodes()}


def _collect(name, gcs):
    """Every row of resource `name` (all columns), from its source."""
    if name == "actors":
        ips = _ip_of_node(gcs)
        return [rows.actor_row(a, ips) for a in gcs.actors()]
    if name == "nodes":
        return [rows.node_row(gcs.pb, n) for n in gcs.nodes()]
    if name == "jobs":
        return [rows.job_row(j) for j in gcs.jobs()]
    if name == "placement_groups":
        return [rows.placement_group_row(gcs.pb, p) for p in gcs.placement_groups()]
    if name in ("workers", "objects"):
        out = []
        for node in gcs.nodes():
            if node.state != gcs.pb.NodeInfo.ALIVE:
                continue
            stats = node_stats(gcs, node)
            for client in stats.clients:
                if not client.endpoint:
                    continue  # the GCS's own link to the raylet (no core worker)
                if name == "workers":
                    out.append(rows.worker_row(node, client))
                    continue
                try:
                    table = reference_table(gcs, client.endpoint)
                except StateSourceError:
                    continue  # the process exited meanwhile
                out.extend(rows.object_rows(node, table))
        return out
    raise AssertionError(name)


def _list(name, address, filters, limit, timeout, detail):
    resource = common.resource_of(name)
    filters = common.check_filters(resource, filters)
    common.check_limit(limit)
    gcs = Gcs(address, timeout)
    try:
        if resource.name == "tasks":
            return _list_tasks(gcs, resource, filters, limit, detail)
        if resource.name == "actors":
            answer = _list_actors(gcs, resource, filters, limit, detail)
            _warn_truncated(resource.name, answer)
            return answer
        answer = common.select(resource, _collect(resource.name, gcs), filters, limit, detail)
    finally:
        gcs.close()
    _warn_truncated(resource.name, answer)
    return answer


# Actor fields the GCS filters on itself (gcs/actor_state_query.h).
ACTOR_GCS_FILTER_KEYS = ("actor_id", "state", "class_name", "name", "job_id", "ray_namespace", "node_id")


def _list_actors(gcs, resource, filters, limit, detail):
    # 10k actors: the GCS filters on the keys it knows and applies the limit;
    # the other keys are filtered here on the named fields only, and whole
    # rows are built only for the ones returned (rows.ACTOR_FIELDS).
    remote = [f for f in filters if f[0] in ACTOR_GCS_FILTER_KEYS]
    local = [f for f in filters if f[0] not in ACTOR_GCS_FILTER_KEYS]
    reply = gcs.actor_query(remote, 0 if local else (limit or 0))
    ips = _ip_of_node(gcs)
    if local:
        fields = [(key, rows.ACTOR_FIELDS[key]) for key, _, _ in local]
        matched = [a for a in reply.actors if common.matches({k: f(a, ips) for k, f in fields}, local)]
        total = len(matched)
        kept = matched if limit is None else matched[:limit]
    else:
        kept, total = reply.actors, reply.total
    page = common.select(resource, [rows.actor_row(a, ips) for a in kept], [], None, detail)
    return common.StateList(list(page), total, len(kept) < total)


def _list_tasks(gcs, resource, filters, limit, detail):
    # Detail-only keys the GCS does not index are filtered here, after it.
    remote = [f for f in filters if f[0] in common.TASK_GCS_FILTER_KEYS]
    local = [f for f in filters if f[0] not in common.TASK_GCS_FILTER_KEYS]
    reply = gcs.task_events(remote, 0 if local else (limit if limit is not None else 0))
    got = [rows.task_row(gcs.pb, ev) for ev in reply.events]
    if local:
        answer = common.select(resource, got, local, limit, detail)
    else:
        if not detail:
            got = [{c: r[c] for c in resource.columns} for r in got]
        answer = common.StateList([resource.record(r) for r in got], reply.total, reply.truncated)
    answer.num_dropped = reply.num_dropped
    _warn_truncated("tasks", answer)
    return answer


def list_actors(address=None, filters=None, limit=DEFAULT_LIMIT, timeout=None, detail=False,
                raise_on_missing_output=True, _explain=False):
    """Actors of the cluster (dead ones included): ActorState rows."""
    return _list("actors", address, filters, limit, timeout, detail)


def list_tasks(address=None, filters=None, limit=DEFAULT_LIMIT, timeout=None, detail=False,
               raise_on_missing_output=True, _explain=False):
    """Task attempts of the cluster, oldest first: TaskState rows. A retry
    is a new row (attempt_number + 1); the failed attempt stays as FAILED."""
    return _list("tasks", address, filters, limit, timeout, detail)


def list_objects(address=None, filters=None, limit=DEFAULT_LIMIT, timeout=None, detail=False,
                 raise_on_missing_output=True, _explain=False):
    """References to objects held by every driver and worker of the cluster:
    one ObjectState row per (object, holder, reference type)."""
    return _list("objects", address, filters, limit, timeout, detail)


def list_nodes(address=None, filters=None, limit=DEFAULT_LIMIT, timeout=None, detail=False,
               raise_on_missing_output=True, _explain=False):
    """Nodes of the cluster (dead ones included): NodeState rows."""
    return _list("nodes", address, filters, limit, timeout, detail)


def list_workers(address=None, filters=None, limit=DEFAULT_LIMIT, timeout=None, detail=False,
                 raise_on_missing_output=True, _explain=False):
    """Live drivers and workers registered with every alive node's raylet: WorkerState rows."""
    return _list("workers", address, filters, limit, timeout, detail)


def list_jobs(address=None, filters=None, limit=DEFAULT_LIMIT, timeout=None, detail=False,
              raise_on_missing_output=True, _explain=False):
    """Jobs (drivers) of the cluster: JobState rows."""
    return _list("jobs", address, filters, limit, timeout, detail)


def list_placement_groups(address=None, filters=None, limit=DEFAULT_LIMIT, timeout=None, detail=False,
                          raise_on_missing_output=True, _explain=False):
    """Placement groups of the cluster (removed ones included): PlacementGroupState rows."""
    return _list("placement_groups", address, filters, limit, timeout, detail)


def _id_of(id):
    if hasattr(id, "task_id") and callable(id.task_id):  # an ObjectRef: its task
        return id.task_id().hex()
    if hasattr(id, "hex") and callable(id.hex):
        return id.hex()
    if not isinstance(id, str) or not id:
        raise ValueError("an id is a hex string, got %r" % (id,))
    return id


def get(resource_name, id, address=None, timeout=None):
    """Every row (all columns) whose id column equals `id`; [] when none."""
    resource = common.resource_of(resource_name)
    return _list(resource.name, address, [(resource.id_key, "=", _id_of(id))], None, timeout, True)


def get_actor(id, address=None, timeout=None, _explain=False):
    """The actor with this id (hex), or None."""
    found = get("actors", id, address, timeout)
    return found[0] if found else None


def get_task(id, address=None, timeout=None, _explain=False):
    """The latest attempt of the task with this id (hex, or an ObjectRef it
    returned), or None. Every attempt: list_tasks(filters=[("task_id", "=", id)])."""
    found = get("tasks", id, address, timeout)
    return found[-1] if found else None


def get_node(id, address=None, timeout=None, _explain=False):
    found = get("nodes", id, address, timeout)
    return found[0] if found else None


def get_worker(id, address=None, timeout=None, _explain=False):
    found = get("workers", id, address, timeout)
    return found[0] if found else None


def get_placement_group(id, address=None, timeout=None, _explain=False):
    found = get("placement_groups", id, address, timeout)
    return found[0] if found else None


def get_job(id, address=None, timeout=None, _explain=False):
    found = get("jobs", id, address, timeout)
    return found[0] if found else None


def get_objects(id, address=None, timeout=None, _explain=False):
    """Every reference to the object with this id, across the cluster."""
    return list(get("objects", id, address, timeout))


def summarize_tasks(address=None, timeout=None, raise_on_missing_output=True, _explain=False):
    """Ray's task summary: per function, the number of attempts in each state."""
    # Counted by the GCS (TaskStateCount per function, type and state): the
    # attempts themselves do not travel.
    gcs = Gcs(address, timeout)
    try:
        reply = gcs.task_events([], 0, summarize=True)
    finally:
        gcs.close()
    summary, by_type = {}, {}
    for c in reply.state_counts:
        key = c.func_or_class_name
        entry = summary.setdefault(key, {"func_or_class_name": key, "type": c.type or None, "state_counts": {}})
        entry["state_counts"][c.state] = entry["state_counts"].get(c.state, 0) + c.count
        by_type[c.type] = by_type.get(c.type, 0) + c.count
    return {"cluster": {
        "summary": summary, "total_tasks": by_type.get("NORMAL_TASK", 0),
        "total_actor_tasks": by_type.get("ACTOR_TASK", 0),
        "total_actor_scheduled": by_type.get("ACTOR_CREATION_TASK", 0), "summary_by": "func_name"}}


def summarize_actors(address=None, timeout=None, raise_on_missing_output=True, _explain=False):
    """Ray's actor summary: per class, the number of actors in each state."""
    gcs = Gcs(address, timeout)
    try:
        reply = gcs.actor_query([], 0, summarize=True)  # counted by the GCS
    finally:
        gcs.close()
    summary = {}
    for c in reply.state_counts:
        entry = summary.setdefault(c.class_name, {"class_name": c.class_name, "state_counts": {}})
        entry["state_counts"][c.state] = entry["state_counts"].get(c.state, 0) + c.count
    return {"cluster": {"summary": summary, "total_actors": reply.total, "summary_by": "class"}}


def summarize_objects(address=None, timeout=None, raise_on_missing_output=True, _explain=False):
    """Ray's object summary: per call site, objects, their size and reference types."""
    refs = list_objects(address=address, limit=None, timeout=timeout, detail=True)
    summary, seen = {}, {}
    for r in refs:
        site = r["call_site"]
        e = summary.setdefault(site, {"total_objects": 0, "total_size_mb": 0.0, "total_num_workers": 0,
                                      "total_num_nodes": 0, "ref_type_counts": {}, "_ids": set(),
                                      "_workers": set(), "_nodes": set()})
        e["ref_type_counts"][r["reference_type"]] = e["ref_type_counts"].get(r["reference_type"], 0) + 1
        e["_workers"].add(r["worker_id"])
        e["_nodes"].add(r["node_id"])
        if r["object_id"] not in e["_ids"]:
            e["_ids"].add(r["object_id"])
            e["total_objects"] += 1
            e["total_size_mb"] += (r["object_size"] or 0) / 2**20
            seen[r["object_id"]] = r["object_size"] or 0
    for e in summary.values():
        e["total_num_workers"], e["total_num_nodes"] = len(e.pop("_workers")), len(e.pop("_nodes"))
        e.pop("_ids")
    return {"cluster": {"summary": summary, "total_objects": len(seen),
                        "total_size_mb": sum(seen.values()) / 2**20,
                        "callsite_enabled": any(s != "disabled" for s in summary), "summary_by": "callsite"}}
