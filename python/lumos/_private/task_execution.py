"""Runs a task inside a worker: load the function, rebuild the arguments,
call it, and serialize what it returned (or the exception it raised)."""
import asyncio
import inspect
import os
import traceback

from lumos import exceptions
from lumos._private import serialization

_SKIP_FRAMES_FROM = os.path.dirname(os.path.abspath(__file__))


class TaskExecutor:
    def __init__(self, loader, forwarders=(), request_exit=None):
        self._loader = loader
        self._forwarders = forwarders
        self._request_exit = request_exit
        self._loop = None  # for `async def` remote functions
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
            if inspect.iscoroutine(result):
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                result = self._loop.run_until_complete(result)
        except SystemExit as e:
            # Like Ray: sys.exit() in a task ends the worker; the caller sees
            # a WorkerCrashedError rather than a task error.
            if self._request_exit:
                self._request_exit("task %s called sys.exit(%s)" % (name, e.code))
            msg = "The worker running task '%s' exited: the task called sys.exit(%s)." % (name, e.code)
            return True, [serialization.SerializedObject(serialization.META_WORKER_DIED, msg.encode())] * \
                max(num_returns, 1)
        except Exception as e:
            return True, [_error_object(_task_error(name, e), name)] * max(num_returns, 1)
        if num_returns == 1:
            return self._serialize_all(name, [result])
        if num_returns == 0:
            return False, []
        if inspect.isgenerator(result):
            return self._drain_generator(name, result, num_returns)
        try:
            results = list(result) if not isinstance(result, (list, tuple)) else result
        except Exception as e:
            return True, [_error_object(_task_error(name, e), name)] * num_returns
        if len(results) != num_returns:
            e = ValueError("task %s declared num_returns=%d but returned %d values" % (
                name, num_returns, len(results)))
            return True, [_error_object(_task_error(name, e), name)] * num_returns
        return self._serialize_all(name, results)

    def _serialize_all(self, name, values):
        out = []
        for v in values:
            try:
                out.append(serialization.serialize(v, "return value"))
            except Exception as e:
                return True, [_error_object(_task_error(name, e), name)] * len(values)
        return False, out

    def _drain_generator(self, name, gen, num_returns):
        """Values a generator yielded before failing stay gettable; the
        remaining returns hold the error."""
        out = []
        try:
            for value in gen:
                if len(out) == num_returns:
                    raise ValueError("task %s declared num_returns=%d but its generator yielded more" % (
                        name, num_returns))
                out.append(serialization.serialize(value, "return value"))
            if len(out) != num_returns:
                raise ValueError("task %s declared num_returns=%d but its generator yielded %d values" % (
                    name, num_returns, len(out)))
        except Exception as e:
            out.extend([_error_object(_task_error(name, e), name)] * (num_returns - len(out)))
            return True, out
        return False, out


def _task_error(name, exc):
    tb = exc.__traceback__
    # Drop lumos's own frames so the trace starts at the user's function.
    frames = traceback.extract_tb(tb)
    keep = [f for f in frames if not f.filename.startswith(_SKIP_FRAMES_FROM)]
    text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(keep)) + \
        "".join(traceback.format_exception_only(type(exc), exc))
    return exceptions.RayTaskError(name, text, exc, proctitle="lumos::%s()" % name, pid=os.getpid())


def _error_object(err, name):
    if isinstance(err, exceptions.RayTaskError):
        return serialization.serialize_error(err)
    if isinstance(err, exceptions.WorkerCrashedError):
        return serialization.SerializedObject(serialization.META_WORKER_DIED, str(err).encode())
    if isinstance(err, exceptions.ObjectLostError):
        return serialization.SerializedObject(serialization.META_OBJECT_LOST, str(err).encode())
    return serialization.serialize_error(_task_error(name, err))
