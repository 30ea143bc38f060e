# Profile spans recorded by code inside a task (lumos.util.profiling): handed
# to the core worker's task event buffer, which sends them with the task
# events to the GCS; `lumos.timeline()` draws them inside the task.


def record_profile_event(CoreWorker worker, bytes task_id, int attempt, str name, int64_t start_us,
                         int64_t end_us, str extra_json):
    """Records one span of attempt `attempt` of task `task_id` (binary), times
    in µs since the epoch; `extra_json` a JSON object of strings or ""."""
    cdef CCoreWorker* cw = worker._get()
    cw.RecordProfileEvent(CTaskID.FromBinary(task_id), attempt, name.encode("utf-8", "replace"), start_us, end_us,
                          extra_json.encode("utf-8", "replace"))
