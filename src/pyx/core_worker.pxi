cdef void _set_placement(CTaskSpec* spec, tuple placement):
    """placement: (group id bytes, bundle index, capture child tasks) or None."""
    if placement is None:
        return
    spec.set_placement_group_id(placement[0])
    spec.set_placement_group_bundle_index(placement[1])
    spec.set_placement_group_capture_child_tasks(placement[2])


cdef void _set_strategy(CTaskSpec* spec, tuple strategy):
    """strategy: (kind, node id bytes, soft, [hard label exprs], [soft label exprs],
    spill_on_unavailable) or None (see lumos._private.scheduling.strategy_of)."""
    if strategy is None:
        return
    cdef c_vector[c_string] hard = [e.encode() for e in strategy[3]]
    cdef c_vector[c_string] soft = [e.encode() for e in strategy[4]]
    SetSchedulingStrategy(spec, strategy[0], strategy[1], strategy[2], hard, soft, strategy[5])


cdef list _fill_spec_args(CCoreWorker* cw, CTaskSpec* spec, list args, list kwarg_names, bytes address,
                          CoreWorker owner):
    """Fills the spec's arguments. Returns the refs of arguments it put into the
    object store: the caller keeps them alive until the task is submitted."""
    cdef CTaskArg* a
    cdef ObjectRef r
    keep = []
    for kw in kwarg_names:
        spec.add_kwarg_names(kw.encode())
    for arg in args:
        if not isinstance(arg, ObjectRef):
            if arg.total_size <= _inline_limit:
                _fill_inline(spec.add_args().mutable_value(), arg)
                continue
            arg = owner.put(arg)   # large: into the object store, passed by ref
            keep.append(arg)
        r = <ObjectRef>arg
        a = spec.add_args()
        a.mutable_ref().set_object_id(r._id)
        a.mutable_ref().mutable_owner().ParseFromString(r._owner if len(r._owner) else address)
    return keep


