# The executing side of a worker: the globals the executor reads, the
# conversions of results and nested refs, Replier (one task's reply) and
# _execute_task_cb, the C++ core worker's entry into Python for each task.
# Split from core_worker.pxi (included before it, which uses these helpers).
import sys as _sys
from cpython.exc cimport PyErr_CheckSignals

_task_executor = None          # python callable, set by lumos._private.worker
_assign_gpus = None            # lumos._private.accelerators.assign_gpus, imported on first use
_inline_limit = 100 * 1024     # refreshed from the C++ config at CoreWorker init
# (group id bytes, bundle index, capture child tasks) of the running task or
# actor, or None: set from each task's spec before it runs (actor calls keep
# their actor's). Read by lumos.util.get_current_placement_group().
_current_placement = None


cdef inline void _set_current_placement(bytes pg_id, int bundle_index, c_bool capture):
    global _current_placement
    _current_placement = (pg_id, bundle_index, capture) if pg_id else None


_interrupt = None   # the exception a signal handler raised during a blocking call


cdef c_bool _check_signals() noexcept with gil:
    global _interrupt
    try:
        import threading
        if threading.current_thread() is threading.main_thread():
            PyErr_CheckSignals()
    except BaseException as e:
        _interrupt = e   # re-raised by check_status when the call returns
        return True
    return False


cdef object _obj_to_py(const shared_ptr[CRayObject]& obj):
    """(metadata, data) for a fetched object: data is bytes, or a PlasmaBuffer
    when the value lives in shared memory (zero-copy)."""
    cdef CRayObject* o = obj.get()
    meta = _pyb(o.metadata)
    if o.data.get() == NULL:
        return (meta, b"")
    if o.data.get().is_shared_memory():
        return (meta, _wrap_plasma(o.data))
    return (meta, (<char*>o.data.get().data())[:o.data.get().size()])


cdef int _fill_nested(c_vector[CObjectReference]* out, refs) except -1:
    cdef ObjectRef r
    for ref in refs:
        r = <ObjectRef>ref
        out.push_back(CObjectReference())
        out.back().set_object_id(r._id)
        if len(r._owner):
            out.back().mutable_owner().ParseFromString(r._owner)
    return 0


cdef int _fill_inline(CInlineObject* v, ser) except -1:
    cdef ObjectRef r
    v.set_data(<bytes>ser.to_bytes())
    v.set_metadata(<bytes>ser.metadata)
    for ref in ser.contained_refs:
        r = <ObjectRef>ref
        nested = v.add_nested_refs()
        nested.set_object_id(r._id)
        if len(r._owner):
            nested.mutable_owner().ParseFromString(r._owner)
    return 0


