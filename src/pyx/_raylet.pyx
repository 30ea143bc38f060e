# cython: language_level=3, embedsignature=True
# lumos._raylet: the Python face of the C++ core worker. Thin by design: each
# area lives in its own .pxi, declared in includes/*.pxd.
include "common.pxi"        # check_status: Status codes -> lumos.exceptions
include "buffers.pxi"       # PlasmaBuffer (read-only shm view), WritableBuffer
include "unique_ids.pxi"    # JobID, TaskID, ActorID, NodeID, WorkerID, PlacementGroupID
include "object_ref.pxi"    # ObjectRef: id + owner, counted by the core worker
include "gcs_client.pxi"    # GcsClient: node table, jobs, KV (gRPC)
include "placement_group.pxi"  # placement group calls to the GCS
include "task_executor.pxi" # Replier and the task-execution callback (the worker side)
include "core_worker.pxi"   # CoreWorker: put/get/wait/submit/run tasks
include "profiling.pxi"     # record_profile_event: spans inside tasks (lumos.util.profiling)

# Ray programs import the generator types from ray._raylet as well as from ray.
from lumos._private.generators import DynamicObjectRefGenerator, ObjectRefGenerator  # noqa: E402
