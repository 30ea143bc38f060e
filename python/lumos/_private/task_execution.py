"""Runs a task inside a worker: load the function, rebuild the arguments,
call it, and serialize what it returned (or the exception it raised)."""
import os
import sys
import traceback

from lumos import exceptions
from lumos._private import serialization

_SKIP_FRAMES_FROM = os.path.dirname(os.path.abspath(__file__))


class TaskExecutor:
    def __init__(self, loader, forwarders=()):
        self._loader = loader
        self._forwarders = forwarders
        self.current_task_name = None

    def __call__(self, function_id, module, function_name, name, job_id, task_id, args, kwarg_names,
                 num_returns):
        self.current_task_name = name
        for f in self._forwarders:
            f.set_task_name(name)
        try:
            return self._run(function_id, function_name, name, job_id, args, kwarg_names, num_returns)
        finally:
            for f in self._forwarders:
                f.flush()

    def _run(self, function_id, function_name, name, job_id, args, kwarg_names, num_returns):
        # An argument that is an error object fails this task with that error.
        for meta, data in args:
            if serialization.is_error(meta):
                err = serialization.error_from(meta, data)
                return True, [_error_object(err, name)] * max(num_returns, 1)
        try:
            fn = self._loader.load(job_id, function_id, name)
            values = [serialization.deserialize(meta, data) for meta, data in args]
        except Exception as e:
            return True, [_error_object(_task_error(name, e), name)] * max(num_returns, 1)
        n_kw = len(kwarg_names)
        positional = values[:len(values) - n_kw] if n_kw else values
        kwargs = dict(zip(kwarg_names, values[len(values) - n_kw:])) if n_kw else {}
        try:
            result = fn(*positional, **kwargs)
        except Exception as e:
            return True, [_error_object(_task_error(name, e), name)] * max(num_returns, 1)
        try:
            if num_returns == 1:
                return False, [serialization.serialize(result, "return value")]
            if num_returns == 0:
                return False, []
            results = list(result) if not isinstance(result, (list, tuple)) else result
            if len(results) != num_returns:
                raise ValueError("task %s declared num_returns=%d but returned %d values" % (
                    name, num_returns, len(results)))
            return False, [serialization.serialize(r, "return value") for r in results]
        except Exception as e:
            return True, [_error_object(_task_error(name, e), name)] * max(num_returns, 1)


def _task_error(name, exc):
    tb = exc.__traceback__
    # Drop lumos's own frames so the trace starts at the user's function.
    frames = traceback.extract_tb(tb)
    keep = [f for f in frames if not f.filename.startswith(_SKIP_FRAMES_FROM)]
    text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(keep)) + \
        "".join(traceback.format_exception_only(type(exc), exc))
    if isinstance(exc, exceptions.RayTaskError):
        cause = exc
    else:
        cause = exc
    return exceptions.RayTaskError(name, text, cause, proctitle="lumos::%s()" % name, pid=os.getpid())


def _error_object(err, name):
    if isinstance(err, exceptions.RayTaskError):
        return serialization.serialize_error(err)
    if isinstance(err, exceptions.WorkerCrashedError):
        return serialization.SerializedObject(serialization.META_WORKER_DIED, str(err).encode())
    if isinstance(err, exceptions.ObjectLostError):
        return serialization.SerializedObject(serialization.META_OBJECT_LOST, str(err).encode())
    return serialization.serialize_error(_task_error(name, err))
