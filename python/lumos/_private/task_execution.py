"""Runs tasks and actor calls inside a worker: load the function (or class),
rebuild the arguments, call it, and finish the reply with what it returned
(or the exception it raised).

Plain tasks and calls of a plain actor run on the main thread, one at a time.
An actor with max_concurrency > 1 or concurrency groups runs calls on thread
pools; an actor with async methods runs them on asyncio loops (each in its own
thread), one per concurrency group (see actor_concurrency).
"""
import asyncio
import inspect
import os
import pickle
import sys
import threading
import traceback

from lumos import exceptions
from lumos._private import actor_concurrency
from lumos._private import serialization
from lumos._private import task_context
from lumos.actor import ActorExit

_SKIP_FRAMES_FROM = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ActorRuntime:
    """The actor instance hosted by this worker and how its calls run:
    `groups` (actor_concurrency.ConcurrencyGroups) holds the executors; `loop`
    and `semaphore` (async actors) and `pool` (threaded ones) are its default
    group's."""

    def __init__(self, instance, actor_id, class_name, max_concurrency, is_asyncio, serialized_handle,
                 module="", resources=None, actor_name="", concurrency_groups=None, core_worker=None):
        self.instance = instance
        self.actor_id = actor_id
        self.class_name = class_name
        self.serialized_handle = serialized_handle
        self.module = module            # for get_task_function_name: module.Class.method
        self.resources = resources or {}  # what the actor holds (get_assigned_resources)
        self.actor_name = actor_name    # "" when unnamed
        self.reconstructed = None       # asked of the GCS on first use (num_restarts > 0)
        self.exited = None              # why, once exit_actor() began: later calls are refused
        serve = core_worker.serve_direct_calls if core_worker is not None else None
        self.groups = actor_concurrency.ConcurrencyGroups(is_asyncio, max_concurrency, concurrency_groups, serve)
        default = self.groups.default
        self.loop = default.loop if is_asyncio else None
        self.semaphore = default.semaphore if is_asyncio else None
        self.pool = None if is_asyncio else default


