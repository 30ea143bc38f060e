# C++ declarations of the core worker and the GCS client.
from libc.stdint cimport uint8_t, uint64_t, int64_t
from libcpp cimport bool as c_bool
from libcpp.string cimport string as c_string
from libcpp.vector cimport vector as c_vector
from libcpp.map cimport map as c_map
from libcpp.memory cimport shared_ptr, unique_ptr
from includes.common cimport *

cdef extern from "core_worker/ray_object.h" namespace "lumos::core" nogil:
    cdef cppclass CBuffer "lumos::core::Buffer":
        const uint8_t* data()
        size_t size()
        c_bool is_shared_memory()
    cdef cppclass CRayObject "lumos::core::RayObject":
        shared_ptr[CBuffer] data
        c_string metadata
        c_bool in_plasma

cdef extern from "core_worker/task_replier.h" namespace "lumos::core" nogil:
    cdef cppclass CTaskReplier "lumos::core::TaskReplier":
        const CTaskSpec& spec()
        c_bool finished()
        void Finish(CPushTaskReply reply)

ctypedef CStatus (*CTaskExecutorFn)(const CTaskSpec&, const c_vector[shared_ptr[CRayObject]]&,
                                    shared_ptr[CTaskReplier]) noexcept
ctypedef c_bool (*CInterruptCheckFn)() noexcept

cdef extern from "object_store/store_client.h" namespace "lumos::object_store" nogil:
    cdef cppclass CStoreObjectInfo "lumos::object_store::StoreClient::ObjectInfo":
        c_string object_id
        c_string owner_id
        uint64_t size
        c_string state
        c_bool in_memory
        c_bool external
        c_bool primary
        uint64_t pins
    cdef cppclass CStoreDetailedStats "lumos::object_store::StoreClient::DetailedStats":
        uint64_t capacity, used, num_objects, spilled_bytes, num_spilled
        uint64_t bytes_spilled_total, bytes_restored_total, num_evicted_total
        uint64_t num_spill_files_total, num_spill_fsyncs_total
        uint64_t num_spill_writes_in_flight, num_spill_reads_in_flight
        c_bool spilling_enabled, spill_fsync
        c_string spill_directory
        c_vector[CStoreObjectInfo] objects
    cdef cppclass CStoreClient "lumos::object_store::StoreClient":
        CStatus GetDetailedStats(c_bool include_objects, CStoreDetailedStats* out)

from libcpp.utility cimport pair as c_pair

cdef extern from "core_worker/driver_log_relay.h" namespace "lumos::core" nogil:
    cdef cppclass CDriverLogRelay "lumos::core::DriverLogRelay":
        void SetCapture(c_bool on)
        c_bool Take(c_vector[c_pair[c_string, c_bool]]* out, int64_t timeout_ms)
        uint64_t num_dropped()

