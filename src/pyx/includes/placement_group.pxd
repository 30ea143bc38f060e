from libcpp cimport bool as c_bool
from libcpp.string cimport string as c_string
from libcpp.map cimport map as c_map
from libcpp.vector cimport vector as c_vector
from libc.stdint cimport int64_t
from includes.common cimport CStatus
from includes.core_worker cimport CGcsClient

cdef extern from "pg_helpers.h" namespace "lumos::pyx" nogil:
    cdef cppclass CPgView "lumos::pyx::PgView":
        c_string id, name, ns, state, strategy, pending_reason, creator_job_id
        c_bool detached, infeasible
        c_vector[c_map[c_string, double]] bundles
        c_vector[c_string] bundle_nodes
    cdef cppclass CPgBatch "lumos::pyx::PgBatch":
        void Add(const c_string& id, int strategy, const c_vector[c_map[c_string, double]]& bundles,
                 c_bool detached, const c_string& job_id)
        CStatus Send(CGcsClient* gcs)
    CStatus CreatePg(CGcsClient* gcs, const c_string& id, const c_string& name, const c_string& ns,
                     int strategy, const c_vector[c_map[c_string, double]]& bundles, c_bool detached,
                     const c_string& job_id)
    CStatus GetPg(CGcsClient* gcs, const c_string& id, const c_string& name, const c_string& ns,
                  CPgView* out)
    CStatus WaitPg(CGcsClient* gcs, const c_string& id, int64_t timeout_ms, const c_vector[c_string]& also,
                   c_bool* ready, c_vector[c_string]* ready_ids)
    CStatus GetAllPg(CGcsClient* gcs, c_vector[CPgView]* out)