class TaskExecutor:
    def __init__(self, loader, state, forwarders=(), request_exit=None, kill_self=None):
        self._loader = loader
        self._state = state
        self._forwarders = forwarders
        self._request_exit = request_exit
        self._kill_self = kill_self
        self._loop = None  # for `async def` remote functions
        self.running_task_id = None  # task on the main thread (cancel target)
        # A cancel that arrived after the core worker took its task off the
        # queue but before __call__ began (set from the signal handler).
        self.cancel_before_start = None
        self._async_calls = {}       # task id -> asyncio task (async actors)
        self._async_lock = threading.Lock()
        self._contexts = {}          # task id -> TaskContext of the calls running now
        # Only a task on the main thread can be interrupted by the cancel
        # signal: direct calls run __call__ on an async actor's loop thread.
        self._main_ident = threading.get_ident()

    def mark_cancelled(self, task_id):
        """Records a cancel request for a running call (its is_canceled())."""
        ctx = self._contexts.get(task_id)
        if ctx is not None:
            ctx.cancelled = True

    def _in_context(self, ctx, fn, *args):
        """Runs fn(*args) with `ctx` as the current task context."""
        token = task_context.enter(ctx)
        self._contexts[ctx.binary_id] = ctx
        try:
            return fn(*args)
        finally:
            self._contexts.pop(ctx.binary_id, None)
            task_context.leave(token)

    def cancel_async(self, task_id):
        """Cancels a running call of an async actor; False if none matches."""
        with self._async_lock:
            task = self._async_calls.get(task_id)
        runtime = self._state.actor
        if task is None or runtime is None or runtime.loop is None:
            return False
        task.get_loop().call_soon_threadsafe(task.cancel)   # its group's loop
        return True

    def __call__(self, function_id, module, function_name, name, job_id, task_id, args, kwarg_names,
                 num_returns, actor, replier, opts=(False, b"", False, b"", False, 0)):
        on_main = threading.get_ident() == self._main_ident
        try:
            if on_main:
                self.running_task_id = task_id
            if self.cancel_before_start == task_id:
                self.cancel_before_start = None
                raise KeyboardInterrupt("cancelled before it started")
            if actor is not None and actor[0] == "call":
                # The call's context is set where it runs (main thread, pool or loop).
                self._dispatch(function_id, function_name, name, job_id, task_id, args, kwarg_names,
                               num_returns, actor, replier, opts)
            else:
                self._in_context(_spec_context(task_id, name, module, function_name, opts, actor),
                                 self._dispatch, function_id, function_name, name, job_id, task_id, args,
                                 kwarg_names, num_returns, actor, replier, opts)
        except KeyboardInterrupt:
            # A cancel that landed outside the task's body: while its function
            # or arguments were loaded, or as its reply left. The body's own
            # handler covers the rest.
            if on_main:
                self.running_task_id = None
            if not replier.finished:
                self._finish_cancelled(replier, name, num_returns)
        finally:
            if on_main:
                self.running_task_id = None

    def _dispatch(self, function_id, function_name, name, job_id, task_id, args, kwarg_names, num_returns,
                  actor, replier, opts):
        actor_runtime = self._state.actor
        prefix = actor_runtime.class_name if actor_runtime is not None else (
            actor[5] if actor and actor[0] == "create" else name)
        for f in self._forwarders:
            f.set_task_name(prefix)
        if actor is None:
            self._run_task(function_id, name, job_id, task_id, args, kwarg_names, num_returns, replier, opts)
        elif actor[0] == "create":
            is_error, results, message = self._create_actor(function_id, name, job_id, args, kwarg_names, actor,
                                                            opts)
            self._finish(replier, is_error, results, message)
        else:
            self._call_actor(function_name, name, task_id, args, kwarg_names, num_returns, replier, opts, actor[5])

    def _finish(self, replier, is_error, results, error_message="", retryable=False, cancelled=False,
                num_streamed=0):
        for f in self._forwarders:
            f.flush()
        replier.finish(is_error, results, error_message, retryable, cancelled, num_streamed)

    def _finish_cancelled(self, replier, name, num_returns):
        msg = "task '%s' was cancelled while it ran" % name
        self._finish(replier, True, [serialization.SerializedObject(
            serialization.META_TASK_CANCELLED, msg.encode())] * max(num_returns, 1), cancelled=True)

    # ------------------------------------------------------------ plain tasks
    def _prepare(self, name, args, kwarg_names, num_returns):
        """(positional, kwargs) or (None, error results)."""
        for meta, data in args:
            if serialization.is_error(meta):
                err = serialization.error_from(meta, data)
                return None, [_error_object(err, name)] * max(num_returns, 1)
        try:
            values = [serialization.deserialize(meta, data) for meta, data in args]
        except Exception as e:
            return None, [_error_object(_task_error(name, e), name)] * max(num_returns, 1)
        n_kw = len(kwarg_names)
        positional = values[:len(values) - n_kw] if n_kw else values
        kwargs = dict(zip(kwarg_names, values[len(values) - n_kw:])) if n_kw else {}
        return (positional, kwargs), None

    def _run_task(self, function_id, name, job_id, task_id, args, kwarg_names, num_returns, replier, opts):
        retry_exceptions, allowlist, dynamic, caller, streaming = opts[:5]
        try:
            fn = self._loader.load(job_id, function_id, name)
        except Exception as e:
            self._finish(replier, True, [_error_object(_task_error(name, e), name)] * max(num_returns, 1))
            return
        prepared, errors = self._prepare(name, args, kwarg_names, num_returns)
        if prepared is None:
            self._finish(replier, True, errors)
            return
        if streaming:
            self._finish(replier, *self._stream(replier, name, fn, prepared, retry_exceptions, allowlist))
            return
        try:
            result = fn(*prepared[0], **prepared[1])
            if inspect.iscoroutine(result):
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                result = self._loop.run_until_complete(result)
            if dynamic:
                self._finish(replier, *_dynamic_results(name, task_id, result, caller))
                return
        except SystemExit as e:
            # Like Ray: sys.exit() in a task ends the worker; the caller sees
            # a WorkerCrashedError rather than a task error.
            if self._request_exit:
                self._request_exit("task %s called sys.exit(%s)" % (name, e.code))
            msg = "The worker running task '%s' exited: the task called sys.exit(%s)." % (name, e.code)
            self._finish(replier, True, [serialization.SerializedObject(
                serialization.META_WORKER_DIED, msg.encode())] * max(num_returns, 1))
            return
        except KeyboardInterrupt:
            self._finish_cancelled(replier, name, num_returns)
            return
        except Exception as e:
            retryable = retry_exceptions and _matches_allowlist(e, allowlist)
            err = _task_error(name, e)
            self._finish(replier, True, [_error_object(err, name)] * max(num_returns, 1),
                         error_message=_error_text(err), retryable=retryable)
            return
        self._finish(replier, *_results(name, result, num_returns))

    # ------------------------------------------------------------ actors
    def _create_actor(self, function_id, name, job_id, args, kwarg_names, actor, opts):
        """(is_error, results, one-line error message) of running __init__
        (an `async def __init__` of an async actor runs on the actor's loop)."""
        _, actor_id, max_concurrency, is_asyncio, serialized_handle, class_name = actor
        ctx = task_context.current()

        def failed(e):
            return True, [_error_object(_task_error(name, e), name)], "%s: %s" % (type(e).__name__, e)
        try:
            cls = self._loader.load(job_id, function_id, name)
        except Exception as e:
            return failed(e)
        prepared, errors = self._prepare(name, args, kwarg_names, 1)
        if prepared is None:
            return True, errors, "an argument of %s could not be fetched" % name
        async_init = is_asyncio and inspect.iscoroutinefunction(getattr(cls, "__init__", None))
        try:
            instance = cls.__new__(cls) if async_init else cls(*prepared[0], **prepared[1])
        except Exception as e:
            return failed(e)
        runtime = ActorRuntime(instance, actor_id, class_name, max(1, max_concurrency), is_asyncio,
                               serialized_handle, module=getattr(cls, "__module__", "") or "",
                               resources=ctx.resources if ctx is not None else {},
                               actor_name=_tinfo(opts)[3], concurrency_groups=_groups_of(serialized_handle),
                               core_worker=self._state.core_worker)
        if async_init:
            async def run_init():
                token = task_context.enter(ctx)
                try:
                    await instance.__init__(*prepared[0], **prepared[1])
                finally:
                    task_context.leave(token)
            try:
                asyncio.run_coroutine_threadsafe(run_init(), runtime.loop).result()
            except Exception as e:
                runtime.loop.call_soon_threadsafe(runtime.loop.stop)
                return failed(e)
        self._state.actor = runtime
        if self._state.core_worker is not None and runtime.groups.takes_direct_calls():
            try:
                self._take_direct_calls(runtime)
            except Exception as e:   # the main thread keeps handing the calls out
                print("lumos: actor %s: calls go through the main thread (%s)" % (class_name, e),
                      file=sys.stderr, flush=True)
        return False, [], ""

    def _take_direct_calls(self, runtime):
        """The actor's later calls reach the threads that run them directly
        (CoreWorker::EnableDirectCalls), with no hand-over from the main
        thread. A threaded actor's pool threads already wait in
        serve_direct_calls (actor_concurrency.CallPool). An async actor's
        default loop runs them when the core worker's eventfd says some wait,
        and starts each as a task of that loop (_call_actor); a batch's
        replies leave together once the loop has run the tasks' first steps
        (most small calls finish in theirs)."""
        cw = self._state.core_worker
        if runtime.loop is None:
            cw.enable_direct_calls(True)
            return
        loop = runtime.loop

        def run_waiting_calls():
            if cw.run_direct_calls() > 1:
                loop.call_soon(cw.flush_replies)
        loop.call_soon_threadsafe(loop.add_reader, cw.enable_direct_calls(False), run_waiting_calls)

    def _call_actor(self, method_name, name, task_id, args, kwarg_names, num_returns, replier, opts, group=""):
        runtime = self._state.actor
        if runtime is None:
            msg = "this worker hosts no actor (call %s arrived before or without its actor)" % name
            replier.finish(True, [serialization.SerializedObject(serialization.META_SYSTEM_ERROR, msg.encode())]
                           * max(num_returns, 1))
            return
        if runtime.exited is not None:
            # Sent before the caller heard the actor is gone: it never runs.
            msg = "The actor %s exited: %s." % (runtime.class_name, runtime.exited)
            self._finish(replier, True, [serialization.SerializedObject(serialization.META_ACTOR_DIED,
                                                                        msg.encode())] * max(num_returns, 1))
            return
        prepared, errors = self._prepare(name, args, kwarg_names, num_returns)
        if prepared is None:
            self._finish(replier, True, errors)
            return
        try:
            bound = getattr(runtime.instance, method_name)
        except AttributeError as e:
            self._finish(replier, True, [_error_object(_task_error(name, e), name)] * max(num_returns, 1))
            return
        try:
            executor = runtime.groups.group(group)
        except KeyError:
            err = ValueError("actor %s has no concurrency group %r (its groups: %s)" % (
                runtime.class_name, group, ", ".join(runtime.groups.names()) or "none"))
            self._finish(replier, True, [_error_object(_task_error(name, err), name)] * max(num_returns, 1))
            return
        positional, kwargs = prepared
        ctx = task_context.TaskContext(task_id, name, "%s.%s.%s" % (runtime.module, runtime.class_name, method_name),
                                       runtime.resources, _tinfo(opts)[2])
        if runtime.loop is not None:
            semaphore = executor.semaphore

            async def run_async():
                with self._async_lock:
                    self._async_calls[task_id] = asyncio.current_task()
                task_context.enter(ctx)   # this asyncio task's own context
                self._contexts[task_id] = ctx
                try:
                    async with semaphore:   # a cancel may land while waiting here, too
                        if opts[4]:
                            outcome = await self._stream_async(replier, name, bound, (positional, kwargs), opts)
                            self._finish(replier, *outcome[:2], retryable=outcome[3], num_streamed=outcome[2])
                            return
                        result = bound(*positional, **kwargs)
                        if inspect.isawaitable(result):
                            result = await result
                        outcome = _results(name, result, num_returns)
                    if ctx.cancelled:
                        # The coroutine swallowed the CancelledError: like Ray,
                        # the caller still sees the call as cancelled.
                        raise asyncio.CancelledError()
                except (ActorExit, exceptions.AsyncioActorExit):
                    self._exit_actor(replier, name, num_returns)
                    return
                except SystemExit as e:
                    _exit_unexpectedly(name, e)
                except asyncio.CancelledError:
                    # Like Ray: both a RayTaskError and a TaskCancelledError.
                    err = exceptions.TaskCancelledError("actor call %s was cancelled while it ran" % name)
                    self._finish(replier, True, [_error_object(_task_error(name, err), name)]
                                 * max(num_returns, 1), cancelled=True)
                    return
                except Exception as e:
                    outcome = (True, [_error_object(_task_error(name, e), name)] * max(num_returns, 1), "",
                               _retryable(e, opts))
                finally:
                    with self._async_lock:
                        self._async_calls.pop(task_id, None)
                    self._contexts.pop(task_id, None)
                self._finish(replier, *outcome)
            if asyncio.events._get_running_loop() is executor.loop:
                executor.loop.create_task(run_async())   # a direct call, on that loop's thread
            else:
                asyncio.run_coroutine_threadsafe(run_async(), executor.loop)
        elif opts[4]:
            if executor is not None:
                executor.submit(self._in_context, ctx, self._stream_call, replier, name, bound, prepared, opts)
            else:
                self._in_context(ctx, self._stream_call, replier, name, bound, prepared, opts)
        elif executor is not None:
            executor.submit(self._in_context, ctx, self._run_call, bound, positional, kwargs, name, num_returns,
                            replier, opts)
        else:
            self._in_context(ctx, self._run_call, bound, positional, kwargs, name, num_returns, replier, opts)

    def _stream_call(self, replier, name, bound, prepared, opts):
        self._finish(replier, *self._stream(replier, name, bound, prepared, opts[0], opts[1]))

    # ------------------------------------------------------------ streaming generators
    def _stream(self, replier, name, fn, prepared, retry_exceptions=False, allowlist=b""):
        """Runs a streaming generator task (sync or async generator function) on
        this thread, reporting each value as it is yielded. An exception becomes
        the last item (and return 1), unless retry_exceptions covers it: then it
        is only return 1 with the reply marked retryable (see _stream_failure).
        Returns the _finish arguments."""
        n = 0
        try:
            result = fn(*prepared[0], **prepared[1])
            if inspect.isasyncgen(result):
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                while True:
                    try:
                        value = self._loop.run_until_complete(result.__anext__())
                    except StopAsyncIteration:
                        break
                    _report(replier, n, value)
                    n += 1
            else:
                _check_generator(name, result)
                for value in result:
                    _report(replier, n, value)
                    n += 1
        except _CallerGone:
            _close(result)
            return False, [serialization.serialize(None, "stream end")], "", False, False, replier.num_reported
        except BaseException as e:
            retryable = retry_exceptions and isinstance(e, Exception) and _matches_allowlist(e, allowlist)
            return self._stream_failure(replier, name, e, retryable)
        return False, [serialization.serialize(None, "stream end")], "", False, False, replier.num_reported

    async def _stream_async(self, replier, name, fn, prepared, opts):
        """_stream for calls of an async actor: runs on its asyncio loop; under
        backpressure the (blocking) report runs in a thread so other calls go on."""
        n = 0
        backpressure = opts[5]
        loop = asyncio.get_running_loop()

        async def report(i, value):
            if backpressure > 0:
                ser = serialization.serialize(value, "yielded value")
                try:
                    await loop.run_in_executor(None, replier.report_item, i, ser)
                except Exception as e:
                    raise _CallerGone() from e
            else:
                _report(replier, i, value)
        result = None
        try:
            result = fn(*prepared[0], **prepared[1])
            if inspect.isasyncgen(result):
                async for value in result:
                    await report(n, value)
                    n += 1
            else:
                _check_generator(name, result)
                for value in result:
                    await report(n, value)
                    n += 1
        except _CallerGone:
            return False, [serialization.serialize(None, "stream end")], replier.num_reported, False
        except asyncio.CancelledError:
            out = self._stream_failure(replier, name, KeyboardInterrupt())
            return out[0], out[1], out[5], False
        except BaseException as e:
            out = self._stream_failure(replier, name, e, isinstance(e, Exception) and _retryable(e, opts))
            return out[0], out[1], out[5], out[3]
        return False, [serialization.serialize(None, "stream end")], replier.num_reported, False

    def _stream_failure(self, replier, name, e, retryable=False):
        """The generator raised: the error is the next item and return 1. A
        retryable error is not reported as an item: the owner either runs the
        task again (whose items at the same indexes would be ignored as
        duplicates, so an error item there would stick) or, out of retries,
        ends the stream with return 1 as a failure."""
        cancelled = isinstance(e, KeyboardInterrupt)
        if cancelled:
            err = serialization.SerializedObject(
                serialization.META_TASK_CANCELLED, ("task '%s' was cancelled while it ran" % name).encode())
        elif isinstance(e, SystemExit):
            if self._request_exit:
                self._request_exit("task %s called sys.exit(%s)" % (name, e.code))
            err = serialization.SerializedObject(serialization.META_WORKER_DIED, (
                "The worker running task '%s' exited: the task called sys.exit(%s)." % (name, e.code)).encode())
        elif isinstance(e, Exception):
            err = _error_object(_task_error(name, e), name)
        else:
            raise e
        if not retryable:
            try:
                replier.report_item(replier.num_reported, err)
            except Exception:
                pass  # the caller is gone: nobody reads the error
        return True, [err], "%s: %s" % (type(e).__name__, e), retryable, cancelled, replier.num_reported

    def _run_call(self, bound, positional, kwargs, name, num_returns, replier, opts):
        try:
            result = bound(*positional, **kwargs)
        except ActorExit:
            self._exit_actor(replier, name, num_returns)
            return
        except SystemExit as e:
            _exit_unexpectedly(name, e)
        except Exception as e:
            self._finish(replier, True, [_error_object(_task_error(name, e), name)] * max(num_returns, 1),
                         retryable=_retryable(e, opts))
            return
        self._finish(replier, *_results(name, result, num_returns))

    def _exit_actor(self, replier, name, num_returns, why="the actor called exit_actor()"):
        """Graceful exit: answer this call, tell the GCS (no restart), then leave."""
        runtime = self._state.actor
        if runtime is not None:
            runtime.exited = why
        msg = "The actor %s exited: %s." % (runtime.class_name if runtime else "", why)
        self._finish(replier, True, [serialization.SerializedObject(serialization.META_ACTOR_DIED, msg.encode())]
                     * max(num_returns, 1))
        if self._kill_self and runtime is not None:
            try:
                self._kill_self(runtime.actor_id, why)
            except Exception:
                pass
        if self._request_exit:
            self._request_exit(why)


