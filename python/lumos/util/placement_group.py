"""Placement groups (Ray's ray.util.placement_group).

A group reserves bundles of resources atomically (the GCS prepares every
bundle on its raylet, then commits them all, or rolls back). A committed
bundle {"CPU": 2} at index i becomes the node resources CPU_group_i_<id> and
CPU_group_<id>; a task or actor scheduled into the group asks for those
instead of plain CPU, so it only uses the bundle's resources.
"""
import atexit
import logging
import math
import os
import threading
import time

from lumos import _raylet
from lumos._private import worker as _worker

STRATEGIES = {"PACK": 0, "SPREAD": 1, "STRICT_PACK": 2, "STRICT_SPREAD": 3}
_UNIT = 10000  # resource amounts are multiples of 1/_UNIT
BUNDLE_MARKER = 0.001  # of the bundle_group_* resource a task in a bundle takes


class PlacementGroupID:
    def __init__(self, hex_id):
        self._hex = hex_id

    def hex(self):
        return self._hex

    def __eq__(self, other):
        return isinstance(other, PlacementGroupID) and other._hex == self._hex

    def __hash__(self):
        return hash(self._hex)

    def __repr__(self):
        return "PlacementGroupID(%s)" % self._hex


class PlacementGroup:
    """A handle to a placement group (picklable: pass it to tasks)."""

    def __init__(self, id_hex, bundle_specs=None):
        self.id = PlacementGroupID(id_hex)
        self._bundles = bundle_specs

    @property
    def bundle_specs(self):
        if self._bundles is None:
            info = _gcs_get(self.id.hex())
            self._bundles = info["bundles"] if info else []
        return [dict(b) for b in self._bundles]

    @property
    def bundle_count(self):
        return len(self.bundle_specs)

    def ready(self):
        """An ObjectRef that becomes ready (value: this group) once every
        bundle is reserved. Use with lumos.get / lumos.wait."""
        return _ready_task.options(
            num_cpus=0, resources={"bundle_group_" + self.id.hex(): BUNDLE_MARKER}, max_retries=0,
            scheduling_strategy="DEFAULT", name="placement_group.ready").remote(self)

    def wait(self, timeout_seconds=30):
        """True once the group is created, False after `timeout_seconds`."""
        if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) or timeout_seconds < 0:
            raise ValueError("timeout_seconds must be a non-negative number, got %r" % (timeout_seconds,))
        deadline = time.monotonic() + timeout_seconds
        gcs = _gcs()
        while True:
            left_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
            if _raylet.pg_wait(gcs, self.id.hex(), min(left_ms, 5000)):
                return True
            if left_ms <= 5000:
                return False

    def __eq__(self, other):
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return "PlacementGroup(%s)" % self.id.hex()

    def __reduce__(self):
        return (PlacementGroup, (self.id.hex(), self._bundles))


def _gcs():
    _worker.core_worker()  # raises when not connected
    _removals.flush()  # this process sees its own removals
    return _worker.global_state().gcs


class _Removals:
    """Asynchronous removal (Ray documents remove_placement_group() as
    asynchronous): remove_placement_group() queues the id and returns; a
    daemon thread sends everything queued in one GCS call (so a burst of
    removals costs one round trip, not one each). Every other placement
    group call of this process, and shutdown/exit, first sends what is
    queued and waits for it, so the process always sees its own removals."""

    def __init__(self):
        self._cv = threading.Condition()
        self._queue = []      # (GcsClient, group id hex)
        self._busy = False    # the thread is sending a batch
        self._thread = None

    def add(self, gcs, pg_id):
        with self._cv:
            self._queue.append((gcs, pg_id))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lumos-pg-removal", daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def flush(self):
        if not self._queue and not self._busy:
            return
        with self._cv:
            while self._busy:
                self._cv.wait()
            batch, self._queue = self._queue, []
        self._send(batch)

    def _run(self):
        while True:
            with self._cv:
                while not self._queue:
                    self._cv.wait()
                batch, self._queue = self._queue, []
                self._busy = True
            try:
                self._send(batch)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    @staticmethod
    def _send(batch):
        by_client = {}
        for gcs, pg_id in batch:
            by_client.setdefault(id(gcs), (gcs, []))[1].append(pg_id)
        for gcs, ids in by_client.values():
            try:
                _raylet.pg_remove_many(gcs, ids)
            except Exception as e:  # e.g. the cluster is gone; nothing to return resources to
                logging.getLogger(__name__).warning("removing placement group(s) %s failed: %s", ids, e)


