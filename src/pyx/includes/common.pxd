# C++ declarations shared by every area: Status, ids, protobuf messages.
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libcpp cimport bool as c_bool
from libcpp.string cimport string as c_string
from libcpp.vector cimport vector as c_vector
from libcpp.map cimport map as c_map
from libcpp.memory cimport shared_ptr, unique_ptr

cdef extern from "common/status.h" namespace "lumos" nogil:
    cdef cppclass CStatus "lumos::Status":
        CStatus()
        c_bool ok()
        int code_int()
        const c_string& message()
        c_string ToString()

    cdef cppclass CResult "lumos::Result"[T]:
        c_bool ok()
        const CStatus& status()
        T& value()

cdef extern from "common/id.h" namespace "lumos" nogil:
    cdef cppclass CJobID "lumos::JobID":
        @staticmethod
        CJobID FromBinary(const c_string&)
        @staticmethod
        CJobID FromInt(uint32_t)
        c_string Binary()
        c_string Hex()
        uint32_t ToInt()
    cdef cppclass CWorkerID "lumos::WorkerID":
        @staticmethod
        CWorkerID FromBinary(const c_string&)
        c_string Binary()
        c_string Hex()
    cdef cppclass CNodeID "lumos::NodeID":
        @staticmethod
        CNodeID FromBinary(const c_string&)
        c_string Binary()
        c_string Hex()
    cdef cppclass CTaskID "lumos::TaskID":
        @staticmethod
        CTaskID FromBinary(const c_string&)
        c_string Binary()
        c_string Hex()
        c_bool IsNil()
    cdef cppclass CObjectID "lumos::ObjectID":
        CObjectID()
        c_bool IsNil()
        @staticmethod
        CObjectID FromBinary(const c_string&)
        @staticmethod
        CObjectID FromIndex(const CTaskID&, uint32_t)
        c_string Binary()
        c_string Hex()
        CTaskID Task()

cdef extern from "common/duplicate_ids.h" namespace "lumos" nogil:
    int64_t FindDuplicateId[T](const c_vector[T]& ids)

cdef extern from "common/config.h" namespace "lumos" nogil:
    cdef cppclass CConfig "lumos::Config":
        @staticmethod
        CConfig& Get()
        int64_t max_direct_call_object_size()
        c_bool Set(const c_string&, const c_string&)

cdef extern from "rpc/cluster_identity.h" namespace "lumos::rpc" nogil:
    void SetClusterToken(c_string token)
    void SetLocalNodeIp(c_string ip)
    const c_string& LocalNodeIp()

cdef extern from "common/process_util.h" namespace "lumos" nogil:
    c_bool TieLifetimeToParent(int expected_parent, int sig)

cdef extern from "google/protobuf/map.h" nogil:
    cdef cppclass CDoubleMap "google::protobuf::Map<std::string, double>":
        double& operator[](const c_string&)

