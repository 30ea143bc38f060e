"""lumos: Ray's programming model (tasks, actors, objects) on a lean C++ core.

    import lumos as ray
    ray.init()

    @ray.remote
    def f(x):
        return x * x

    ray.get([f.remote(i) for i in range(4)])

Typed (py.typed): @remote on `def f(x: int) -> str` gives a
RemoteFunction[[int], str] whose .remote(...) is an ObjectRef[str]; get()
of it is a str. See "Types" in docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import inspect as _inspect
from collections.abc import Callable as _Callable, Coroutine as _Coroutine
from typing import TYPE_CHECKING as _TYPE_CHECKING, Any as _Any, ParamSpec as _ParamSpec, \
    Protocol as _Protocol, TypeVar as _TypeVar, overload as _overload

from lumos import exceptions
from lumos._raylet import ObjectRef
from lumos._private.worker import (available_resources, cluster_resources, get, init, is_initialized,
                                   nodes, put, shutdown, wait)
from lumos import actor
from lumos import experimental
from lumos import util
from lumos import runtime_env  # lumos.runtime_env.RuntimeEnv, like ray.runtime_env
from lumos._private import internal_api as _internal_api  # lumos._private.internal_api.memory_summary()
from lumos.actor import method
from lumos.runtime_context import get_runtime_context
from lumos._private.accelerators import get_gpu_ids
from lumos._private.generators import DynamicObjectRefGenerator, ObjectRefGenerator
from lumos._private.ids import ActorID, JobID, NodeID, PlacementGroupID, TaskID, WorkerID
from lumos._private.logging_config import LoggingConfig
from lumos import cloudpickle  # lumos.cloudpickle, like ray.cloudpickle
from lumos import job_config  # lumos.job_config.JobConfig, like ray.job_config

ObjectID = ObjectRef  # Ray's older name


def _connect_client(*args: _Any) -> _Any:
    """lumos.init("lumos://..." or "ray://..."): client mode (lumos.util.client)."""
    from lumos.util.client.connect import init_client
    return init_client(*args)


from lumos._private import worker as _worker  # noqa: E402
_worker._client_connector = _connect_client

__version__ = "0.1.0"

if _TYPE_CHECKING:
    from lumos.actor import ActorClass, ActorHandle
    from lumos.remote_function import RemoteFunction

_T = _TypeVar("_T")
_R = _TypeVar("_R")
_P = _ParamSpec("_P")


class _RemoteDecorator(_Protocol):
    """What `@lumos.remote(num_cpus=...)` returns, for type checkers."""
    @_overload
    def __call__(self, target: type[_T], /) -> ActorClass[_T]: ...  # type: ignore[overload-overlap]  # a class is callable too
    @_overload
    def __call__(self, target: _Callable[_P, _Coroutine[_Any, _Any, _R]], /) -> RemoteFunction[_P, _R]: ...
    @_overload
    def __call__(self, target: _Callable[_P, _R], /) -> RemoteFunction[_P, _R]: ...


# The overloads map what @remote decorates to its remote type: a class to
# ActorClass[T], an async function to the type it returns when awaited, a
# function to RemoteFunction[P, R].
@_overload
def remote(target: type[_T], /) -> ActorClass[_T]: ...  # type: ignore[overload-overlap]  # first match wins
@_overload
def remote(target: _Callable[_P, _Coroutine[_Any, _Any, _R]], /) -> RemoteFunction[_P, _R]: ...
@_overload
def remote(target: _Callable[_P, _R], /) -> RemoteFunction[_P, _R]: ...
@_overload
def remote(**options: _Any) -> _RemoteDecorator: ...


def remote(*args: _Any, **kwargs: _Any) -> _Any:
    """Makes a function a remote function (task) — `@lumos.remote` or
    `@lumos.remote(num_cpus=..., num_returns=...)`."""
    from lumos.remote_function import RemoteFunction

    def make(target: _Any, options: dict[str, _Any]) -> _Any:
        if _inspect.isclass(target):
            return actor.make_actor(target, options)
        if not callable(target):
            raise TypeError("@lumos.remote must decorate a function or a class, got %r" % (target,))
        return RemoteFunction(target, options)

    if len(args) == 1 and not kwargs and callable(args[0]):
        return make(args[0], {})
    if args:
        raise TypeError("@lumos.remote takes keyword options only, e.g. @lumos.remote(num_cpus=2)")
    return lambda target: make(target, kwargs)


def get_actor(name: str, namespace: str | None = None) -> ActorHandle[_Any]:
    """The handle of the live actor named `name` (ValueError when there is none)."""
    from lumos.actor import get_actor as _get_actor
    from lumos._private import worker as _w
    if _w._client is not None:   # client mode (lumos://)
        return _w._client.api("get_actor", name, namespace)
    return _get_actor(name, namespace)


def kill(actor: ActorHandle[_Any], *, no_restart: bool = True) -> None:
    """Kills an actor at once (pending calls fail with ActorDiedError)."""
    from lumos.actor import kill as _kill
    from lumos._private import worker as _w
    if _w._client is not None:   # client mode (lumos://)
        return _w._client.api("kill", actor, no_restart=no_restart)
    return _kill(actor, no_restart=no_restart)


def cancel(object_ref: ObjectRef[_Any] | ObjectRefGenerator, *, force: bool = False, recursive: bool = True) -> None:
    """Cancels the task that makes `object_ref`: a queued task never runs, a
    running one gets KeyboardInterrupt (force=True kills its worker); getting
    the ref then raises TaskCancelledError. A finished task is left alone."""
    from lumos._private import worker as _w
    if isinstance(object_ref, ObjectRefGenerator):
        object_ref = object_ref.completed()
    if not isinstance(object_ref, ObjectRef):
        raise TypeError("lumos.cancel() expects an ObjectRef returned by .remote(), got %r" % (object_ref,))
    if _w._client is not None:   # client mode (lumos://)
        return _w._client.api("cancel", object_ref, force=bool(force), recursive=bool(recursive))
    _w.core_worker().cancel_task(object_ref, bool(force), bool(recursive))


def timeline(filename: str | None = None) -> _Any:
    """Chrome trace of the cluster's task attempts (one complete event per
    attempt, µs start/duration, node as pid, worker as tid): written to
    `filename` (its absolute path is returned), or returned as a list."""
    from lumos.util.state.timeline import timeline as _timeline
    from lumos._private import worker as _w
    if _w._client is not None:   # client mode: the driver reads the cluster's events
        events = _w._client.api("timeline", None)
        if filename is None:
            return events
        import json as _json
        import os as _os
        with open(filename, "w") as f:
            _json.dump(events, f)
        return _os.path.abspath(filename)
    return _timeline(filename)


__all__ = ["actor", "experimental", "util", "DynamicObjectRefGenerator", "ObjectRefGenerator", "init", "shutdown", "is_initialized", "remote", "get", "put", "wait", "ObjectRef",
           "ObjectID", "JobID", "TaskID", "ActorID", "NodeID", "WorkerID", "PlacementGroupID", "LoggingConfig",
           "cloudpickle", "job_config",
           "cluster_resources", "available_resources", "nodes", "get_runtime_context", "method",
           "exceptions", "get_actor", "kill", "cancel", "get_gpu_ids", "timeline"]