cdef class Replier:
    """Finishes one task pushed to this worker: serializes its results into the
    reply (large ones into the object store, owned by the caller) and sends it.
    May be called from any thread, once."""
    cdef shared_ptr[CTaskReplier] r
    # Items reported so far; set in C right after a report, so an interrupt
    # (cancel) landing in the caller's Python code cannot make it stale.
    cdef public int64_t num_reported

    @property
    def finished(self):
        """True once the reply was sent (or the caller is gone)."""
        cdef CTaskReplier* rep = self.r.get()
        return rep == NULL or rep.finished()

    def report_item(self, int64_t index, ser):
        """Streaming generators: sends yielded value `index` to the caller (into
        the object store, owned by the caller, when large). Blocks under
        backpressure; raises when the caller is gone."""
        cdef CReturnObject ret
        cdef CObjectID oid
        cdef CTaskID tid
        cdef CWorkerID owner
        cdef uint8_t* data
        cdef CStatus s
        cdef c_vector[CObjectReference] nested
        cdef CTaskReplier* rep = self.r.get()
        if rep == NULL or rep.finished():
            raise RuntimeError("the streaming task has already finished")
        tid = CTaskID.FromBinary(rep.spec().task_id())
        owner = CWorkerID.FromBinary(rep.spec().caller().worker_id())
        oid = CObjectID.FromIndex(tid, index + 2)
        ret.set_object_id(oid.Binary())
        ret.set_size(ser.total_size)
        if ser.total_size <= _inline_limit or ser.metadata.startswith(b"E"):
            _fill_inline(ret.mutable_value(), ser)
        else:
            s = _cw.CreatePlasma(ser.total_size, ser.metadata, &oid, owner, &oid, &data,
                                 rep.spec().caller().endpoint())
            if s.code_int() != 4:   # AlreadyExists: an earlier attempt stored it (retry)
                check_status(s)
                try:
                    _write_pieces(data, ser.total_size, ser.pieces())
                except BaseException:
                    _cw.AbortPlasma(oid)
                    raise
                _fill_nested(&nested, ser.contained_refs)
                s = _cw.SealPlasma(oid, False, nested)
                check_status(s)
                for i in range(nested.size()):
                    ret.add_nested_refs()[0] = nested[i]
            ret.set_in_plasma(True)
        with nogil:
            s = _cw.ReportGeneratorItem(rep, index, move(ret))
        if s.ok() and index >= self.num_reported:
            self.num_reported = index + 1
        check_status(s)

    def finish(self, is_error, results, str error_message="", retryable=False, cancelled=False,
               num_streamed=0):
        cdef CPushTaskReply reply
        cdef CReturnObject* ret
        cdef CObjectID oid
        cdef CTaskID tid
        cdef CWorkerID owner
        cdef uint8_t* data
        cdef CStatus s
        cdef c_vector[CObjectReference] nested
        cdef CTaskReplier* rep = self.r.get()
        if rep == NULL or rep.finished():
            return
        tid = CTaskID.FromBinary(rep.spec().task_id())
        owner = CWorkerID.FromBinary(rep.spec().caller().worker_id())
        for i, ser in enumerate(results):
            oid = CObjectID.FromIndex(tid, i + 1)
            ret = reply.add_return_objects()
            ret.set_object_id(oid.Binary())
            ret.set_size(ser.total_size)
            if ser.total_size <= _inline_limit or ser.metadata.startswith(b"E"):
                _fill_inline(ret.mutable_value(), ser)
                continue
            s = _cw.CreatePlasma(ser.total_size, ser.metadata, &oid, owner, &oid, &data,
                                 rep.spec().caller().endpoint())
            check_status(s)
            try:
                _write_pieces(data, ser.total_size, ser.pieces())
            except BaseException:
                _cw.AbortPlasma(oid)
                raise
            nested.clear()
            _fill_nested(&nested, ser.contained_refs)
            s = _cw.SealPlasma(oid, False, nested)
            check_status(s)
            ret.set_in_plasma(True)
            for i in range(nested.size()):
                ret.add_nested_refs()[0] = nested[i]
        reply.set_is_application_error(is_error)
        reply.set_is_retryable_error(retryable)
        reply.set_was_cancelled(cancelled)
        reply.set_num_streamed_items(num_streamed)
        if error_message:
            reply.set_error_message(error_message.encode("utf-8", "replace"))
        with nogil:
            rep.Finish(move(reply))


cdef CStatus _execute_task_cb(const CTaskSpec& spec, const c_vector[shared_ptr[CRayObject]]& args,
                              shared_ptr[CTaskReplier] replier) noexcept with gil:
    global _assign_gpus
    cdef Replier rep = Replier.__new__(Replier)
    rep.r = replier
    try:
        if not spec.has_actor_task():  # actor calls keep their actor's GPUs
            if _assign_gpus is None:
                from lumos._private.accelerators import assign_gpus
                _assign_gpus = assign_gpus
            _assign_gpus([spec.gpu_ids(i) for i in range(spec.gpu_ids_size())])
            # Actor calls keep their actor's placement group too.
            _set_current_placement(_pyb(spec.placement_group_id()), spec.placement_group_bundle_index(),
                                   spec.placement_group_capture_child_tasks())
        arg_list = [_obj_to_py(args[i]) for i in range(args.size())]
        kwnames = [spec.kwarg_names(i).decode() for i in range(spec.kwarg_names_size())]
        actor = None
        if spec.has_actor_creation():
            c = spec.actor_creation()
            actor = ("create", _pyb(c.actor_id()), c.max_concurrency(), c.is_asyncio(),
                     _pyb(c.serialized_handle()), c.class_name().decode())
        elif spec.has_actor_task():
            group = spec.actor_task().concurrency_group()
            actor = ("call", _pyb(spec.actor_task().actor_id()), 0, False, b"",
                     group.decode() if group.size() else "")   # [5]: the concurrency group
        # (resources, placement group hex, attempt, actor name): for the runtime context.
        tinfo = ({k.decode(): v for k, v in RequiredResourcesOf(spec)} if not spec.has_actor_task() else {},
                 _pyb(spec.placement_group_id()).hex(), spec.attempt_number(),
                 spec.actor_creation().name().decode() if spec.has_actor_creation() else "")
        opts = (spec.retry_exceptions(), _pyb(spec.retry_exception_allowlist()), spec.dynamic_returns(),
                _pyb(spec.caller().SerializeAsString()), spec.streaming_returns(),
                spec.generator_backpressure_num_objects(), tinfo)
        _task_executor(
            _pyb(spec.function().function_id()), spec.function().module_name().decode(),
            spec.function().function_name().decode(), spec.name().decode(), _pyb(spec.job_id()),
            _pyb(spec.task_id()), arg_list, kwnames, spec.num_returns(), actor, rep, opts)
        return CStatus()
    except BaseException as e:
        import traceback
        return MakeStatus(15, ("%s\n%s" % (e, traceback.format_exc())).encode("utf-8", "replace"))