cdef extern from "common.pb.h" namespace "lumos::rpc" nogil:
    cdef cppclass CAddress "lumos::rpc::Address":
        CAddress()
        const c_string& node_id()
        const c_string& worker_id()
        const c_string& endpoint()
        c_bool ParseFromString(const c_string&)
        c_string SerializeAsString()
    cdef cppclass CObjectReference "lumos::rpc::ObjectReference":
        CObjectReference()
        void set_object_id(const c_string&)
        const c_string& object_id()
        CAddress* mutable_owner()
        const CAddress& owner()
    cdef cppclass CInlineObject "lumos::rpc::InlineObject":
        void set_data(const c_string&)
        void set_data(const char*, size_t)
        void set_metadata(const c_string&)
        CObjectReference* add_nested_refs()
    cdef cppclass CFunctionDescriptor "lumos::rpc::FunctionDescriptor":
        void set_module_name(const c_string&)
        void set_function_name(const c_string&)
        void set_function_id(const c_string&)
        const c_string& module_name()
        const c_string& function_name()
        const c_string& function_id()
    cdef cppclass CTaskArg "lumos::rpc::TaskArg":
        CInlineObject* mutable_value()
        CObjectReference* mutable_ref()
    cdef cppclass CActorCreationSpec "lumos::rpc::ActorCreationSpec":
        void set_actor_id(const c_string&)
        const c_string& actor_id()
        void set_max_restarts(int)
        void set_max_concurrency(int)
        int max_concurrency()
        void set_is_asyncio(c_bool)
        c_bool is_asyncio()
        void set_name(const c_string&)
        const c_string& name()
        void set_ray_namespace(const c_string&)
        void set_detached(c_bool)
        void set_serialized_handle(const c_string&)
        const c_string& serialized_handle()
        void set_class_name(const c_string&)
        const c_string& class_name()
    cdef cppclass CActorTaskSpec "lumos::rpc::ActorTaskSpec":
        const c_string& actor_id()
        const c_string& concurrency_group()
        void set_concurrency_group(const c_string&)
        void set_max_task_retries(int)
    cdef cppclass CActorTableData "lumos::rpc::ActorTableData":
        CActorTableData()
        const c_string& actor_id()
        int state()
        const c_string& death_cause()
        const c_string& name()
        const c_string& ray_namespace()
        const c_string& class_name()
        const c_string& serialized_handle()
        c_bool detached()
        int64_t num_restarts()
    cdef cppclass CTaskSpec "lumos::rpc::TaskSpec":
        CTaskSpec()
        c_string SerializeAsString()
        const c_string& task_id()
        const c_string& job_id()
        const CAddress& caller()
        CFunctionDescriptor* mutable_function()
        const CFunctionDescriptor& function()
        CTaskArg* add_args()
        void set_num_returns(int)
        int num_returns()
        CDoubleMap* mutable_required_resources()
        void set_name(const c_string&)
        const c_string& name()
        void set_max_calls(int)
        void add_kwarg_names(const c_string&)
        CActorCreationSpec* mutable_actor_creation()
        const CActorCreationSpec& actor_creation()
        c_bool has_actor_creation()
        const CActorTaskSpec& actor_task()
        CActorTaskSpec* mutable_actor_task()
        c_bool has_actor_task()
        CDoubleMap* mutable_placement_resources()
        void set_max_retries(int)
        void set_retry_exceptions(c_bool)
        c_bool retry_exceptions()
        void set_retry_exception_allowlist(const c_string&)
        const c_string& retry_exception_allowlist()
        void set_dynamic_returns(c_bool)
        c_bool dynamic_returns()
        void set_streaming_returns(c_bool)
        c_bool streaming_returns()
        void set_generator_backpressure_num_objects(int64_t)
        int64_t generator_backpressure_num_objects()
        int attempt_number()
        void set_placement_group_id(const c_string&)
        const c_string& placement_group_id()
        void set_placement_group_bundle_index(int)
        int placement_group_bundle_index()
        void set_placement_group_capture_child_tasks(c_bool)
        c_bool placement_group_capture_child_tasks()
        void set_fail_on_infeasible(c_bool)
        void set_runtime_env(const c_string&)
        int gpu_ids_size()
        int gpu_ids(int)
        int kwarg_names_size()
        const c_string& kwarg_names(int)
    cdef cppclass CReturnObject "lumos::rpc::ReturnObject":
        CReturnObject()
        void set_object_id(const c_string&)
        void set_in_plasma(c_bool)
        CInlineObject* mutable_value()
        void set_size(int64_t)
        CObjectReference* add_nested_refs()

cdef extern from "core_worker.pb.h" namespace "lumos::rpc" nogil:
    cdef cppclass CPushTaskReply "lumos::rpc::PushTaskReply":
        CReturnObject* add_return_objects()
        void set_is_application_error(c_bool)
        void set_error_message(const c_string&)
        void set_is_retryable_error(c_bool)
        void set_was_cancelled(c_bool)
        void set_num_streamed_items(int64_t)

cdef extern from "gcs_service.pb.h" namespace "lumos::rpc" nogil:
    cdef cppclass CNodeInfo "lumos::rpc::NodeInfo":
        c_string SerializeAsString()
    cdef cppclass CJobInfo "lumos::rpc::JobInfo":
        CJobInfo()
        void set_job_id(const c_string&)
        void set_driver_pid(int)
        void set_driver_ip(const c_string&)
        void set_start_time_ms(int64_t)
        void set_namespace "set_namespace_"(const c_string&)
        void set_config_json(const c_string&)
        void set_entrypoint(const c_string&)
        c_string SerializeAsString()