def _exit_unexpectedly(name, exc):
    """sys.exit() in an actor method: like Ray, the actor's process ends as
    if it had crashed (only exit_actor() is an intentional exit), so the GCS
    restarts the actor under max_restarts and callers retry the call under
    max_task_retries. The call gets no reply; replies of calls that finished
    before it are flushed first. Exits with the code sys.exit() was given
    (a non-int code is printed and gives 1, as Python does)."""
    code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    print("lumos: actor call %s called sys.exit(%s); the actor process exits (restarted if it has "
          "max_restarts left)" % (name, exc.code), file=sys.stderr, flush=True)
    try:
        from lumos._private import worker as _worker
        cw = _worker.global_state().core_worker
        if cw is not None:
            cw.flush_replies()
    except Exception:
        pass
    os._exit(code)


class _CallerGone(Exception):
    """The caller of a streaming generator went away: stop producing."""


def _report(replier, index, value):
    ser = serialization.serialize(value, "yielded value")   # may raise: a task error
    try:
        replier.report_item(index, ser)
    except Exception as e:
        raise _CallerGone() from e


def _check_generator(name, result):
    if not inspect.isgenerator(result):
        raise TypeError("task %s has num_returns='streaming' but returned %s, not a generator; use a "
                        "function that yields, or another num_returns" % (name, type(result).__name__))


