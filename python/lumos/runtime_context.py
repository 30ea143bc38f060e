"""lumos.get_runtime_context(): ids of the current job, node, task and worker."""
from lumos._private import worker as _worker


class RuntimeContext:
    def get_job_id(self):
        return _worker.current_job_id()

    def get_node_id(self):
        return _worker.core_worker().node_id

    def get_worker_id(self):
        return _worker.core_worker().worker_id

    def get_task_id(self):
        cw = _worker.core_worker()
        return None if _worker.global_state().mode == _worker.SCRIPT_MODE else cw.current_task_id()

    def get_actor_id(self):
        actor = _worker.global_state().actor
        return None if actor is None else actor.actor_id.hex()

    def get_placement_group_id(self):
        """Hex id of the placement group the current task or actor runs in, or None."""
        from lumos.util.scheduling_strategies import current_group
        pg = current_group()
        return None if pg is None else pg.id.hex()

    @property
    def job_id(self):
        return self.get_job_id()

    @property
    def node_id(self):
        return self.get_node_id()

    @property
    def task_id(self):
        from lumos._raylet import TaskID
        hex_id = self.get_task_id()
        return None if hex_id is None else TaskID(bytes.fromhex(hex_id))

    @property
    def namespace(self):
        return _worker.global_state().namespace

    @property
    def gcs_address(self):
        return _worker.global_state().gcs_address

    def get_assigned_resources(self):
        return {}

    def get_accelerator_ids(self):
        """{"GPU": [...]}: the GPUs of the running task or actor, as strings (like Ray)."""
        from lumos._private.accelerators import get_gpu_ids
        return {"GPU": [str(i) for i in get_gpu_ids()]}

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
        return False

    @property
    def current_actor(self):
        """A handle to the actor this code runs in."""
        actor = _worker.global_state().actor
        if actor is None:
            raise RuntimeError("current_actor is only available inside an actor")
        import pickle
        from lumos.actor import _rebuild_handle
        return _rebuild_handle(pickle.loads(actor.serialized_handle))


def get_runtime_context():
    return RuntimeContext()
