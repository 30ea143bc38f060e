"""lumos.util.state: Ray's state API (list_*, get_*, summarize_*) over the
whole cluster. Data comes from the GCS (actors, nodes, jobs, placement
groups, task events) and from every node's raylet and core workers
(workers, object references). See docs/ARCHITECTURE.md, "Observability".
"""
from lumos.util.state.api import (  # noqa: F401
    get_actor, get_job, get_node, get_objects, get_placement_group, get_task, get_worker, list_actors,
    list_jobs, list_nodes, list_objects, list_placement_groups, list_tasks, list_workers, summarize_actors,
    summarize_objects, summarize_tasks)
from lumos.util.state.common import (  # noqa: F401
    ActorState, JobState, NodeState, ObjectState, PlacementGroupState, StateList, TaskState, WorkerState)
from lumos.util.state.logs import get_log, list_logs  # noqa: F401
from lumos.util.state.sources import StateSourceError  # noqa: F401

__all__ = [
    "list_actors", "list_tasks", "list_objects", "list_nodes", "list_workers", "list_jobs",
    "list_placement_groups", "get_actor", "get_task", "get_node", "get_worker", "get_placement_group", "get_job",
    "get_objects", "summarize_tasks", "summarize_actors", "summarize_objects", "StateSourceError", "list_logs",
    "get_log",
]