_removals = _Removals()
atexit.register(_removals.flush)


def flush_removals():
    """Sends queued removals and waits for them (shutdown calls it)."""
    _removals.flush()


def _gcs_get(pg_id):
    return _raylet.pg_get(_gcs(), pg_id)


def _ready_task_fn(pg):
    return pg


_ready_task = None


def _init_ready_task():
    global _ready_task
    if _ready_task is None:
        from lumos.remote_function import RemoteFunction
        _ready_task = RemoteFunction(_ready_task_fn, {})


def _check_amount(where, name, amount):
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount):
        raise ValueError("%s: resource %r must be a number, got %r" % (where, name, amount))
    if amount < 0:
        raise ValueError("%s: resource %r must be non-negative, got %r" % (where, name, amount))
    scaled = amount * _UNIT
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
    _init_ready_task()
    gcs = _gcs()
    pg_id = os.urandom(16).hex()
    job = _worker.current_job_id()
    job_bytes = bytes.fromhex(job) if isinstance(job, str) else job
    _raylet.pg_create(gcs, pg_id, name, _worker.current_namespace() if name else "", STRATEGIES[strategy],
                      clean, lifetime == "detached", job_bytes)
    return PlacementGroup(pg_id, clean)


def remove_placement_group(placement_group):
    """Asynchronously removes the group (like Ray): its bundles' resources go
    back to their nodes shortly after; this process's later placement group
    calls already see it removed."""
    if not isinstance(placement_group, PlacementGroup):
        raise ValueError("remove_placement_group() needs a PlacementGroup, got %r" % (placement_group,))
    _worker.core_worker()  # raises when not connected
    _removals.add(_worker.global_state().gcs, placement_group.id.hex())


def get_placement_group(placement_group_name):
    """The live placement group named so in the current namespace."""
    if not isinstance(placement_group_name, str) or not placement_group_name:
        raise ValueError("placement group name must be a non-empty string, got %r" % (placement_group_name,))
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
    gcs = _gcs()
    if placement_group is not None:
        info = _raylet.pg_get(gcs, placement_group.id.hex())
        return _table_entry(info) if info else {}
    return {i["placement_group_id"]: _table_entry(i) for i in _raylet.pg_get_all(gcs)}


def get_current_placement_group():
    """The placement group the current task or actor runs in (its spec
    carries it), or None: in the driver and outside groups."""
    from lumos.util.scheduling_strategies import current_group
    return current_group()


def check_bundle_index(pg, index):
    if not isinstance(pg, PlacementGroup):
        raise ValueError("placement_group must be a PlacementGroup (from lumos.util.placement_group()), got %r"
                         % (pg,))
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError("placement_group_bundle_index must be an int, got %r" % (index,))
    count = pg.bundle_count
    if index < -1 or index >= count:
        raise ValueError("placement_group_bundle_index %d is out of range: the group has %d bundle(s), so valid "
                         "indexes are -1 (any) and 0..%d" % (index, count, count - 1))


def bundle_resources(pg, index, resources):
    """`resources` renamed to the bundle's own resources, plus the bundle marker."""
    suffix = ("_group_%d_" % index if index >= 0 else "_group_") + pg.id.hex()
    out = {}
    for k, v in resources.items():
        out[k + suffix] = v
        if index >= 0:
            out[k + "_group_" + pg.id.hex()] = v
    out["bundle" + suffix] = BUNDLE_MARKER
    return out
