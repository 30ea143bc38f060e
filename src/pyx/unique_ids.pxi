# The id classes (JobID, TaskID, ActorID, NodeID, WorkerID, PlacementGroupID)
# are plain Python (lumos/_private/ids.py); _raylet re-exports them, as
# ray._raylet does, and ObjectRef.task_id() returns this TaskID.
from lumos._private.ids import (ActorID, BaseID, JobID, NodeID, PlacementGroupID, TaskID,  # noqa: F401
                                WorkerID)