cdef extern from "core_worker/core_worker.h" namespace "lumos::core" nogil:
    cdef cppclass CTaskExecutor "lumos::core::TaskExecutor":
        CTaskExecutor()
        CTaskExecutor(CTaskExecutorFn)
    cdef cppclass CInterruptCheck "lumos::core::MemoryStore::InterruptCheck":
        CInterruptCheck()
        CInterruptCheck(CInterruptCheckFn)

    cdef cppclass CCoreWorkerOptions "lumos::core::CoreWorkerOptions":
        c_bool is_driver
        c_string raylet_socket
        c_string store_socket
        c_string gcs_address
        c_string session_dir
        CJobID job_id
        int raylet_pid
        CTaskExecutor executor
        CInterruptCheck check_signals

    cdef cppclass CReferenceInfo "lumos::core::ReferenceInfo":
        CObjectID id
        CAddress owner
        c_bool owned
        c_bool in_plasma
        c_bool escaped
        int64_t local
        int64_t submitted
        int64_t contained_in
        int64_t borrowers

    cdef cppclass CReferenceCounter "lumos::core::ReferenceCounter":
        size_t NumObjects()
        size_t NumOwned()
        c_vector[CReferenceInfo] Snapshot()
        void SetCallSite(const CObjectID& id, c_string site)

    cdef cppclass CTaskStateRecord "lumos::core::TaskStateRecord":
        CTaskID task_id
        c_string name
        int attempt_number
        c_string error_type
        const char* state_name()

    cdef cppclass CCoreWorker "lumos::core::CoreWorker":
        @staticmethod
        CResult[unique_ptr[CCoreWorker]] Create(CCoreWorkerOptions)
        const CWorkerID& worker_id()
        const CNodeID& node_id()
        const CJobID& job_id()
        CTaskID current_task_id()
        const CAddress& address()
        const c_map[c_string, double]& node_resources()
        CObjectID PutInline(c_string data, c_string metadata, c_vector[CObjectReference] nested)
        CStatus CreatePlasma(uint64_t size, const c_string& metadata, const CObjectID* id,
                             const CWorkerID& owner, CObjectID* out_id, uint8_t** data)
        CStatus CreatePlasma(uint64_t size, const c_string& metadata, const CObjectID* id,
                             const CWorkerID& owner, CObjectID* out_id, uint8_t** data,
                             const c_string& owner_endpoint)
        CStatus SealPlasma(const CObjectID& id, c_bool owned, const c_vector[CObjectReference]& nested)
        CStatus AbortPlasma(const CObjectID& id)
        CStatus Get(const c_vector[CObjectID]& ids, const c_vector[CAddress]& owners, int64_t timeout_ms,
                    c_vector[shared_ptr[CRayObject]]* out)
        CStatus Wait(const c_vector[CObjectID]& ids, const c_vector[CAddress]& owners,
                     const c_vector[c_bool]& is_stream, size_t num_returns, int64_t timeout_ms,
                     c_vector[c_bool]* ready)
        void AddLocalRef(const CObjectID& id, const CAddress* owner)
        void RemoveLocalRef(const CObjectID& id)
        void MarkEscaped(const CObjectID& id)
        void AddDeserializedRef(const CObjectID& id, const CAddress& owner)
        void FlushBorrowerRegistrations()
        @staticmethod
        c_bool HasPendingRegistrations()
        int64_t InlineSize(const CObjectID& id)
        void ObjectLocations(const c_vector[CObjectID]& ids, c_vector[c_vector[c_string]]* nodes,
                             c_vector[int64_t]* sizes)
        CStatus CollectReferenceTables(int64_t timeout_ms, c_vector[c_string]* out)
        CReferenceCounter& reference_counter()
        CStoreClient* store_client()
        c_vector[CObjectID] SubmitTask(CTaskSpec spec)
        CStatus CreateActor(CTaskSpec spec, CActorTableData* existing, CObjectID* handle_object)
        CStatus AddActorHandle(const c_string& actor_id, int max_task_retries, c_bool owned)
        c_vector[CObjectID] SubmitActorTask(const c_string& actor_id, CTaskSpec spec)
        int64_t ActorNumPending(const c_string& actor_id)
        CStatus KillActor(const c_string& actor_id, c_bool no_restart, const c_string& reason)
        CStatus CancelTask(const CObjectID& ref, c_bool force, c_bool recursive)
        c_string TakeCancelTarget()
        void FlushReplies()
        CStatus RunTaskLoop()
        CStatus EnableDirectCalls(c_bool threads, int* fd)
        void ServeDirectCalls()
        int RunDirectCalls()
        void RequestExit(const c_string& reason)
        void ForwardLogs(const c_vector[c_string]& lines, c_bool is_err)
        void RecordProfileEvent(const CTaskID& task, int attempt, c_string name, int64_t start_us,
                                int64_t end_us, c_string extra_json)
        CDriverLogRelay& log_relay()
        void Shutdown()
        CStatus StreamNext(const CTaskID& task, int64_t timeout_ms, int* kind, CObjectID* id, int64_t* index)
        void StreamRelease(const CTaskID& task, int64_t index)
        void StreamDrop(const CTaskID& task)
        c_bool StreamNextReady(const CTaskID& task)
        c_bool StreamIsFinished(const CTaskID& task)
        size_t NumStreams()
        CStatus ReportGeneratorItem(CTaskReplier* replier, int64_t index, CReturnObject item)
        c_vector[CTaskStateRecord] ListTasks()

cdef extern from "rpc/gcs_client.h" namespace "lumos::rpc" nogil:
    cdef cppclass CGcsClient "lumos::rpc::GcsClient":
        CGcsClient(c_string address)
        CStatus Connect(int64_t timeout_ms)
        CStatus GetAllNodeInfo(c_vector[CNodeInfo]* nodes)
        CStatus GetNextJobId(CJobID* job)
        CStatus AddJob(const CJobInfo& job)
        CStatus MarkJobFinished(const CJobID& job)
        CStatus KVGet(const c_string& ns, const c_string& key, c_string* value, c_bool* found)
        CStatus KVPut(const c_string& ns, const c_string& key, const c_string& value, c_bool overwrite,
                      c_bool* added)
        CStatus KVDel(const c_string& ns, const c_string& key, c_bool by_prefix, int64_t* deleted)
        CStatus KVKeys(const c_string& ns, const c_string& prefix, c_vector[c_string]* keys)
        CStatus GetNamedActorInfo(const c_string& name, const c_string& ns, CActorTableData* out)
        CStatus ListNamedActors(const c_string& ns, c_bool all_namespaces, c_vector[CActorTableData]* out)
        CStatus GetActorInfo(const c_string& actor_id, CActorTableData* out)
        CStatus KillActor(const c_string& actor_id, c_bool no_restart, const c_string& reason)
        CStatus RemovePlacementGroup(const c_string& pg_id)
        CStatus RemovePlacementGroups(const c_vector[c_string]& pg_ids)
        CStatus WaitPlacementGroupUntilReady(const c_string& pg_id, int64_t timeout_ms, c_bool* ready)
