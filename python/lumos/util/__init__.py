"""lumos.util: helpers Ray users reach for under ray.util."""
import inspect as _inspect

from lumos._private import serialization as _serialization
from lumos._private import worker as _worker
from lumos.util.progress_bar import progress  # noqa: F401  (wait for many refs with a bar)


def get_node_ip_address():
    """The IP address lumos uses for this node (127.0.0.1 on a local cluster)."""
    state = _worker.global_state()
    if state.node_info:
        return state.node_info["NodeManagerAddress"]
    return state.node_ip or "127.0.0.1"


def list_named_actors(all_namespaces=False):
    """Names of live named actors in the current namespace (or all of them, as
    dicts with name and namespace)."""
    if _worker._client is not None:   # client mode: the client's driver asks
        return _worker._client.api("list_named_actors", all_namespaces)
    _worker.core_worker()
    actors = _worker.global_state().gcs.list_named_actors(_worker.current_namespace(), bool(all_namespaces))
    if all_namespaces:
        return [{"name": a["name"], "namespace": a["namespace"]} for a in actors]
    return [a["name"] for a in actors]


def inspect_serializability(base_obj, name=None, depth=3, print_file=None):
    """(serializable, failures): tries to serialize `base_obj` and, when that
    fails, the members it is made of (closure variables, attributes), to name
    the ones that cannot be serialized."""
    failures = set()

    def check(obj, label, level):
        try:
            _serialization.serialize(obj, label)
            return True
        except TypeError:
            pass
        found_inner = False
        if level > 0:
            members = {}
            if _inspect.isfunction(obj):
                closure = _inspect.getclosurevars(obj)
                members.update(closure.nonlocals)
                members.update(closure.globals)
            elif hasattr(obj, "__dict__"):
                members.update(vars(obj))
            for k, v in members.items():
                if not check(v, k, level - 1):
                    found_inner = True
        if not found_inner:
            failures.add((label, type(obj).__name__))
        return False

    ok = check(base_obj, name or getattr(base_obj, "__name__", type(base_obj).__name__), depth)
    if print_file is not None or not ok:
        msg = "serializable" if ok else "not serializable; failing members: %s" % sorted(failures)
        print("inspect_serializability(%s): %s" % (name or base_obj, msg), file=print_file)
    return ok, failures


from lumos.util.placement_group import (  # noqa: E402,F401
    PlacementGroup, get_current_placement_group, get_placement_group, placement_group, placement_group_table,
    remove_placement_group)
from lumos.util import scheduling_strategies  # noqa: E402,F401
from lumos.util import accelerators  # noqa: E402,F401
from lumos.util import metrics  # noqa: E402,F401
from lumos.util.actor_pool import ActorPool  # noqa: E402,F401
from lumos.util.helpers import as_completed, map_unordered  # noqa: E402,F401
from lumos.util.serialization import deregister_serializer, register_serializer  # noqa: E402,F401
