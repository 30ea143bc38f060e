"""Actors: @lumos.remote on a class → ActorClass; .remote() → ActorHandle.

Creation goes through the GCS (which leases a worker and runs __init__ there);
method calls go straight from the caller's core worker to the actor's, in the
order they were made. The owner (creator) process counts its live handles: when
the last one goes and the handle never left the process, a non-detached actor
is killed once its pending calls finish.

Types: ActorClass[T] for `@lumos.remote class T`, whose .remote() gives an
ActorHandle[T]; `handle.m` is an ActorMethod[P, R] whose .remote() gives an
ObjectRef[R]. Mapping T's methods to handle attributes needs lumos.mypy_plugin
(without it `handle.m` is ActorMethod[..., Any]). See "Types" in
docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import inspect
import os
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, NoReturn, ParamSpec, TypeVar, overload

from lumos import exceptions
from lumos._private import code_pickling
from lumos._private import runtime_env as _runtime_env
from lumos._private import worker as _worker
from lumos._private import options as _options
from lumos._private import scheduling as _scheduling
from lumos._private.placement import bundle_resources
from lumos._raylet import ObjectRef
from lumos.remote_function import _BoundOptions, _positional_range, bind_options, returns_of_call, serialize_args

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

# The option names each kind takes (the table: lumos._private.options).
ACTOR_OPTIONS = _options.ACTOR_OPTIONS
METHOD_OPTIONS = _options.METHOD_OPTIONS


class ActorExit(BaseException):
    """Raised by exit_actor() inside an actor method; ends the actor gracefully."""


def exit_actor() -> NoReturn:
    """Ends the current actor once the running call returns; later calls raise
    ActorDiedError. Only valid inside an actor. In an async actor it raises
    AsyncioActorExit (an Exception, as in Ray); elsewhere ActorExit, which
    `except Exception` does not catch."""
    state = _worker.global_state()
    if getattr(state, "actor", None) is None:
        raise TypeError("exit_actor() called outside an actor; it can only be called from an actor method")
    if getattr(state.actor, "loop", None) is not None:
        raise exceptions.AsyncioActorExit("exit_actor() called in an async actor")
    raise ActorExit()


@overload
def method(fn: F, /) -> F: ...
@overload
def method(**kwargs: Any) -> Callable[[F], F]: ...


def method(*args: Any, **kwargs: Any) -> Any:
    """@lumos.method(...) on an actor method: num_returns, concurrency_group
    (one of the class's concurrency_groups), retry_exceptions (True or a list
    of exception classes) and max_task_retries for its calls."""
    _options.validate(kwargs, _options.METHOD, "Invalid option %r for @lumos.method; valid: %s")

    def decorate(fn: F) -> F:
        fn.__lumos_method_options__ = dict(kwargs)  # type: ignore[attr-defined]
        return fn
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    if args:
        raise TypeError("@lumos.method takes keyword options only, e.g. @lumos.method(num_returns=2)")
    return decorate


def _validate_actor_options(options: dict[str, Any]) -> None:
    _options.validate(options, _options.ACTOR)


def _placement_in_group(group: tuple[Any, int, Any], placement: dict[str, float]) -> Any:
    """An actor in a placement group (`group`: placement_of(options)) needs
    its placement CPU from the bundle (and none when the bundle has no CPU)."""
    pg, index, _ = group
    if pg is None or not placement:
        return placement
    bundles = pg.bundle_specs if index < 0 else [pg.bundle_specs[index]]
    if not any(b.get("CPU", 0) >= placement["CPU"] for b in bundles):
        return {}
    return bundle_resources(pg, index, placement)


def _method_table(cls: type) -> tuple[dict[str, dict[str, Any]], bool]:
    methods = {}
    is_async = False
    for name, fn in inspect.getmembers(cls, predicate=lambda f: inspect.isfunction(f) or inspect.ismethod(f)):
        if name.startswith("__") and name != "__call__":
            continue
        opts = dict(getattr(fn, "__lumos_method_options__", {}))
        num_returns = opts.get("num_returns")
        if num_returns is None:  # like Ray: generator methods stream
            num_returns = "streaming" if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn) else 1
        methods[name] = {"num_returns": num_returns,
                         "backpressure": opts.get("_generator_backpressure_num_objects") or 0}
        call_opts = _call_options(opts)
        if call_opts:
            methods[name]["call_opts"] = call_opts
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            is_async = True
    return methods, is_async


def _call_options(opts: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The per-call options of a method (@lumos.method or .options) as
    submit_actor_task takes them, over `base` (the method's own): only those
    given, so a plain call passes none."""
    out = dict(base or {})
    if opts.get("concurrency_group") is not None:
        out["concurrency_group"] = opts["concurrency_group"]
    if opts.get("max_task_retries") is not None:
        out["max_task_retries"] = opts["max_task_retries"]
    if "retry_exceptions" in opts:
        retry = opts["retry_exceptions"]
        out.pop("retry_exceptions", None)
        out.pop("retry_allowlist", None)
        if retry:
            out["retry_exceptions"] = True
            if isinstance(retry, (list, tuple)):
                out["retry_allowlist"] = code_pickling.dumps(tuple(retry))
    return out