def _close(gen):
    try:
        gen.close()
    except Exception:
        pass


def _retryable(exc, opts):
    """The call asked (retry_exceptions, opts[0]; allowlist opts[1]) to be
    retried on this exception: its caller runs it again if it has retries left."""
    return bool(opts[0]) and _matches_allowlist(exc, opts[1])


def _groups_of(serialized_handle):
    """The actor's concurrency groups {name: limit}, from the handle state
    its creator pickled into the creation spec (lumos.actor)."""
    if not serialized_handle:
        return {}
    return pickle.loads(serialized_handle).get("concurrency_groups") or {}


def _matches_allowlist(exc, allowlist):
    if not allowlist:
        return True
    try:
        classes = pickle.loads(allowlist)
    except Exception:
        return False
    return isinstance(exc, tuple(classes))


def _dynamic_results(name, task_id, result, caller):
    """num_returns="dynamic": every yielded value becomes return object 2, 3, ...;
    return 1 is a DynamicObjectRefGenerator over their refs. An exception
    mid-way becomes the last object."""
    from lumos import _raylet
    from lumos._private.generators import DynamicObjectRefGenerator
    values = []
    try:
        for v in result:
            values.append(serialization.serialize(v, "yielded value"))
    except Exception as e:
        values.append(_error_object(_task_error(name, e), name))
    refs = [_raylet.ObjectRef(_raylet.object_id_for_return(task_id, i + 2), caller) for i in range(len(values))]
    head = serialization.serialize(DynamicObjectRefGenerator(refs), "dynamic returns")
    return False, [head] + values


