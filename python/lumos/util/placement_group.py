"""Placement groups (Ray's ray.util.placement_group).

A group reserves bundles of resources atomically (the GCS prepares every
bundle on its raylet, then commits them all, or rolls back). This module
creates, finds, lists and removes groups; the handle (PlacementGroup) and how
a task uses a bundle live in lumos._private.placement.
"""
import math
import os

from lumos import _raylet
from lumos._private import worker as _worker
from lumos._private.placement import (  # noqa: F401  (the handle and bundle helpers live there)
    BUNDLE_MARKER, PlacementGroup, _gcs, bundle_resources, check_bundle_index, current_group, flush_removals,
    _outbox, _ready_cache)
from lumos._private.ids import PlacementGroupID  # noqa: F401

STRATEGIES = {"PACK": 0, "SPREAD": 1, "STRICT_PACK": 2, "STRICT_SPREAD": 3}
_UNIT = 10000  # resource amounts are multiples of 1/_UNIT


def _check_amount(where, name, amount):
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount):
        raise ValueError("%s: resource %r must be a number, got %r" % (where, name, amount))
    if amount < 0:
        raise ValueError("%s: resource %r must be non-negative, got %r" % (where, name, amount))
    scaled = amount * _UNIT
    if scaled > 9.0e18:  # the GCS's limit (ResourceSet)
        raise ValueError("%s: resource %r amount %r is too large (limit 9e14)" % (where, name, amount))
    if abs(scaled - round(scaled)) > 1e-9 * max(1.0, scaled):
        raise ValueError("%s: resource %r amount %r is too precise; amounts are multiples of 0.0001" % (
            where, name, amount))


def validate_bundles(bundles):
    if not isinstance(bundles, (list, tuple)) or len(bundles) == 0:
        raise ValueError("placement_group() needs a non-empty list of bundles (dicts of resource -> amount), "
                         "got %r" % (bundles,))
    out = []
    for i, b in enumerate(bundles):
        if not isinstance(b, dict):
            raise ValueError("bundle %d must be a dict of resource -> amount, got %r" % (i, b))
        for k, v in b.items():
            if not isinstance(k, str) or not k:
                raise ValueError("bundle %d: resource names must be non-empty strings, got %r" % (i, k))
            _check_amount("bundle %d" % i, k, v)
        clean = {k: float(v) for k, v in b.items() if v > 0}
        if not clean:
            raise ValueError("bundle %d is empty (%r); every bundle needs a positive amount of some resource, "
                             "e.g. {'CPU': 1}" % (i, b))
        out.append(clean)
    return out


def placement_group(bundles, strategy="PACK", name="", lifetime=None, _max_cpu_fraction_per_node=None,
                    _soft_target_node_id=None, bundle_label_selector=None):
    """Reserves `bundles` (a list of resource dicts) with `strategy` (PACK,
    SPREAD, STRICT_PACK or STRICT_SPREAD); returns a PlacementGroup at once
    (reservation is asynchronous: use pg.ready() or pg.wait())."""
    clean = validate_bundles(bundles)
    if _worker._client is not None:   # client mode: the client's driver makes it
        return _worker._client.api("placement_group", clean, strategy, name, lifetime, _max_cpu_fraction_per_node,
                                   _soft_target_node_id, bundle_label_selector)
    if strategy not in STRATEGIES:
        raise ValueError("unknown placement group strategy %r; valid: %s" % (strategy, ", ".join(STRATEGIES)))
    if not isinstance(name, str):
        raise ValueError("name must be a string, got %r" % (name,))
    if lifetime not in (None, "detached"):
        raise ValueError("lifetime must be None or 'detached', got %r" % (lifetime,))
    for opt, val in (("_max_cpu_fraction_per_node", _max_cpu_fraction_per_node),
                     ("_soft_target_node_id", _soft_target_node_id),
                     ("bundle_label_selector", bundle_label_selector)):
        if val is not None:
            raise ValueError("placement_group(%s=...) is not built in lumos yet" % opt)
    pg_id = os.urandom(16).hex()
    job = _worker.current_job_id()
    job_bytes = bytes.fromhex(job) if isinstance(job, str) else job
    if name:  # synchronous: a taken name raises here
        _raylet.pg_create(_gcs(), pg_id, name, _worker.current_namespace(), STRATEGIES[strategy],
                          clean, lifetime == "detached", job_bytes)
    else:  # asynchronous and batched (nothing left the GCS could refuse)
        _worker.core_worker()  # raises when not connected
        _outbox.create(_worker.global_state().gcs, (pg_id, STRATEGIES[strategy], clean, lifetime == "detached",
                                                    job_bytes))
    _ready_cache.created(pg_id)
    return PlacementGroup(pg_id, clean)


def remove_placement_group(placement_group):
    """Asynchronously removes the group (like Ray): its bundles' resources go
    back to their nodes shortly after; this process's later placement group
    calls already see it removed."""
    if not isinstance(placement_group, PlacementGroup):
        raise ValueError("remove_placement_group() needs a PlacementGroup, got %r" % (placement_group,))
    if _worker._client is not None:   # client mode
        return _worker._client.api("remove_placement_group", placement_group)
    _worker.core_worker()  # raises when not connected
    _ready_cache.forget(placement_group.id.hex())
    _outbox.remove(_worker.global_state().gcs, placement_group.id.hex())


def get_placement_group(placement_group_name):
    """The live placement group named so in the current namespace."""
    if not isinstance(placement_group_name, str) or not placement_group_name:
        raise ValueError("placement group name must be a non-empty string, got %r" % (placement_group_name,))
    if _worker._client is not None:   # client mode
        return _worker._client.api("get_placement_group", placement_group_name)
    info = _raylet.pg_get(_gcs(), "", placement_group_name, _worker.current_namespace())
    if info is None:
        raise ValueError("Failed to look up placement group with name: %s" % placement_group_name)
    return PlacementGroup(info["placement_group_id"], info["bundles"])


def _table_entry(info):
    return {
        "placement_group_id": info["placement_group_id"],
        "name": info["name"],
        "bundles": {i: b for i, b in enumerate(info["bundles"])},
        "bundles_to_node_id": {i: n for i, n in enumerate(info["bundle_nodes"]) if n},
        "strategy": info["strategy"],
        "state": info["state"],
        "stats": {"scheduling_state": "INFEASIBLE" if info["infeasible"] else info["state"],
                  "pending_reason": info["pending_reason"]},
    }


def placement_group_table(placement_group=None):
    """{id: info} of every group, or the info of `placement_group`."""
    if _worker._client is not None:   # client mode
        return _worker._client.api("placement_group_table", placement_group)
    gcs = _gcs()
    if placement_group is not None:
        info = _raylet.pg_get(gcs, placement_group.id.hex())
        return _table_entry(info) if info else {}
    return {i["placement_group_id"]: _table_entry(i) for i in _raylet.pg_get_all(gcs)}


def get_current_placement_group():
    """The placement group the current task or actor runs in (its spec
    carries it), or None: in the driver and outside groups."""
    return current_group()