def _check_method_groups(name: str, methods: dict[str, dict[str, Any]], groups: dict[str, int]) -> None:
    for method, meta in methods.items():
        _options.check_group_name(meta.get("call_opts", {}).get("concurrency_group"), groups,
                                  "%s.%s" % (name, method))


class ActorClass(Generic[T]):
    """A class whose instances live in their own worker process: call `.remote()`."""

    def __init__(self, cls: type[T], options: dict[str, Any]) -> None:
        _validate_actor_options(options)
        self._cls = cls
        self._options = dict(options)
        self._methods, self._is_async = _method_table(cls)
        self._pickled: bytes | None = None
        self._function_ids: dict[tuple[int, str], bytes] = {}
        self.__name__ = cls.__name__
        self.__doc__ = cls.__doc__

    # Hidden from type checkers, so calling it is reported (at run time it raises).
    if not TYPE_CHECKING:
        def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
            raise TypeError("Actors cannot be instantiated directly. Instead of '%s()', use '%s.remote()'." % (
                self.__name__, self.__name__))

    def __repr__(self) -> str:
        return "<lumos ActorClass %s>" % self.__name__

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle[T]:
        return self._remote(args, kwargs, self._options)

    def options(self, **options: Any) -> _BoundOptions[..., ActorHandle[T]]:
        return bind_options(self, _validate_actor_options, options)

    def _function_id(self, job: str) -> bytes:
        key = (_worker.global_state().epoch, job)
        fid = self._function_ids.get(key)
        if fid is None:
            if self._pickled is None:
                try:
                    self._pickled = code_pickling.dumps(self._cls)
                except Exception as e:
                    raise TypeError("Could not serialize the actor class %s: %s" % (self.__name__, e)) from e
            fid = self._function_ids[key] = _worker.exporter_for(job).export(self._pickled)
        return fid

    def _remote(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> ActorHandle[T]:
        if _worker._client is not None:   # client mode (lumos://)
            return _worker._client.create_actor(self, args, kwargs, options)
        cw = _worker.core_worker()
        init = getattr(self._cls, "__init__", None)
        if init is not None and init is not object.__init__:
            try:
                inspect.signature(init).bind(None, *args, **kwargs)
            except TypeError as e:
                raise TypeError("%s.remote(): %s" % (self.__name__, e)) from None
            except ValueError:
                pass
        job = _worker.current_job_id()
        fid = self._function_id(job)
        name = options.get("name") or ""
        namespace = options.get("namespace") or _worker.current_namespace()
        detached = options.get("lifetime") == "detached"
        max_concurrency = options.get("max_concurrency") or (1000 if self._is_async else 1)
        groups = dict(options.get("concurrency_groups") or {})
        _check_method_groups(self.__name__, self._methods, groups)
        handle_state: dict[str, Any] = {
            "actor_id": os.urandom(16), "class_name": self.__name__, "methods": self._methods,
            "max_task_retries": options.get("max_task_retries") or 0,
            "max_pending_calls": options.get("max_pending_calls", -1) if options.get("max_pending_calls") is not None else -1,
            "is_async": self._is_async,
            "concurrency_groups": groups,   # read by the worker too (task_execution._groups_of)
        }
        arg_list, kw_names = serialize_args(args, kwargs, "argument of %s.__init__" % self.__name__)
        group = _scheduling.placement_of(options)
        held = _options.resources_of(options, default_cpus=0, placement=group, what="actor %s" % self.__name__)
        placement = {} if options.get("num_cpus") is not None else {"CPU": 1.0}
        placement = _placement_in_group(group, placement)
        try:
            _scheduling.check_node_strategy(options, "actor %s" % self.__name__)
        except exceptions.ActorUnschedulableError as e:
            # Like Ray: a handle whose calls raise the error on get (the
            # actor is never registered, so it holds no name).
            handle_state["unschedulable"] = str(e)
            return ActorHandle(handle_state, cls=self._cls)
        env = _runtime_env.spec_env(_worker.global_state(), options.get("runtime_env"))
        created: Any = cw.create_actor(
            handle_state["actor_id"], fid, self._cls.__module__ or "__main__", self.__name__, arg_list,
            kw_names, held, placement, options.get("max_restarts") or 0, max_concurrency, self._is_async,
            name, namespace, detached, pickle.dumps(handle_state), _options.spec_placement(group), env,
            bool(options.get("_fail_on_infeasible")), _scheduling.strategy_of(options))
        if isinstance(created, dict):
            existing = created
            if options.get("get_if_exists"):
                return _handle_from_info(existing)
            raise exceptions.ActorAlreadyExistsError(
                "The name %r (namespace=%r) is already taken by another actor. Use a different name, or get "
                "the existing one with lumos.get_actor(%r, namespace=%r)." % (name, namespace, name, namespace))
        handle = ActorHandle(handle_state, scope_ref=created, cls=self._cls)
        cw.add_actor_handle(handle_state["actor_id"], handle_state["max_task_retries"], True)
        return handle


class ActorHandle(Generic[T]):
    """A reference to an actor: `handle.method.remote(...)` calls it.

    A handle to a non-detached actor holds the actor's handle object (an
    ObjectRef owned by the creator): handles pickled into task arguments or
    objects carry it, so the owner's reference counter, borrowers included,
    knows when the last handle anywhere is gone and then ends the actor."""

    def __init__(self, state: dict[str, Any], scope_ref: ObjectRef[Any] | None = None,
                 cls: type[T] | None = None) -> None:
        self._state = state
        self._actor_id = state["actor_id"]
        self._scope_ref = scope_ref
        self._cls = cls
        self._epoch = _worker.global_state().epoch   # the session (init) it belongs to

    def __getattr__(self, name: str) -> ActorMethod[..., Any]:
        if name.startswith("__") or name.startswith("_"):
            raise AttributeError(name)
        meta = self._state["methods"].get(name)
        if meta is None:
            raise AttributeError("'%s' actor has no method '%s'" % (self._state["class_name"], name))
        return ActorMethod(self, name, meta)

    def __reduce__(self) -> tuple[Callable[..., ActorHandle[Any]], tuple[Any, ...]]:
        return (_rebuild_handle, (self._state, self._scope_ref))

    def __repr__(self) -> str:
        return "Actor(%s, %s)" % (self._state["class_name"], self._actor_id.hex())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id

    def __hash__(self) -> int:
        return hash(self._actor_id)

    def _check_session(self) -> None:
        """A handle kept across shutdown()/init() names an actor of the old
        cluster: calls to it could never be answered."""
        if self._epoch != _worker.global_state().epoch:
            raise exceptions.ActorHandleNotFoundError(
                "the handle of actor %s (%s) belongs to an earlier lumos session (before shutdown()/init()); "
                "its actor is gone with that cluster. Create the actor again, or look it up with "
                "lumos.get_actor()" % (self._state["class_name"], self._actor_id.hex()))

    def _call(self, method_name: str, args: tuple[Any, ...], kwargs: dict[str, Any], num_returns: Any,
              backpressure: int = 0, call_opts: dict[str, Any] | None = None) -> Any:
        cw = _worker.core_worker()
        self._check_session()
        if self._state.get("unschedulable"):
            return _unschedulable_call(cw, self._state, num_returns)
        limit = self._state.get("max_pending_calls", -1)
        if limit is not None and limit > 0 and cw.actor_num_pending(self._actor_id) >= limit:
            raise exceptions.PendingCallsLimitExceeded(
                "The actor %s has %d calls pending, the max_pending_calls limit; wait for some to finish "
                "(lumos.get/wait) before submitting more." % (self._state["class_name"], limit))
        if self._cls is not None:
            _check_method_args(self._cls, self._state["class_name"], method_name, args, kwargs)
        arg_list, kw_names = serialize_args(args, kwargs, "argument of %s.%s" % (
            self._state["class_name"], method_name))
        streaming = num_returns == "streaming"
        if call_opts:
            refs = cw.submit_actor_task(self._actor_id, method_name, "%s.%s" % (
                self._state["class_name"], method_name), arg_list, kw_names, 1 if streaming else num_returns,
                streaming, backpressure if backpressure and backpressure > 0 else 0, **call_opts)
        else:
            refs = cw.submit_actor_task(self._actor_id, method_name, "%s.%s" % (
                self._state["class_name"], method_name), arg_list, kw_names, 1 if streaming else num_returns,
                streaming, backpressure if backpressure and backpressure > 0 else 0)
        return returns_of_call(cw, refs, num_returns, streaming)


def _unschedulable_call(cw: Any, state: dict[str, Any], num_returns: Any) -> Any:
    """The refs a call to an actor that can never be placed returns: each
    raises ActorUnschedulableError on get (a streaming call raises at once)."""
    error = exceptions.ActorUnschedulableError(state["unschedulable"])
    if num_returns == "streaming":
        raise error
    from lumos._private import serialization
    data = serialization.SerializedObject(serialization.META_TASK_ERROR, pickle.dumps(error))
    refs = [cw.put(data) for _ in range(max(num_returns, 1))]
    return returns_of_call(cw, refs, num_returns, False)


# (class, method) -> (signature or None, binds self, plain positional range or None)
_SIGNATURES: dict[tuple[type, str], tuple[inspect.Signature | None, bool, tuple[int, int] | None]] = {}


def _method_positional_range(sig: inspect.Signature | None, binds_self: bool) -> tuple[int, int] | None:
    """remote_function's count check for a method: its parameters after self."""
    if sig is None:
        return None
    params = list(sig.parameters.values())
    if binds_self:
        if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
            return None
        params = params[1:]
    return _positional_range(sig.replace(parameters=params))


def _check_method_args(cls: type, class_name: str, method_name: str, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> None:
    key = (cls, method_name)
    entry = _SIGNATURES.get(key)
    if entry is None:
        raw = inspect.getattr_static(cls, method_name, None)
        fn = getattr(cls, method_name, None)
        try:
            sig = inspect.signature(fn) if fn is not None else None
        except (TypeError, ValueError):
            sig = None
        binds = not isinstance(raw, (staticmethod, classmethod))
        entry = _SIGNATURES[key] = (sig, binds, _method_positional_range(sig, binds))
    sig, binds_self, positional = entry
    if sig is None:
        return
    # Positional arguments only, to plain parameters: a count check does what
    # bind() would (~2.5 us a call, a sixth of a small call's cost here).
    if not kwargs and positional is not None and positional[0] <= len(args) <= positional[1]:
        return
    try:
        if binds_self:
            sig.bind(None, *args, **kwargs)
        else:
            sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError("%s.%s.remote(): %s" % (class_name, method_name, e)) from None


class ActorMethod(Generic[P, R]):
    """`handle.m`: call it with `.remote(...)`. P and R are the method's
    parameters (without self) and result, for type checkers."""

    def __init__(self, handle: ActorHandle[Any], name: str, meta: dict[str, Any], num_returns: Any = None,
                 backpressure: int | None = None, call_opts: dict[str, Any] | None = None) -> None:
        self._handle = handle
        self._name = name
        self._num_returns = meta.get("num_returns", 1) if num_returns is None else num_returns
        self._backpressure = meta.get("backpressure", 0) if backpressure is None else backpressure
        self._meta = meta
        # Per-call options (concurrency group, retries) to pass on; None: none.
        self._call_opts = (meta.get("call_opts") if call_opts is None else call_opts) or None

    # Hidden from type checkers, so calling it is reported (at run time it raises).
    if not TYPE_CHECKING:
        def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
            raise TypeError("Actor methods cannot be called directly. Instead of running 'object.%s()', try "
                            "'object.%s.remote()'." % (self._name, self._name))

    def remote(self, *args: P.args, **kwargs: P.kwargs) -> ObjectRef[R]:
        return self._handle._call(self._name, args, kwargs, self._num_returns, self._backpressure,  # type: ignore[no-any-return]
                                  self._call_opts)

    def options(self, **options: Any) -> ActorMethod[P, R]:
        _options.validate(options, _options.METHOD)
        state = self._handle._state
        _options.check_group_name(options.get("concurrency_group"), state.get("concurrency_groups"),
                                  "%s.%s.options()" % (state["class_name"], self._name))
        n = options.get("num_returns", self._num_returns)
        b = options.get("_generator_backpressure_num_objects", self._backpressure)
        return ActorMethod(self._handle, self._name, self._meta, n, b or 0,
                           _call_options(options, self._call_opts) or {})


def _rebuild_handle(state: dict[str, Any], scope_ref: ObjectRef[Any] | None = None) -> ActorHandle[Any]:
    handle: ActorHandle[Any] = ActorHandle(state, scope_ref=scope_ref)
    cw = _worker.global_state().core_worker
    if cw is not None and not state.get("unschedulable"):
        cw.add_actor_handle(state["actor_id"], state.get("max_task_retries", 0), False)
    return handle


def _handle_from_info(info: dict[str, Any]) -> ActorHandle[Any]:
    return _rebuild_handle(pickle.loads(info["serialized_handle"]))


def make_actor(cls: type[T], options: dict[str, Any]) -> ActorClass[T]:
    return ActorClass(cls, options)


def get_actor(name: str, namespace: str | None = None) -> ActorHandle[Any]:
    if not isinstance(name, str) or not name:
        raise ValueError("get_actor() needs the actor's name (a non-empty string), got %r" % (name,))
    _worker.core_worker()
    ns = namespace or _worker.current_namespace()
    info = _worker.global_state().gcs.get_named_actor(name, ns)
    if info is None:
        raise ValueError("Failed to look up actor with name %r in namespace %r: no live actor has that name. "
                         "Check the name and namespace (lumos.init(namespace=...) or get_actor(..., "
                         "namespace=...)), and that the actor has not died." % (name, ns))
    return _handle_from_info(info)


def kill(actor: ActorHandle[Any], *, no_restart: bool = True) -> None:
    if not isinstance(actor, ActorHandle):
        raise ValueError("lumos.kill() only supports actors (for tasks use lumos.cancel()); got %r" % (actor,))
    cw = _worker.core_worker()
    actor._check_session()
    if actor._state.get("unschedulable"):
        return   # never registered: nothing runs
    cw.kill_actor(actor._actor_id, bool(no_restart), "killed by lumos.kill()")