def _results(name, result, num_returns):
    if num_returns == 1:
        return _serialize_all(name, [result])
    if num_returns == 0:
        return False, []
    if inspect.isgenerator(result):
        return _drain_generator(name, result, num_returns)
    try:
        results = list(result) if not isinstance(result, (list, tuple)) else result
    except Exception as e:
        return True, [_error_object(_task_error(name, e), name)] * num_returns
    if len(results) != num_returns:
        wrong = ValueError("task %s declared num_returns=%d but returned %d values" % (name, num_returns, len(results)))
        return True, [_error_object(_task_error(name, wrong), name)] * num_returns
    return _serialize_all(name, results)


def _serialize_all(name, values):
    out = []
    for v in values:
        try:
            out.append(serialization.serialize(v, "return value"))
        except Exception as e:
            return True, [_error_object(_task_error(name, e), name)] * len(values)
    return False, out


def _drain_generator(name, gen, num_returns):
    """Values a generator yielded before failing stay gettable; the remaining
    returns hold the error."""
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


class EnvSetupFailedExecutor(TaskExecutor):
    """The executor of a worker whose runtime environment could not be set
    up: every task and actor creation it is given fails with
    RuntimeEnvSetupError (the raylet only sends it work of that environment,
    so this fails exactly the calls that need it, without a hang). After
    pip.failure_remembered_s() the worker leaves, so a later request gets a
    new worker that tries the set-up again."""

    setup_error = "runtime_env setup failed"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from lumos._private.runtime_env import pip as _pip
        if self._request_exit is not None:
            timer = threading.Timer(_pip.failure_remembered_s(), self._request_exit,
                                    ("runtime_env setup failed a while ago: a new worker tries it again",))
            timer.daemon = True
            timer.start()

    def _dispatch(self, function_id, function_name, name, job_id, task_id, args, kwarg_names, num_returns,
                  actor, replier, opts):
        err = exceptions.RuntimeEnvSetupError("%s (task %s)" % (self.setup_error, name))
        obj = serialization.SerializedObject(serialization.META_TASK_ERROR, pickle.dumps(err))
        if actor is not None and actor[0] == "create":
            self._finish(replier, True, [obj], "RuntimeEnvSetupError: %s" % self.setup_error)
        else:
            self._finish(replier, True, [obj] * max(num_returns, 1))


