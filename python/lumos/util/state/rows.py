"""Protobuf messages of the GCS, raylets and core workers as state API rows
(dicts with Ray's field names). Pure functions; ids come out in hex."""

_ACTOR_HANDLE_INDEX = b"\0\0\0\0"


def _hex(b):
    return b.hex() if b else None


def _ms(us):
    return us // 1000 if us else None


def task_row(pb, ev):
    info = ev.info
    status = pb.TaskStatus.Name
    func = info.func_or_class_name or None
    if info.type == "ACTOR_TASK" and func and "." not in func and "." in info.name:
        func = info.name.rsplit(".", 1)[0] + "." + func  # Ray shows Class.method
    return {
        "task_id": ev.task_id.hex(), "attempt_number": ev.attempt_number, "name": info.name,
        "state": status(ev.state) if ev.state else "NIL", "job_id": _hex(info.job_id),
        "actor_id": _hex(info.actor_id), "type": info.type or None,
        "func_or_class_name": func, "parent_task_id": _hex(info.parent_task_id),
        "node_id": _hex(ev.node_id), "worker_id": _hex(ev.worker_id), "worker_pid": ev.worker_pid or None,
        "error_type": ev.error_type or None, "language": "PYTHON",
        "required_resources": dict(info.required_resources), "placement_group_id": info.placement_group_id or None,
        "events": [{"state": status(s), "created_ms": t // 1000} for s, t in enumerate(ev.state_times_us) if t],
        "creation_time_ms": _ms(next((t for t in ev.state_times_us if t), ev.creation_time_us)),
        "start_time_ms": _ms(ev.start_time_us), "end_time_ms": _ms(ev.end_time_us),
        "error_message": ev.error_message or None,
        # µs, for the timeline (not a Ray field; dropped unless detail).
        "start_time_us": ev.start_time_us or None, "end_time_us": ev.end_time_us or None,
    }


_ACTOR_STATES = {0: "PENDING_CREATION", 1: "ALIVE", 2: "RESTARTING", 3: "DEAD"}


def _actor_node(a):
    return a.address.node_id if a.state == 1 else b""


# Each field of an actor row from (ActorTableData, {node id: ip}): filters
# read single fields; actor_row builds them all.
ACTOR_FIELDS = {
    "actor_id": lambda a, ips: a.actor_id.hex(),
    "class_name": lambda a, ips: a.class_name,
    "state": lambda a, ips: _ACTOR_STATES.get(a.state, str(a.state)),
    "job_id": lambda a, ips: _hex(a.job_id),
    "name": lambda a, ips: a.name or "",
    "node_id": lambda a, ips: _hex(_actor_node(a)),
    "pid": lambda a, ips: a.pid or None,
    "ray_namespace": lambda a, ips: a.ray_namespace,
    "required_resources": lambda a, ips: dict(a.resources),
    "death_cause": lambda a, ips: a.death_cause or None,
    "is_detached": lambda a, ips: a.detached,
    "placement_group_id": lambda a, ips: None,
    "repr_name": lambda a, ips: "",
    "num_restarts": lambda a, ips: a.num_restarts,
    "max_restarts": lambda a, ips: a.max_restarts,
    "ip": lambda a, ips: ips.get(_actor_node(a)) if _actor_node(a) else None,
}


def actor_row(a, ip_of_node):
    return {k: f(a, ip_of_node) for k, f in ACTOR_FIELDS.items()}


def node_row(pb, n):
    alive = n.state == pb.NodeInfo.ALIVE
    return {
        "node_id": n.node_id.hex(), "node_ip": n.node_ip, "is_head_node": n.is_head,
        "state": "ALIVE" if alive else "DEAD", "state_message": n.death_reason or None, "node_name": n.node_ip,
        "resources_total": dict(n.total_resources), "labels": dict(n.labels),
        "resources_available": dict(n.available_resources), "object_store_memory": n.object_store_memory,
        "raylet_pid": n.raylet_pid, "session_dir": n.session_dir,
    }


def job_row(j):
    return {
        "job_id": j.job_id.hex(), "submission_id": None, "entrypoint": j.entrypoint, "type": "DRIVER",
        "status": "SUCCEEDED" if j.is_dead else "RUNNING", "message": None, "error_type": None,
        "driver_info": {"id": j.job_id.hex(), "node_ip_address": j.driver_ip, "pid": str(j.driver_pid)},
        "start_time": j.start_time_ms or None, "end_time": j.end_time_ms or None, "namespace": j.namespace,
    }


def placement_group_row(pb, p):
    t = pb.PlacementGroupTableData
    return {
        "placement_group_id": p.placement_group_id, "name": p.name, "creator_job_id": _hex(p.creator_job_id),
        "state": t.State.Name(p.state),
        "bundles": [{"bundle_id": "%s_%d" % (p.placement_group_id, b.index),
                     "node_id": _hex(b.node_id),
                     "unit_resources": dict(b.unit_resources)} for b in p.bundles],
        "is_detached": p.detached, "strategy": t.Strategy.Name(p.strategy), "pending_reason": p.pending_reason or None,
    }


def worker_row(node, client):
    return {
        "worker_id": client.worker_id.hex(), "is_alive": True,
        "worker_type": "DRIVER" if client.is_driver else "WORKER", "exit_type": None,
        "node_id": node.node_id.hex(), "ip": node.node_ip, "pid": client.pid, "exit_detail": None,
        "endpoint": client.endpoint,
    }


def reference_types(e):
    """Ray's reference types of one ReferenceEntry (see internal_api.memory_table)."""
    if e.object_id[16:] == _ACTOR_HANDLE_INDEX:
        return ["ACTOR_HANDLE"]
    kinds = []
    if e.local_refs > 0:
        kinds.append("LOCAL_REFERENCE")
    if e.submitted_task_refs > 0:
        kinds.append("USED_BY_PENDING_TASK")
    if e.contained_in > 0:
        kinds.append("CAPTURED_IN_OBJECT")
    if e.pinned_forever:
        kinds.append("PINNED_IN_MEMORY")
    return kinds or ["UNKNOWN_STATUS"]


def object_rows(node, table):
    """One row per (object, reference type) held by the process of `table`."""
    out = []
    for e in table.entries:
        for kind in reference_types(e):
            out.append({
                "object_id": e.object_id.hex(), "object_size": e.size if e.size > 0 else None,
                "reference_type": kind, "call_site": e.call_site or "disabled",
                "type": "DRIVER" if table.is_driver else "WORKER", "pid": table.pid, "ip": node.node_ip,
                "node_id": node.node_id.hex(), "owned": e.owned,
                "location": "object store" if e.in_plasma else "owner memory",
                "worker_id": table.address.worker_id.hex(),
            })
    return out
