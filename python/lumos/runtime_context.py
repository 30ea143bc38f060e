"""lumos.get_runtime_context(): what the calling process, task or actor is.

Return types follow Ray 2.60: the get_* methods return hex strings (None
where Ray returns None, e.g. get_task_id() in a driver); the older
properties task_id, actor_id and current_placement_group_id return id
objects, while job_id and node_id stay hex strings (the seeds slice them). Task-level answers (name, function name, resources,
is_canceled) come from the TaskContext the executor sets for each call, so
concurrent calls of a threaded or async actor each see their own.
"""
import os

from lumos._private import task_context as _task_context
from lumos._private import worker as _worker


def _in_worker():
    _worker.core_worker()  # connects (starts a local cluster) like Ray's first API call
    return _worker.global_state().mode == _worker.WORKER_MODE


class RuntimeContext:
    # ------------------------------------------------------------ ids
    def get_job_id(self):
        """Hex id of the current job."""
        return _worker.current_job_id()

    def get_node_id(self):
        """Hex id of the node this process runs on."""
        return _worker.core_worker().node_id

    def get_worker_id(self):
        """Hex id of this worker (or driver) process."""
        return _worker.core_worker().worker_id

    def get_task_id(self):
        """Hex id of the running task or actor call; None in a driver."""
        if not _in_worker():
            return None
        ctx = _task_context.current()
        return ctx.task_id if ctx is not None else _worker.core_worker().current_task_id()

    def get_actor_id(self):
        """Hex id of the actor this code runs in; None outside actors."""
        actor = _worker.global_state().actor
        return None if actor is None else actor.actor_id.hex()

    def get_placement_group_id(self):
        """Hex id of the placement group the current task or actor runs in, or None."""
        from lumos._private.placement import current_group
        pg = current_group()
        return None if pg is None else pg.id.hex()

    # job_id and node_id stay hex strings (Ray's deprecated properties give
    # id objects): the seeds slice them (`node_id[:8]`), which an id object
    # does not allow. See docs/ARCHITECTURE.md.
    @property
    def job_id(self):
        return self.get_job_id()

    @property
    def node_id(self):
        return self.get_node_id()

    @property
    def task_id(self):
        from lumos._private.ids import TaskID
        hex_id = self.get_task_id()
        return None if hex_id is None else TaskID.from_hex(hex_id)

    @property
    def actor_id(self):
        """ActorID of the current actor; None outside actors (Ray's deprecated property)."""
        from lumos._private.ids import ActorID
        hex_id = self.get_actor_id()
        return None if hex_id is None else ActorID.from_hex(hex_id)

    @property
    def current_placement_group_id(self):
        """PlacementGroupID of the current task's group; the nil id outside
        groups (as Ray's deprecated property returns)."""
        from lumos._private.ids import PlacementGroupID
        hex_id = self.get_placement_group_id()
        return PlacementGroupID.nil() if hex_id is None else PlacementGroupID.from_hex(hex_id)

    @property
    def should_capture_child_tasks_in_placement_group(self):
        """True when tasks and actors submitted here without a scheduling
        strategy run in the current placement group."""
        from lumos import _raylet
        current = _raylet.current_placement()
        return bool(current is not None and current[2])

    # ------------------------------------------------------------ names
    def get_task_name(self):
        """The running task's name (`options(name=)` or the function's;
        "Class.method" for actor calls); None in a driver."""
        ctx = _task_context.current() if _in_worker() else None
        return None if ctx is None else ctx.name

    def get_task_function_name(self):
        """The running task's function as "module.qualname" ("module.Class.method"
        for actor calls); None in a driver."""
        ctx = _task_context.current() if _in_worker() else None
        return None if ctx is None else ctx.function_name

    def get_actor_name(self):
        """The current actor's name ("" if it has none); None outside actors."""
        actor = _worker.global_state().actor
        return None if actor is None else actor.actor_name

    @property
    def namespace(self):
        return _worker.current_namespace()

    @property
    def gcs_address(self):
        return _worker.global_state().gcs_address

    # ------------------------------------------------------------ node, session
    def get_node_labels(self):
        """The labels of this node (`init(labels=...)`), "ray.io/node_id" included."""
        from lumos._private import node_labels
        node_id = self.get_node_id()
        return node_labels.of_node(_worker.global_state().gcs, node_id)

    def get_session_name(self):
        """The cluster's session name ("session_<time>_<pid>")."""
        _worker.core_worker()
        return os.path.basename(os.path.normpath(_worker.global_state().session_dir))

    def get_temp_dir(self):
        """The root directory of the cluster's sessions (Ray's /tmp/ray)."""
        _worker.core_worker()
        return os.path.dirname(os.path.normpath(_worker.global_state().session_dir))

    # ------------------------------------------------------------ resources
    def get_assigned_resources(self):
        """The resources the running task or actor holds, as asked for:
        {"CPU": 2.0} for num_cpus=2, fractions as given, custom resources,
        "memory" in bytes; in a placement group under their own names ("CPU",
        not "CPU_group_0_<id>"). Only in workers, like Ray."""
        if not _in_worker():
            raise AssertionError("get_assigned_resources() is only available in a task or actor (this process "
                                 "is the driver, which holds no resources)")
        ctx = _task_context.current()
        if ctx is None:
            actor = _worker.global_state().actor
            return dict(actor.resources) if actor is not None else {}
        return dict(ctx.resources)

    def get_accelerator_ids(self):
        """{"GPU": [...]}: the GPUs of the running task or actor, as strings (like Ray)."""
        from lumos._private.accelerators import get_gpu_ids
        return {"GPU": [str(i) for i in get_gpu_ids()]}

    def get_resource_ids(self):
        """Ray's older name for get_accelerator_ids()."""
        return self.get_accelerator_ids()

    # ------------------------------------------------------------ state
    def is_canceled(self):
        """True once lumos.cancel() reached the running task or actor call
        (threaded actors are not interrupted: they can poll this). False in a
        driver."""
        ctx = _task_context.current() if _in_worker() else None
        return bool(ctx is not None and ctx.cancelled)

    @property
    def runtime_env(self):
        """The runtime environment this code runs in (the job's in a driver),
        as resolved at submission: working_dir and py_modules name their
        snapshots in the session dir."""
        import copy
        from lumos.runtime_env import RuntimeEnv
        env = dict.__new__(RuntimeEnv)
        dict.update(env, copy.deepcopy(_worker.global_state().runtime_env))
        return env

    def get_runtime_env_string(self):
        """runtime_env as a JSON string ("{}" for the default environment)."""
        return (_worker.global_state().runtime_env_json or b"{}").decode()

    @property
    def was_current_actor_reconstructed(self):
        """True in an actor that was restarted (after its process died or a
        kill with no_restart=False); False in its first incarnation and
        outside actors."""
        actor = _worker.global_state().actor
        if actor is None:
            return False
        if actor.reconstructed is None:
            info = _worker.global_state().gcs.get_actor_info(actor.actor_id)
            actor.reconstructed = bool(info and info.get("num_restarts", 0) > 0)
        return actor.reconstructed

    @property
    def current_actor(self):
        """A handle to the actor this code runs in."""
        actor = _worker.global_state().actor
        if actor is None:
            raise RuntimeError("current_actor is only available inside an actor")
        import pickle
        from lumos.actor import _rebuild_handle
        return _rebuild_handle(pickle.loads(actor.serialized_handle))


def get_runtime_context() -> "RuntimeContext":
    if _worker._client is not None:   # client mode: the context of the client's driver
        return _worker._client.runtime_context()
    return RuntimeContext()