def _tinfo(opts):
    """(resources, placement group hex, attempt number, actor name) of the
    running spec, passed by the Cython callback as opts[6]."""
    return opts[6] if len(opts) > 6 else ({}, "", 0, "")


def _spec_context(task_id, name, module, function_name, opts, actor):
    """The TaskContext of a plain task or an actor's creation task."""
    resources, pg_hex, attempt = _tinfo(opts)[:3]
    full = "%s.%s%s" % (module, function_name, ".__init__" if actor is not None else "")
    return task_context.TaskContext(task_id, name, full, task_context.original_resources(resources, pg_hex), attempt)


def _error_text(err):
    """A failed task's error as its task events keep it (the state API's
    error_message, the dashboard's task page): header and traceback, the last
    4000 characters (the exception line is at the end)."""
    return str(err)[-4000:]


def _task_error(name, exc):
    """The RayTaskError a task that raised `exc` stores. When `exc` is itself
    a task error (the task got a failed task's result), its original cause is
    kept, so the driver's `except ValueError` still catches it after any number
    of nested gets (as in Ray); the inner task's traceback follows this one's."""
    tb = exc.__traceback__
    # Drop lumos's own frames so the trace starts at the user's function.
    frames = traceback.extract_tb(tb)
    keep = [f for f in frames if not f.filename.startswith(_SKIP_FRAMES_FROM)]
    cause = exc
    if isinstance(exc, exceptions.RayTaskError) and exc.cause is not None:
        cause = exc.cause
        head = "%s: a task it waited for failed:\n" % type(exc).__name__
        inner = "\n".join("  " + line for line in (exc.traceback_str or "").rstrip().split("\n"))
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(keep)) + head + inner
    else:
        text = "Traceback (most recent call last):\n" + "".join(traceback.format_list(keep)) + \
            "".join(traceback.format_exception_only(type(exc), exc))
    return exceptions.RayTaskError(name, text, cause, proctitle="lumos::%s()" % name, pid=os.getpid())


def _error_object(err, name):
    if isinstance(err, exceptions.RayTaskError):
        return serialization.serialize_error(err)
    if isinstance(err, exceptions.WorkerCrashedError):
        return serialization.SerializedObject(serialization.META_WORKER_DIED, str(err).encode())
    if isinstance(err, exceptions.RayActorError):
        return serialization.SerializedObject(serialization.META_ACTOR_DIED, str(err).encode())
    if isinstance(err, exceptions.ObjectLostError):
        return serialization.SerializedObject(serialization.META_OBJECT_LOST, str(err).encode())
    return serialization.serialize_error(_task_error(name, err))
