def _unix_part(str endpoint):
    """The Unix socket path of a fastpath endpoint ("unix:/p;tcp:ip:port")."""
    for part in endpoint.split(";"):
        if part.startswith("unix:"):
            return part[5:]
    return ""


cdef dict _node_to_dict(const CNodeInfo& info):
    cdef CNodeView v = ViewNode(info)
    return {
        "NodeID": CNodeID.FromBinary(v.node_id).Hex().decode(),
        "Alive": v.alive,
        "NodeManagerAddress": v.node_ip.decode(),
        "RayletSocketName": _unix_part(v.raylet_endpoint.decode()),
        "RayletEndpoint": v.raylet_endpoint.decode(),
        "ObjectStoreSocketName": _unix_part(v.store_endpoint.decode()),
        "Resources": {k.decode(): val for k, val in v.total},
        "AvailableResources": {k.decode(): val for k, val in v.available},
        "IsHead": v.is_head,
        "RayletPid": v.raylet_pid,
        "SessionDir": v.session_dir.decode(),
        "DeathReason": v.death_reason.decode(),
        "ObjectStoreMemory": v.object_store_memory,
    }


cdef int _check_gcs(const CStatus& status) except -1:
    """check_status for calls of a connected GcsClient: a call that fails on
    the way (GCS unavailable, timed out, I/O error) raises RpcError, as Ray's
    GcsClient does, with gRPC's code when known (14 UNAVAILABLE, 4
    DEADLINE_EXCEEDED); other failures map like any status."""
    if status.ok():
        return 0
    code = status.code_int()
    if code in (5, 6, 8):
        message = status.message().decode("utf-8", "replace")
        rpc_code = 4 if code == 5 else (14 if "unavailable" in message else None)
        raise _exc.RpcError(message, rpc_code=rpc_code)
    return check_status(status)


cdef class GcsClient:
    """Synchronous client of the GCS (gRPC); usable before a core worker exists."""
    cdef unique_ptr[CGcsClient] client
    cdef public str address

    def __init__(self, str address, timeout_s=10.0):
        self.address = address
        self.client.reset(new CGcsClient(address.encode()))
        cdef int64_t ms = int(timeout_s * 1000)
        cdef CStatus s
        with nogil:
            s = self.client.get().Connect(ms)
        check_status(s)

    def get_all_node_info(self):
        cdef c_vector[CNodeInfo] nodes
        cdef CStatus s
        with nogil:
            s = self.client.get().GetAllNodeInfo(&nodes)
        _check_gcs(s)
        return [_node_to_dict(nodes[i]) for i in range(nodes.size())]

    def next_job_id(self):
        cdef CJobID job
        cdef CStatus s
        with nogil:
            s = self.client.get().GetNextJobId(&job)
        _check_gcs(s)
        return _pyb(job.Binary())

    def add_job(self, bytes job_id, int driver_pid, str namespace, str config_json, str entrypoint):
        cdef CJobInfo info
        info.set_job_id(job_id)
        info.set_driver_pid(driver_pid)
        info.set_driver_ip(b"127.0.0.1")
        info.set_namespace(namespace.encode())
        info.set_config_json(config_json.encode())
        info.set_entrypoint(entrypoint.encode())
        import time
        info.set_start_time_ms(int(time.time() * 1000))
        cdef CStatus s
        with nogil:
            s = self.client.get().AddJob(info)
        _check_gcs(s)

    def mark_job_finished(self, bytes job_id):
        cdef CStatus s
        cdef CJobID j = CJobID.FromBinary(job_id)
        with nogil:
            s = self.client.get().MarkJobFinished(j)
        _check_gcs(s)

    def kv_get(self, ns, key):
        cdef c_string value
        cdef c_bool found = False
        cdef c_string cns = _b(ns), ckey = _b(key)
        cdef CStatus s
        with nogil:
            s = self.client.get().KVGet(cns, ckey, &value, &found)
        _check_gcs(s)
        return _pyb(value) if found else None

    def kv_put(self, ns, key, bytes value, c_bool overwrite=True):
        cdef c_bool added = False
        cdef c_string cns = _b(ns), ckey = _b(key), cval = value
        cdef CStatus s
        with nogil:
            s = self.client.get().KVPut(cns, ckey, cval, overwrite, &added)
        _check_gcs(s)
        return added

    def kv_del(self, ns, key, c_bool by_prefix=False):
        cdef int64_t n = 0
        cdef c_string cns = _b(ns), ckey = _b(key)
        cdef CStatus s
        with nogil:
            s = self.client.get().KVDel(cns, ckey, by_prefix, &n)
        _check_gcs(s)
        return n

    def kv_keys(self, ns, prefix):
        cdef c_vector[c_string] keys
        cdef c_string cns = _b(ns), cp = _b(prefix)
        cdef CStatus s
        with nogil:
            s = self.client.get().KVKeys(cns, cp, &keys)
        _check_gcs(s)
        return [_pyb(k) for k in keys]

    def get_named_actor(self, str name, str namespace):
        """The actor's info dict, or None when no live actor has that name."""
        cdef CActorTableData d
        cdef c_string n = name.encode(), ns = namespace.encode()
        cdef CStatus s
        with nogil:
            s = self.client.get().GetNamedActorInfo(n, ns, &d)
        if s.code_int() == 3:
            return None
        _check_gcs(s)
        return _actor_data_to_dict(d)

    def get_actor_info(self, bytes actor_id):
        cdef CActorTableData d
        cdef c_string aid = actor_id
        cdef CStatus s
        with nogil:
            s = self.client.get().GetActorInfo(aid, &d)
        if s.code_int() == 3:
            return None
        _check_gcs(s)
        return _actor_data_to_dict(d)

    def list_named_actors(self, str namespace, c_bool all_namespaces):
        cdef c_vector[CActorTableData] out
        cdef c_string ns = namespace.encode()
        cdef CStatus s
        with nogil:
            s = self.client.get().ListNamedActors(ns, all_namespaces, &out)
        _check_gcs(s)
        return [_actor_data_to_dict(out[i]) for i in range(out.size())]

    def kill_actor(self, bytes actor_id, c_bool no_restart, str reason):
        cdef c_string aid = actor_id, why = reason.encode()
        cdef CStatus s
        with nogil:
            s = self.client.get().KillActor(aid, no_restart, why)
        _check_gcs(s)
