"""Placement group handles and how a task or actor uses a bundle (the layer
under lumos.util.placement_group, which adds creating, naming, listing).

A committed bundle {"CPU": 2} at index i becomes the node resources
CPU_group_i_<id> and CPU_group_<id>; a task or actor scheduled into the group
asks for those instead of plain CPU (bundle_resources), so it only uses the
bundle's resources. A request that no bundle could ever hold is refused at
submission (check_fits_bundle), never left pending.

This module imports no other lumos module above lumos._private.worker, so
the options table (lumos._private.options) can use it without an import circle.
"""
import atexit
import logging
import threading
import time

from lumos import _raylet
from lumos._private import code_pickling
from lumos._private import serialization
from lumos._private import worker as _worker
from lumos._private.ids import PlacementGroupID

BUNDLE_MARKER = 0.001  # of the bundle_group_* resource a task in a bundle takes


class PlacementGroup:
    """A handle to a placement group (picklable: pass it to tasks)."""

    def __init__(self, id_hex, bundle_specs=None):
        self.id = PlacementGroupID.from_hex(id_hex)
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
        if _worker._client is not None:   # client mode: the client's driver submits it
            return _worker._client.api("placement_group_ready", self)
        return _submit_ready_task(self)

    def wait(self, timeout_seconds=30):
        """True once the group is created, False after `timeout_seconds`."""
        if isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, (int, float)) or timeout_seconds < 0:
            raise ValueError("timeout_seconds must be a non-negative number, got %r" % (timeout_seconds,))
        if _worker._client is not None:   # client mode
            return _worker._client.api("placement_group_wait", self, timeout_seconds)
        deadline = time.monotonic() + timeout_seconds
        gcs = _gcs()
        pg_id = self.id.hex()
        why = _outbox.failed.get(pg_id)
        if why is not None:
            raise RuntimeError("placement group %s was never created: %s" % (pg_id, why))
        if _ready_cache.take(pg_id):
            return True
        also = _ready_cache.others(pg_id)
        while True:
            left_ms = int(max(0.0, deadline - time.monotonic()) * 1000)
            ready, ready_ids = _raylet.pg_wait_report(gcs, pg_id, min(left_ms, 5000), also)
            _ready_cache.learn(pg_id, ready, ready_ids)
            if ready:
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
        _outbox.flush()  # another process may use the handle: its creation goes out first
        return (PlacementGroup, (self.id.hex(), self._bundles))


def _ready_value(pg):
    """Body of the task behind pg.ready(): runs once the group's marker
    resource exists, i.e. once every bundle is committed."""
    return pg


_ready_function_ids: dict = {}  # (session epoch, job hex) -> exported id of _ready_value


def _submit_ready_task(pg):
    """Submits the 0-CPU task of pg.ready() straight to the core worker (a
    RemoteFunction would need lumos.remote_function, which sits above us)."""
    cw = _worker.core_worker()
    job = _worker.current_job_id()
    key = (_worker.global_state().epoch, job)
    fid = _ready_function_ids.get(key)
    if fid is None:
        fid = _ready_function_ids[key] = _worker.exporter_for(job).export(code_pickling.dumps(_ready_value))
    arg = serialization.serialize(pg, "placement group")
    refs = cw.submit_task(fid, __name__, "_ready_value", "placement_group.ready", [arg], [], 1,
                          {"bundle_group_" + pg.id.hex(): BUNDLE_MARKER}, 0, 0, False, b"", False, False, 0,
                          None, False, _worker.global_state().runtime_env_json)
    if _worker.RECORD_CALL_SITES:
        _worker.record_call_sites(refs)
    return refs[0]


def _gcs():
    _worker.core_worker()  # raises when not connected
    _outbox.flush()  # this process sees its own creations and removals
    return _worker.global_state().gcs


class _Outbox:
    """Asynchronous creations (of unnamed groups) and removals, sent in
    batches. placement_group() without a name and remove_placement_group()
    queue their request and return; a daemon thread sends what is queued, in
    call order, one GCS call per run of creations or removals (a burst of
    100 groups costs a few round trips, not 100). Every other placement
    group call of this process, pickling a handle (it may be used in another
    process), and shutdown/exit first send what is queued and wait for it,
    so this process always sees its own creations and removals and others
    see them before they can hold the handle. Named groups are created
    synchronously: a taken name must raise in placement_group().

    A creation can only fail at the GCS for reasons placement_group()
    cannot check (the GCS unreachable for good): the failure is logged and
    remembered, and wait() on that group raises it."""

    def __init__(self):
        self._cv = threading.Condition()
        self._queue = []      # (GcsClient, "create" | "remove", payload) in call order
        self._busy = False    # the thread is sending a batch
        self._thread = None
        self.failed = {}      # group id hex -> why its creation failed

    def create(self, gcs, group):
        """`group`: (id hex, strategy number, bundles, detached, job id bytes)."""
        self._add(gcs, "create", group)

    def remove(self, gcs, pg_id):
        self._add(gcs, "remove", pg_id)

    def _add(self, gcs, kind, payload):
        with self._cv:
            self._queue.append((gcs, kind, payload))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lumos-pg-outbox", daemon=True)
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

    def _send(self, batch):
        i = 0
        while i < len(batch):  # one call per run of the same client and kind
            gcs, kind = batch[i][0], batch[i][1]
            j = i
            while j < len(batch) and batch[j][0] is gcs and batch[j][1] == kind:
                j += 1
            payloads = [b[2] for b in batch[i:j]]
            if kind == "create":
                self._create(gcs, payloads)
            else:
                try:
                    _raylet.pg_remove_many(gcs, payloads)
                except Exception as e:  # e.g. the cluster is gone; nothing to return resources to
                    logging.getLogger(__name__).warning("removing placement group(s) %s failed: %s", payloads, e)
            i = j

    def _create(self, gcs, groups):
        try:
            _raylet.pg_create_many(gcs, groups)
            return
        except Exception:
            pass
        for group in groups:  # find which ones failed (rare: the batch call failed)
            try:
                _raylet.pg_create_many(gcs, [group])
            except Exception as e:
                self.failed[group[0]] = str(e)
                logging.getLogger(__name__).warning("creating placement group %s failed: %s", group[0], e)


