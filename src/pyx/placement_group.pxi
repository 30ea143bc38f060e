# Placement group calls to the GCS (gRPC through the C++ GcsClient); the
# Python API is lumos.util.placement_group.
from includes.placement_group cimport CPgView, CPgBatch, CreatePg, GetPg, GetAllPg, WaitPg


cdef dict _pg_to_dict(CPgView v):
    return {
        "placement_group_id": v.id.decode(),
        "name": v.name.decode(),
        "namespace": v.ns.decode(),
        "state": v.state.decode(),
        "strategy": v.strategy.decode(),
        "pending_reason": v.pending_reason.decode(),
        "infeasible": v.infeasible,
        "detached": v.detached,
        "creator_job_id": _pyb(v.creator_job_id),
        "bundles": [{k.decode(): val for k, val in b} for b in v.bundles],
        "bundle_nodes": [CNodeID.FromBinary(n).Hex().decode() if n.size() else None
                         for n in v.bundle_nodes],
    }


def pg_create(GcsClient gcs, str pg_id, str name, str namespace, int strategy, list bundles,
              c_bool detached, bytes job_id):
    cdef c_vector[c_map[c_string, double]] cb
    cdef c_map[c_string, double] one
    for b in bundles:
        one.clear()
        for k, v in b.items():
            one[k.encode()] = v
        cb.push_back(one)
    cdef c_string cid = pg_id.encode(), cname = name.encode(), cns = namespace.encode(), job = job_id
    cdef CStatus s
    with nogil:
        s = CreatePg(gcs.client.get(), cid, cname, cns, strategy, cb, detached, job)
    check_status(s)


def pg_create_many(GcsClient gcs, list groups):
    """Creates unnamed groups in one GCS call (batched asynchronous creations):
    `groups` holds (id hex, strategy number, bundles, detached, job id bytes)."""
    cdef CPgBatch batch
    cdef c_vector[c_map[c_string, double]] cb
    cdef c_map[c_string, double] one
    for pg_id, strategy, bundles, detached, job_id in groups:
        cb.clear()
        for b in bundles:
            one.clear()
            for k, v in b.items():
                one[k.encode()] = v
            cb.push_back(one)
        batch.Add(pg_id.encode(), strategy, cb, detached, job_id)
    cdef CStatus s
    with nogil:
        s = batch.Send(gcs.client.get())
    check_status(s)


def pg_remove(GcsClient gcs, str pg_id):
    cdef c_string cid = pg_id.encode()
    cdef CStatus s
    with nogil:
        s = gcs.client.get().RemovePlacementGroup(cid)
    check_status(s)


def pg_remove_many(GcsClient gcs, list pg_ids):
    """Removes every group in one GCS call (batched asynchronous removals)."""
    cdef c_vector[c_string] ids
    for p in pg_ids:
        ids.push_back(p.encode())
    cdef CStatus s
    with nogil:
        s = gcs.client.get().RemovePlacementGroups(ids)
    check_status(s)


def pg_get(GcsClient gcs, str pg_id, str name="", str namespace=""):
    """The group's table entry as a dict, or None when unknown."""
    cdef CPgView v
    cdef c_string cid = pg_id.encode(), cname = name.encode(), cns = namespace.encode()
    cdef CStatus s
    with nogil:
        s = GetPg(gcs.client.get(), cid, cname, cns, &v)
    if s.code_int() == 3:
        return None
    check_status(s)
    return _pg_to_dict(v)


def pg_get_all(GcsClient gcs):
    cdef c_vector[CPgView] out
    cdef CStatus s
    with nogil:
        s = GetAllPg(gcs.client.get(), &out)
    check_status(s)
    return [_pg_to_dict(out[i]) for i in range(out.size())]


def pg_wait(GcsClient gcs, str pg_id, int64_t timeout_ms):
    """True once the group is created; raises if it was removed."""
    return pg_wait_report(gcs, pg_id, timeout_ms, None)[0]


def pg_wait_report(GcsClient gcs, str pg_id, int64_t timeout_ms, list also_report):
    """(ready, ready_ids): ready once the group is created (raises if it was
    removed); ready_ids: those of `also_report` created when the GCS
    answered (not waited for)."""
    cdef c_string cid = pg_id.encode()
    cdef c_bool ready = False
    cdef c_vector[c_string] also, ready_ids
    if also_report:
        for p in also_report:
            also.push_back(p.encode())
    cdef CStatus s
    with nogil:
        s = WaitPg(gcs.client.get(), cid, timeout_ms, also, &ready, &ready_ids)
    check_status(s)
    return ready, [ready_ids[i].decode() for i in range(ready_ids.size())]
