from cython.operator cimport dereference as deref
from libc.string cimport memcpy
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libcpp cimport bool as c_bool
from libcpp.string cimport string as c_string
from libcpp.vector cimport vector as c_vector
from libcpp.map cimport map as c_map
from libcpp.memory cimport shared_ptr, unique_ptr
from libcpp.utility cimport move
from includes.common cimport *
from includes.core_worker cimport *
from includes.helpers cimport *

from lumos import exceptions as _exc

# Status code (src/cpp/common/status.h) -> exception class. kPythonError (14)
# means a Python exception is already set and passes through unchanged.
_STATUS_EXCEPTIONS = {
    1: ValueError,
    2: TypeError,
    3: ValueError,
    4: ValueError,
    5: _exc.GetTimeoutError,
    6: _exc.RaySystemError,
    7: _exc.ObjectStoreFullError,
    8: _exc.RaySystemError,
    9: _exc.RaySystemError,
    10: _exc.RaySystemError,
    11: _exc.WorkerCrashedError,
    12: _exc.ObjectLostError,
    13: KeyboardInterrupt,
    15: _exc.RaySystemError,
    16: _exc.RaySystemError,
    17: getattr(_exc, "AuthenticationError", _exc.RaySystemError),
}

cdef int check_status(const CStatus& status) except -1:
    if status.ok():
        return 0
    code = status.code_int()
    if code == 13:
        global _interrupt
        exc, _interrupt = _interrupt, None
        if exc is not None:
            raise exc
    message = status.message().decode("utf-8", "replace")
    raise _STATUS_EXCEPTIONS.get(code, _exc.RaySystemError)(message)

cdef inline c_string _b(s):
    if isinstance(s, bytes):
        return s
    return (<str>s).encode("utf-8")


cdef inline bytes _pyb(const c_string& s):
    return s


cdef dict _actor_data_to_dict(const CActorTableData& d):
    return {"actor_id": _pyb(d.actor_id()), "state": d.state(), "death_cause": d.death_cause().decode(),
            "name": d.name().decode(), "namespace": d.ray_namespace().decode(),
            "class_name": d.class_name().decode(), "serialized_handle": _pyb(d.serialized_handle()),
            "detached": d.detached(), "num_restarts": d.num_restarts()}