_outbox = _Outbox()
atexit.register(_outbox.flush)


def flush_removals():
    """Sends queued creations and removals and waits for them (shutdown calls it)."""
    _outbox.flush()


class _ReadyCache:
    """What the GCS said about this process's other groups while answering a
    wait: wait() on a group lists (as also_report) the newest MAX_REPORT
    groups this process created and has not seen ready, and the reply names those
    already CREATED, so a loop of waits over a burst of groups costs a few
    calls. A cached answer is a snapshot: it is used once, and only within
    FRESH_S of the reply; a group this process removes leaves the cache."""

    MAX_REPORT = 512
    FRESH_S = 1.0
    MAX_UNSEEN = 10000   # groups remembered as created-but-not-seen-ready

    def __init__(self):
        self._lock = threading.Lock()
        self._unseen = {}   # id hex -> None, creation order
        self._ready = {}    # id hex -> time.monotonic() of the reply

    def created(self, pg_id):
        with self._lock:
            self._unseen[pg_id] = None
            if len(self._unseen) > self.MAX_UNSEEN:
                del self._unseen[next(iter(self._unseen))]

    def forget(self, pg_id):
        with self._lock:
            self._unseen.pop(pg_id, None)
            self._ready.pop(pg_id, None)

    def take(self, pg_id):
        """True when a fresh reply said the group was created (used once)."""
        with self._lock:
            at = self._ready.pop(pg_id, None)
            return at is not None and time.monotonic() - at <= self.FRESH_S

    def others(self, pg_id):
        with self._lock:
            out = []
            for other in reversed(self._unseen):  # the newest: old ones may never be placed
                if other != pg_id:
                    out.append(other)
                    if len(out) >= self.MAX_REPORT:
                        break
            return out

    def learn(self, pg_id, ready, ready_ids):
        now = time.monotonic()
        with self._lock:
            if ready:
                self._unseen.pop(pg_id, None)
            for other in ready_ids:
                if other in self._unseen:
                    del self._unseen[other]
                    self._ready[other] = now
            if len(self._ready) > self.MAX_UNSEEN:  # answers nobody asked for
                self._ready = {k: t for k, t in self._ready.items() if now - t <= self.FRESH_S}


_ready_cache = _ReadyCache()


def _gcs_get(pg_id):
    return _raylet.pg_get(_gcs(), pg_id)


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


def check_fits_bundle(pg, index, resources, what):
    """ValueError when `resources` (plain names, e.g. {"CPU": 2.0}) cannot
    fit bundle `index` of `pg` (index -1: any of its bundles): such a task or
    actor could never be scheduled, so it is refused at submission."""
    if not resources:
        return
    bundles = pg.bundle_specs
    if not bundles:
        return  # the group is gone or unknown; its removal fails the call later
    candidates = [(index, bundles[index])] if 0 <= index < len(bundles) else list(enumerate(bundles))
    for _, bundle in candidates:
        if all(bundle.get(k, 0.0) + 1e-9 >= v for k, v in resources.items()):
            return
    if index >= 0:
        where = "bundle %d of placement group %s holds %r" % (index, pg.id.hex(), bundles[index])
    else:
        where = "no bundle of placement group %s holds that much (bundles: %r)" % (pg.id.hex(), bundles)
    raise ValueError("%s asks for %r but %s, so it could never be scheduled there. Ask for at most what a "
                     "bundle holds, or create the group with bigger bundles." % (what, resources, where))


_current_group = [None]  # the PlacementGroup of the running task (one entry: its bundles are cached)


def current_group():
    """The PlacementGroup the running task or actor is in, or None."""
    current = _raylet.current_placement()
    if current is None:
        return None
    pg = _current_group[0]
    if pg is None or pg.id.hex() != current[0].hex():
        pg = _current_group[0] = PlacementGroup(current[0].hex())
    return pg
