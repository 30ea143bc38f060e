"""lumos.util.state: the subset of ray.util.state that an owner can answer by
itself. list_tasks() lists the tasks THIS process submitted (pending ones and
the last task_state_history_size finished attempts), not the whole cluster's.

States follow Ray: PENDING_ARGS_AVAIL (waiting for argument objects),
PENDING_NODE_ASSIGNMENT (waiting for a worker lease or the actor),
SUBMITTED_TO_WORKER (pushed, queued behind other tasks in that worker),
RUNNING, FINISHED, FAILED. A retry is a new attempt (attempt_number + 1); the
failed attempt stays listed as FAILED. RUNNING is inferred, not reported by
the executor: a plain task is RUNNING once it is the oldest task pushed to its
leased worker, a streaming generator task once it reported an item; an actor
call shows SUBMITTED_TO_WORKER until it finishes (unless it streams).
"""
from lumos._private import worker as _worker

_DEFAULT_LIMIT = 100


class TaskState(dict):
    """One task attempt: a dict whose keys also read as attributes
    (task_id, name, state, attempt_number, error_type)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def _match(row, filters):
    for f in filters or ():
        if not isinstance(f, (tuple, list)) or len(f) != 3:
            raise ValueError("a filter is (key, predicate, value), e.g. ('state', '=', 'RUNNING'); got %r" % (f,))
        key, pred, value = f
        if key not in row:
            raise ValueError("cannot filter on %r; keys are %s" % (key, ", ".join(sorted(row))))
        have = row[key]
        if isinstance(have, str):
            have, value = have.lower(), str(value).lower()
        if pred == "=":
            if have != value:
                return False
        elif pred == "!=":
            if have == value:
                return False
        else:
            raise ValueError("filter predicate must be '=' or '!=', got %r" % (pred,))
    return True


def list_tasks(address=None, filters=None, limit=_DEFAULT_LIMIT, timeout=None, detail=False,
               raise_on_missing_output=True, _explain=False):
    """Tasks this driver/worker submitted, newest states last: a list of
    TaskState (task_id, name, state, attempt_number, error_type).
    `filters` like Ray: [("state", "=", "FAILED"), ...] with '=' or '!='."""
    if address is not None:
        raise ValueError("list_tasks(address=...) is not built in lumos: it lists the calling process's own "
                         "tasks; call it without address")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError("limit must be a non-negative int, got %r" % (limit,))
    rows = []
    for task_id, name, state, attempt, error_type in _worker.core_worker().list_tasks():
        row = TaskState(task_id=task_id, name=name, state=state, attempt_number=attempt,
                        error_type=error_type or None)
        if _match(row, filters):
            rows.append(row)
    return rows if limit is None else rows[:limit]
