"""lumos.experimental: get_object_locations (Ray's experimental API)."""
from lumos import _raylet
from lumos._private import worker as _worker
from lumos.experimental import internal_kv  # noqa: F401  (Ray's ray.experimental.internal_kv)

__all__ = ["get_object_locations"]


def get_object_locations(obj_refs, timeout_ms=-1):
    """{ref: {"node_ids": [hex node id, ...], "object_size": bytes or None}}:
    the nodes holding each object's data (every object store copy the
    owner knows of, or the owner's memory for a small object owned on this
    node). An object not created yet has no location. `timeout_ms` is
    accepted for Ray compatibility; the answer is local and immediate."""
    if isinstance(obj_refs, _raylet.ObjectRef) or not isinstance(obj_refs, (list, tuple)):
        raise TypeError("get_object_locations() expects a list of ObjectRefs, got %s" % type(obj_refs).__name__)
    for r in obj_refs:
        if not isinstance(r, _raylet.ObjectRef):
            raise TypeError("get_object_locations() expects ObjectRefs; the list holds a %s" % type(r).__name__)
    cw = _worker.core_worker()
    node = cw.node_id
    stored = {o["object_id"]: o for o in cw.store_stats(include_objects=True).get("objects", [])}
    sizes = cw.inline_sizes([r for r in obj_refs if r.hex() not in stored])
    known = cw.object_locations(list(obj_refs))  # copies on every node, as far as this process knows
    out = {}
    for r in obj_refs:
        s = stored.get(r.hex())
        nodes, size = known.get(r.binary(), ([], -1))
        if s is not None or nodes:
            node_ids = ([node] if s is not None else []) + [n for n in nodes if n != node or s is None]
            out[r] = {"node_ids": sorted(set(node_ids), key=node_ids.index),
                      "object_size": s["size"] if s is not None else (size if size >= 0 else None)}
        elif sizes.get(r.binary()) is not None:
            out[r] = {"node_ids": [node], "object_size": sizes[r.binary()]}
        else:
            out[r] = {"node_ids": [], "object_size": None}
    return out
