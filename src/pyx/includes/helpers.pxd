from libc.stdint cimport uint64_t
from libcpp cimport bool as c_bool
from libcpp.string cimport string as c_string
from libcpp.map cimport map as c_map
from libcpp.vector cimport vector as c_vector
from includes.common cimport CStatus, CNodeInfo, CTaskSpec

cdef extern from "pyx_helpers.h" namespace "lumos::pyx" nogil:
    cdef cppclass CNodeView "lumos::pyx::NodeView":
        c_string node_id, node_ip, raylet_endpoint, store_endpoint, session_dir, death_reason
        c_map[c_string, double] total, available
        c_bool alive, is_head
        int raylet_pid
        uint64_t object_store_memory
    CNodeView ViewNode(const CNodeInfo&)
    CStatus MakeStatus(int code, const c_string& msg)
    c_map[c_string, double] RequiredResourcesOf(const CTaskSpec&)
    void SetSchedulingStrategy(CTaskSpec* spec, int kind, const c_string& node_id, c_bool soft,
                               const c_vector[c_string]& hard, const c_vector[c_string]& soft_labels,
                               c_bool spill_on_unavailable)
from libcpp.memory cimport unique_ptr
from includes.core_worker cimport CCoreWorker, CCoreWorkerOptions
cdef extern from "pyx_helpers.h" namespace "lumos::pyx" nogil:
    CStatus CreateCoreWorker(CCoreWorkerOptions opts, unique_ptr[CCoreWorker]* out)