cdef class CoreWorker:
    """The process's C++ core worker. Exactly one per process at a time."""
    cdef unique_ptr[CCoreWorker] cw
    cdef bytes _address
    cdef public object is_driver

    def __init__(self, c_bool is_driver, str raylet_socket, str store_socket, str gcs_address,
                 str session_dir, bytes job_id=b"", int raylet_pid=0):
        global _cw, _epoch, _inline_limit
        if _cw != NULL:
            raise RuntimeError("a core worker already runs in this process")
        cdef CCoreWorkerOptions opts
        opts.is_driver = is_driver
        opts.raylet_socket = raylet_socket.encode()
        opts.store_socket = store_socket.encode()
        opts.gcs_address = gcs_address.encode()
        opts.session_dir = session_dir.encode()
        if job_id:
            opts.job_id = CJobID.FromBinary(job_id)
        opts.raylet_pid = raylet_pid
        opts.executor = CTaskExecutor(_execute_task_cb)
        opts.check_signals = CInterruptCheck(_check_signals)
        self.is_driver = is_driver
        cdef CStatus s
        with nogil:
            s = CreateCoreWorker(opts, &self.cw)
        check_status(s)
        _cw = self.cw.get()
        _epoch += 1
        _inline_limit = CConfig.Get().max_direct_call_object_size()
        self._address = _cw.address().SerializeAsString()

    def shutdown(self):
        global _cw, _epoch
        if self.cw.get() == NULL:
            return
        _epoch += 1
        _cw = NULL
        with nogil:
            self.cw.get().Shutdown()
        self.cw.reset()

    cdef CCoreWorker* _get(self) except NULL:
        if self.cw.get() == NULL:
            raise _exc.RaySystemError("the core worker has been shut down; call lumos.init() first")
        return self.cw.get()

    @property
    def worker_id(self):
        return self._get().worker_id().Hex().decode()

    @property
    def node_id(self):
        return self._get().node_id().Hex().decode()

    @property
    def job_id(self):
        return self._get().job_id().Hex().decode()

    @property
    def address(self):
        return self._address

    def current_task_id(self):
        cdef CTaskID t = self._get().current_task_id()
        return None if t.IsNil() else t.Hex().decode()

    def node_resources(self):
        cdef c_map[c_string, double] m = self._get().node_resources()
        return {k.decode(): v for k, v in m}

    def num_objects(self):
        """(tracked refs, owned objects) in the reference counter; for tests."""
        cdef CCoreWorker* cw = self._get()
        return (cw.reference_counter().NumObjects(), cw.reference_counter().NumOwned())

    def reference_table(self):
        """This process's references: one dict per object (memory tooling)."""
        cdef CCoreWorker* cw = self._get()
        cdef c_vector[CReferenceInfo] rows
        with nogil:
            rows = cw.reference_counter().Snapshot()
        out = []
        for i in range(rows.size()):
            out.append({
                "object_id": _pyb(rows[i].id.Binary()),
                "owner": _pyb(rows[i].owner.SerializeAsString()) if not rows[i].owned else self._address,
                "owned": rows[i].owned,
                "in_plasma": rows[i].in_plasma,
                "pinned_forever": rows[i].escaped,
                "local_refs": rows[i].local,
                "submitted_task_refs": rows[i].submitted,
                "contained_in": rows[i].contained_in,
                "borrowers": rows[i].borrowers,
            })
        return out

    def inline_sizes(self, list refs):
        """{ref binary: size} of the refs whose small value this process holds."""
        cdef CCoreWorker* cw = self._get()
        cdef int64_t n
        out = {}
        for r in refs:
            n = cw.InlineSize(CObjectID.FromBinary((<ObjectRef>r)._id))
            if n >= 0:
                out[(<ObjectRef>r)._id] = n
        return out

    def object_locations(self, list refs):
        """{ref binary: ([node hex, ...], size or -1)} of the refs this process
        knows to live in object stores (the owner knows every copy)."""
        cdef CCoreWorker* cw = self._get()
        cdef c_vector[CObjectID] ids
        cdef c_vector[c_vector[c_string]] nodes
        cdef c_vector[int64_t] sizes
        for r in refs:
            ids.push_back(CObjectID.FromBinary((<ObjectRef>r)._id))
        with nogil:
            cw.ObjectLocations(ids, &nodes, &sizes)
        out = {}
        for i in range(ids.size()):
            if nodes[i].size():
                out[(<ObjectRef>refs[i])._id] = ([bytes(n).hex() for n in nodes[i]], sizes[i])
        return out

    def set_call_site(self, ObjectRef ref, str site):
        self._get().reference_counter().SetCallSite(CObjectID.FromBinary(ref._id), site.encode())

    def collect_reference_tables(self, int64_t timeout_ms=5000):
        """Serialized ReferenceTableReply of every core worker on this node."""
        cdef CCoreWorker* cw = self._get()
        cdef c_vector[c_string] out
        cdef CStatus s
        with nogil:
            s = cw.CollectReferenceTables(timeout_ms, &out)
        check_status(s)
        return [_pyb(out[i]) for i in range(out.size())]

    def store_stats(self, include_objects=False):
        """The node object store's usage: capacity/used/spilled bytes, object
        counts, spill totals, and (include_objects) one dict per object."""
        cdef CStoreDetailedStats st
        cdef CStatus s
        cdef c_bool inc = bool(include_objects)
        cdef CCoreWorker* cw = self._get()
        with nogil:
            s = cw.store_client().GetDetailedStats(inc, &st)
        check_status(s)
        out = {
            "capacity": st.capacity, "used": st.used, "num_objects": st.num_objects,
            "spilled_bytes": st.spilled_bytes, "num_spilled": st.num_spilled,
            "bytes_spilled_total": st.bytes_spilled_total,
            "bytes_restored_total": st.bytes_restored_total,
            "num_evicted_total": st.num_evicted_total,
            "spilling_enabled": st.spilling_enabled,
            "spill_directory": st.spill_directory.decode(),
            "num_spill_files_total": st.num_spill_files_total,
            "num_spill_fsyncs_total": st.num_spill_fsyncs_total,
            "num_spill_writes_in_flight": st.num_spill_writes_in_flight,
            "num_spill_reads_in_flight": st.num_spill_reads_in_flight,
            "spill_fsync": st.spill_fsync,
        }
        if include_objects:
            out["objects"] = [{
                "object_id": o.object_id.hex(), "owner_id": o.owner_id.hex(), "size": o.size,
                "state": o.state.decode(), "in_memory": o.in_memory, "external": o.external,
                "primary": o.primary, "pins": o.pins} for o in st.objects]
        return out

    # ------------------------------------------------------------ objects
    def put(self, ser):
        """Stores a SerializedObject owned by this worker; returns its ObjectRef."""
        cdef CCoreWorker* cw = self._get()
        cdef c_vector[CObjectReference] nested
        cdef CObjectID oid
        cdef uint8_t* data
        cdef CStatus s
        cdef uint64_t size = ser.total_size
        cdef c_string meta = ser.metadata
        cdef CWorkerID me = cw.worker_id()
        _fill_nested(&nested, ser.contained_refs)
        if size <= <uint64_t>_inline_limit:
            oid = cw.PutInline(<bytes>ser.to_bytes(), meta, nested)
            return _make_ref(oid, self._address)
        with nogil:
            s = cw.CreatePlasma(size, meta, NULL, me, &oid, &data)
        check_status(s)
        try:
            _write_pieces(data, size, ser.pieces())
        except BaseException:
            cw.AbortPlasma(oid)
            raise
        with nogil:
            s = cw.SealPlasma(oid, True, nested)
        check_status(s)
        return _make_ref(oid, self._address)

    cdef _ids_and_owners(self, list refs, c_vector[CObjectID]* ids, c_vector[CAddress]* owners):
        """Ids of `refs`, and their owners' addresses (left empty for refs owned
        here: the core worker knows those without parsing)."""
        cdef ObjectRef r
        ids.reserve(len(refs))
        for ref in refs:
            r = <ObjectRef>ref
            ids.push_back(CObjectID.FromBinary(r._id))
        self._owners_of(refs, owners)

    cdef _owners_of(self, list refs, c_vector[CAddress]* owners):
        """One address per ref: parsed for refs owned elsewhere, left empty for
        refs owned here."""
        cdef ObjectRef r
        owners.resize(len(refs))
        for i, ref in enumerate(refs):
            r = <ObjectRef>ref
            if len(r._owner) and r._owner is not self._address:
                deref(owners)[i].ParseFromString(r._owner)

    def get(self, list refs, timeout_ms):
        """[(metadata, data)] for each ref, blocking up to timeout_ms (-1 forever)."""
        cdef CCoreWorker* cw = self._get()
        cdef c_vector[CObjectID] ids
        cdef c_vector[CAddress] owners
        cdef c_vector[shared_ptr[CRayObject]] out
        cdef int64_t t = timeout_ms
        cdef CStatus s
        self._ids_and_owners(refs, &ids, &owners)
        with nogil:
            s = cw.Get(ids, owners, t, &out)
        check_status(s)
        return [_obj_to_py(out[i]) for i in range(out.size())]

    def wait_refs(self, list items, size_t num_returns, int64_t timeout_ms):
        """wait() over a list of ObjectRefs only, the common case, kept in C:
        (ready, not_ready) with the first num_returns ready refs in list order,
        or None when an entry is not an ObjectRef (the caller's general path
        takes those). The caller has checked num_returns against len(items);
        a duplicate raises ValueError as the general path does."""
        cdef CCoreWorker* cw = self._get()
        cdef Py_ssize_t n = len(items), i, start
        cdef c_vector[CObjectID] ids
        cdef c_vector[CAddress] owners
        cdef c_vector[c_bool] streams
        cdef c_vector[c_bool] ready
        cdef CStatus s
        cdef ObjectRef r
        cdef c_bool foreign = False
        ids.reserve(n)
        for i in range(n):
            item = items[i]
            if type(item) is not ObjectRef:
                return None
            r = <ObjectRef>item
            ids.push_back(CObjectID.FromBinary(r._id))
            # Owned here (same bytes object) needs no address; others (borrowed,
            # or owner unknown) go through the general owner lookup below.
            foreign = foreign or r._owner is not self._address
        if FindDuplicateId(ids) >= 0:
            raise ValueError("wait() expected a list of unique ObjectRefs; the list holds duplicates")
        if foreign:
            self._owners_of(items, &owners)
        with nogil:
            s = cw.Wait(ids, owners, streams, num_returns, timeout_ms, &ready)
        check_status(s)
        # Wait flags at most num_returns entries (the first ready ones); the
        # not-ready list is the slices between them.
        ready_refs = []
        not_ready = []
        start = 0
        for i in range(n):
            if ready[i]:
                ready_refs.append(items[i])
                if i > start:
                    not_ready.extend(items[start:i])
                start = i + 1
        if start < n:
            not_ready.extend(items[start:])
        return ready_refs, not_ready

    def wait(self, list refs, size_t num_returns, timeout_ms, list is_stream=None):
        """Ready flag per entry. is_stream[i] true: refs[i] is the return 1 of a
        streaming generator, which is ready when its next() would not block."""
        cdef CCoreWorker* cw = self._get()
        cdef c_vector[CObjectID] ids
        cdef c_vector[CAddress] owners
        cdef c_vector[c_bool] streams
        cdef c_vector[c_bool] ready
        cdef int64_t t = timeout_ms
        cdef CStatus s
        self._ids_and_owners(refs, &ids, &owners)
        if is_stream:
            for flag in is_stream:
                streams.push_back(bool(flag))
        with nogil:
            s = cw.Wait(ids, owners, streams, num_returns, t, &ready)
        check_status(s)
        return [bool(ready[i]) for i in range(ready.size())]

    # ------------------------------------------------------------ tasks
    def submit_task(self, bytes function_id, str module, str function_name, str name, list args,
                    list kwarg_names, int num_returns, dict resources, int max_calls=0, int max_retries=0,
                    c_bool retry_exceptions=False, bytes retry_allowlist=b"", c_bool dynamic=False,
                    c_bool streaming=False, int64_t backpressure=0, tuple placement=None,
                    c_bool fail_on_infeasible=False, bytes runtime_env=b"", tuple strategy=None):
        """args: ObjectRef (passed by reference) or SerializedObject (inline when
        small, else stored first); placement: (group id bytes, bundle index,
        capture child tasks) or None; runtime_env: the resolved environment's
        JSON (b"": the default). Returns the return ObjectRefs."""
        cdef CCoreWorker* cw = self._get()
        cdef CTaskSpec spec
        cdef c_vector[CObjectID] returns
        fd = spec.mutable_function()
        fd.set_function_id(function_id)
        fd.set_module_name(module.encode())
        fd.set_function_name(function_name.encode())
        spec.set_name(name.encode())
        spec.set_num_returns(num_returns)
        spec.set_max_calls(max_calls)
        spec.set_max_retries(max_retries)
        spec.set_retry_exceptions(retry_exceptions)
        spec.set_retry_exception_allowlist(retry_allowlist)
        spec.set_dynamic_returns(dynamic)
        spec.set_streaming_returns(streaming)
        spec.set_generator_backpressure_num_objects(backpressure)
        spec.set_fail_on_infeasible(fail_on_infeasible)
        if runtime_env:
            spec.set_runtime_env(runtime_env)
        _set_placement(&spec, placement)
        _set_strategy(&spec, strategy)
        for k, v in resources.items():
            deref(spec.mutable_required_resources())[k.encode()] = v
        keep = _fill_spec_args(cw, &spec, args, kwarg_names, self._address, self)
        with nogil:
            returns = cw.SubmitTask(move(spec))
        del keep
        return [_make_ref(returns[i], self._address) for i in range(returns.size())]

    # ------------------------------------------------------------ actors
    def create_actor(self, bytes actor_id, bytes function_id, str module, str class_name, list args,
                     list kwarg_names, dict resources, dict placement_resources, int max_restarts,
                     int max_concurrency, c_bool is_asyncio, str name, str namespace, c_bool detached,
                     bytes serialized_handle, tuple placement=None, bytes runtime_env=b"",
                     c_bool fail_on_infeasible=False, tuple strategy=None):
        """Registers the actor with the GCS. Returns the existing actor's info
        dict when `name` is taken in `namespace`, else the ObjectRef every handle
        holds (None for a detached actor): the actor ends when it is freed."""
        cdef CCoreWorker* cw = self._get()
        cdef CTaskSpec spec
        cdef CActorTableData existing
        cdef CObjectID handle_object
        cdef CStatus s
        fd = spec.mutable_function()
        fd.set_function_id(function_id)
        fd.set_module_name(module.encode())
        fd.set_function_name(class_name.encode())
        spec.set_name((class_name + ".__init__").encode())
        spec.set_num_returns(0)
        for k, v in resources.items():
            deref(spec.mutable_required_resources())[k.encode()] = v
        for k, v in placement_resources.items():
            deref(spec.mutable_placement_resources())[k.encode()] = v
        c = spec.mutable_actor_creation()
        c.set_actor_id(actor_id)
        c.set_max_restarts(max_restarts)
        c.set_max_concurrency(max_concurrency)
        c.set_is_asyncio(is_asyncio)
        c.set_name(name.encode())
        c.set_ray_namespace(namespace.encode())
        c.set_detached(detached)
        c.set_serialized_handle(serialized_handle)
        c.set_class_name(class_name.encode())
        if runtime_env:
            spec.set_runtime_env(runtime_env)
        _set_placement(&spec, placement)
        _set_strategy(&spec, strategy)
        spec.set_fail_on_infeasible(fail_on_infeasible)
        keep = _fill_spec_args(cw, &spec, args, kwarg_names, self._address, self)
        with nogil:
            s = cw.CreateActor(move(spec), &existing, &handle_object)
        del keep
        if s.code_int() == 4:
            return _actor_data_to_dict(existing)
        check_status(s)
        if handle_object.IsNil():
            return None
        return _make_ref(handle_object, self._address)

    def add_actor_handle(self, bytes actor_id, int max_task_retries, c_bool owned):
        cdef CCoreWorker* cw = self._get()
        cdef c_string aid = actor_id
        cdef CStatus s
        with nogil:
            s = cw.AddActorHandle(aid, max_task_retries, owned)
        check_status(s)

    def submit_actor_task(self, bytes actor_id, str method, str name, list args, list kwarg_names,
                          int num_returns, c_bool streaming=False, int64_t backpressure=0,
                          str concurrency_group=None, max_task_retries=None, c_bool retry_exceptions=False,
                          bytes retry_allowlist=None):
        """concurrency_group None: the default group; max_task_retries None:
        the actor's; retry_exceptions: retry application errors (those of the
        pickled allowlist, if given) within those retries."""
        cdef CCoreWorker* cw = self._get()
        cdef CTaskSpec spec
        cdef c_vector[CObjectID] returns
        cdef c_string aid = actor_id
        fd = spec.mutable_function()
        fd.set_function_name(method.encode())
        spec.set_name(name.encode())
        spec.set_num_returns(num_returns)
        spec.set_streaming_returns(streaming)
        spec.set_generator_backpressure_num_objects(backpressure)
        if concurrency_group:
            spec.mutable_actor_task().set_concurrency_group(concurrency_group.encode())
        if max_task_retries is not None:
            spec.mutable_actor_task().set_max_task_retries(max_task_retries)
        if retry_exceptions:
            spec.set_retry_exceptions(True)
            if retry_allowlist:
                spec.set_retry_exception_allowlist(retry_allowlist)
        keep = _fill_spec_args(cw, &spec, args, kwarg_names, self._address, self)
        with nogil:
            returns = cw.SubmitActorTask(aid, move(spec))
        del keep
        return [_make_ref(returns[i], self._address) for i in range(returns.size())]

    def actor_num_pending(self, bytes actor_id):
        return self._get().ActorNumPending(actor_id)

    def kill_actor(self, bytes actor_id, c_bool no_restart, str reason):
        cdef CCoreWorker* cw = self._get()
        cdef c_string aid = actor_id, why = reason.encode()
        cdef CStatus s
        with nogil:
            s = cw.KillActor(aid, no_restart, why)
        check_status(s)

    def cancel_task(self, ObjectRef ref, c_bool force, c_bool recursive):
        cdef CCoreWorker* cw = self._get()
        cdef CObjectID oid = CObjectID.FromBinary(ref._id)
        cdef CStatus s
        with nogil:
            s = cw.CancelTask(oid, force, recursive)
        check_status(s)

    # ------------------------------------------------------------ streaming generators
    def stream_next(self, bytes task_id, int64_t timeout_ms):
        """(0, item ref) | (1, None) at the end | (2, ref to the task's failure)."""
        cdef CCoreWorker* cw = self._get()
        cdef CTaskID tid = CTaskID.FromBinary(task_id)
        cdef int kind = 1
        cdef CObjectID oid
        cdef int64_t index = 0
        cdef CStatus s
        with nogil:
            s = cw.StreamNext(tid, timeout_ms, &kind, &oid, &index)
        check_status(s)
        if kind == 1:
            return 1, None
        ref = _make_ref(oid, self._address)
        if kind == 0:
            cw.StreamRelease(tid, index)   # the Python ref holds it now
        return kind, ref

    def stream_drop(self, bytes task_id):
        cdef CCoreWorker* cw = self._get()
        cdef CTaskID tid = CTaskID.FromBinary(task_id)
        with nogil:
            cw.StreamDrop(tid)

    def stream_next_ready(self, bytes task_id):
        return self._get().StreamNextReady(CTaskID.FromBinary(task_id))

    def stream_is_finished(self, bytes task_id):
        return self._get().StreamIsFinished(CTaskID.FromBinary(task_id))

    def num_streams(self):
        return self._get().NumStreams()

    def list_tasks(self):
        """[(task_id hex, name, state, attempt_number, error_type)] of this
        process's own tasks: pending ones, then finished attempts."""
        cdef c_vector[CTaskStateRecord] recs = self._get().ListTasks()
        return [(recs[i].task_id.Hex().decode(), recs[i].name.decode("utf-8", "replace"),
                 recs[i].state_name().decode(), recs[i].attempt_number,
                 recs[i].error_type.decode()) for i in range(recs.size())]

    def flush_replies(self):
        cdef CCoreWorker* cw = self._get()
        with nogil:
            cw.FlushReplies()

    def take_cancel_target(self):
        """The task id a cancel request wants interrupted (b"" if none)."""
        return _pyb(self._get().TakeCancelTarget())

    def enable_direct_calls(self, c_bool threads):
        """An async (threads False) or threaded actor's calls are taken by
        run_direct_calls / serve_direct_calls from now on; returns the eventfd
        that is readable while some wait (the loop's reader; -1 for threads)."""
        cdef int fd = -1
        check_status(self._get().EnableDirectCalls(threads, &fd))
        return fd

    def serve_direct_calls(self):
        """A threaded actor's pool thread: runs its calls until the worker exits."""
        cdef CCoreWorker* cw = self._get()
        with nogil:
            cw.ServeDirectCalls()

    def run_direct_calls(self):
        """Hands every waiting direct call to the executor on this thread;
        returns how many (their replies are corked until flush_replies)."""
        cdef CCoreWorker* cw = self._get()
        cdef int n
        with nogil:
            n = cw.RunDirectCalls()
        return n

    def run_task_loop(self):
        cdef CCoreWorker* cw = self._get()
        cdef CStatus s
        with nogil:
            s = cw.RunTaskLoop()
        check_status(s)

    def request_exit(self, str reason):
        self._get().RequestExit(reason.encode())

    def forward_logs(self, list lines, c_bool is_err):
        cdef c_vector[c_string] v
        cdef CCoreWorker* cw = self._get()
        for l in lines:
            v.push_back(l.encode("utf-8", "replace"))
        with nogil:
            cw.ForwardLogs(v, is_err)

    def take_forwarded(self, int64_t timeout_ms):
        """Driver: the lines its DriverLogRelay queued, as [(text, is_err)],
        waiting up to timeout_ms (<0 forever) for the first; None once the
        core worker shut down (see lumos._private.progress_display)."""
        cdef c_vector[c_pair[c_string, c_bool]] got
        cdef c_bool more
        cdef CCoreWorker* cw = self._get()
        with nogil:
            more = cw.log_relay().Take(&got, timeout_ms)
        if not more:
            return None
        return [(p.first.decode("utf-8", "replace"), p.second) for p in got]

    def set_log_capture(self, c_bool on):
        """Driver: while on, forwarded lines are queued for take_forwarded
        instead of written to stdout/stderr (bars are on screen)."""
        self._get().log_relay().SetCapture(on)


def current_placement():
    """(group id bytes, bundle index, capture child tasks) of the running task
    or actor; None outside placement groups (and in the driver)."""
    return _current_placement


def set_task_executor(fn):
    global _task_executor
    _task_executor = fn


def set_system_config(str name, str value):
    """Sets a C++ config knob in this process; False when the name is unknown."""
    return CConfig.Get().Set(name.encode(), value.encode())


def set_cluster_identity(str token, str node_ip):
    """Sets, for every connection this process makes from now on, the cluster
    token presented to TCP peers and the IP of the node it runs on (peers on
    that IP are reached over Unix sockets)."""
    SetClusterToken(token.encode())
    SetLocalNodeIp(node_ip.encode())


def tie_lifetime_to_parent(int parent_pid, int sig):
    return TieLifetimeToParent(parent_pid, sig)
