"""@lumos.remote on a function: RemoteFunction, its .remote() and .options().

RemoteFunction[P, R] carries the function's parameters P and result R for type
checkers: `.remote(*P) -> ObjectRef[R]`, and `.options(...)` keeps both (see
"Types" in docs/ARCHITECTURE.md). The annotations cost nothing at run time."""
from __future__ import annotations

import inspect
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, ParamSpec, Protocol, TypeVar

from lumos import _raylet
from lumos import exceptions
from lumos._private import code_pickling
from lumos._private import options as _options
from lumos._private import runtime_env as _runtime_env
from lumos._private import scheduling as _scheduling
from lumos._private import serialization
from lumos._private import worker as _worker
from lumos._raylet import ObjectRef

P = ParamSpec("P")
R = TypeVar("R")
Out = TypeVar("Out", covariant=True)


class _Submitter(Protocol[Out]):
    """What .options() binds to: a RemoteFunction or an ActorClass."""
    _options: dict[str, Any]

    def _remote(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Out: ...

    def options(self, **options: Any) -> _BoundOptions[Any, Out]: ...


def validate_options(options: dict[str, Any]) -> None:
    """The task options check (the table in lumos._private.options)."""
    _options.validate(options, _options.TASK)


def _positional_range(signature: inspect.Signature | Literal[False]) -> tuple[int, int] | None:
    """(fewest, most) positional arguments a call may pass when every
    parameter is a plain positional one (no *args, **kwargs or keyword-only);
    None otherwise (then bind() checks each call)."""
    if not signature:
        return None
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(signature.parameters.values())
    if any(p.kind not in plain for p in params):
        return None
    return sum(1 for p in params if p.default is inspect.Parameter.empty), len(params)


def streaming_mode(fn: Callable[..., Any], num_returns: Any, options: dict[str, Any]) -> tuple[Any, bool, int]:
    """(num_returns for the spec, streaming?, backpressure) for a call. Like Ray
    2.x, a generator function without num_returns streams."""
    if num_returns is None:
        is_gen = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        num_returns = "streaming" if is_gen else 1
    if num_returns != "streaming":
        return num_returns, False, 0
    b = options.get("_generator_backpressure_num_objects")
    return 1, True, (b if b is not None and b > 0 else 0)


class _BoundOptions(Generic[P, Out]):
    """What `.options(...)` returns: `.remote()` with the merged options.
    P: the call's parameters; Out: what `.remote()` gives (ObjectRef[R] for a
    function, ActorHandle[T] for an actor class)."""

    def __init__(self, parent: _Submitter[Out], merged: dict[str, Any]) -> None:
        self._parent = parent
        self._merged = merged

    def remote(self, *args: P.args, **kwargs: P.kwargs) -> Out:
        return self._parent._remote(args, kwargs, self._merged)

    def options(self, **more: Any) -> _BoundOptions[P, Out]:
        merged = dict(self._merged)
        merged.update(more)
        return self._parent.options(**merged)

    # Hidden from type checkers, so calling it is reported (at run time it raises).
    if not TYPE_CHECKING:
        def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
            self._parent(*args, **kwargs)   # raises the parent's TypeError


def bind_options(parent: _Submitter[Any], validate: Callable[[dict[str, Any]], None],
                 options: dict[str, Any]) -> _BoundOptions[Any, Any]:
    """Validates `options` and merges them over the parent's (only what they name)."""
    validate(options)
    merged = dict(parent._options)
    merged.update(options)
    return _BoundOptions(parent, merged)


def serialize_args(args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> tuple[list[Any], list[str]]:
    """(arg list, kwarg names): ObjectRefs stay refs, other values are serialized."""
    arg_list = []
    for a in args:
        arg_list.append(a if type(a) is _raylet.ObjectRef else serialization.serialize(a, what))
    kw_names = []
    for k, v in kwargs.items():
        kw_names.append(k)
        arg_list.append(v if type(v) is _raylet.ObjectRef else serialization.serialize(v, what))
    return arg_list, kw_names


class _CallPlan:
    """The arguments of `submit_task` that follow from a function's own
    options alone, worked out once instead of on every `.remote()` (they cost
    a few µs, a real share of a tiny task). Only for options that place the
    task outside placement groups and need no per-call node check; `usable()`
    says whether the running task (a capturing placement group) leaves this
    call outside groups too."""
    __slots__ = ("num_returns", "streaming", "backpressure", "dynamic", "max_retries", "retry_exceptions",
                 "allowlist", "resources", "fail_on_infeasible", "strategy", "explicit_strategy", "max_calls",
                 "name")
    num_returns: Any
    streaming: bool
    backpressure: int
    dynamic: bool
    max_retries: int
    retry_exceptions: bool
    allowlist: bytes
    resources: dict[str, float]
    fail_on_infeasible: bool
    strategy: Any
    explicit_strategy: bool
    max_calls: int
    name: str

    @staticmethod
    def of(function: Callable[..., Any], options: dict[str, Any], name: str, qualname: str) -> _CallPlan | None:
        strategy = options.get("scheduling_strategy")
        if (isinstance(strategy, (_scheduling.PlacementGroupSchedulingStrategy,
                                  _scheduling.NodeAffinitySchedulingStrategy,
                                  _scheduling.NodeLabelSchedulingStrategy))
                or options.get("placement_group") not in (None, "default")):
            return None
        plan = _CallPlan()
        num_returns, plan.streaming, plan.backpressure = streaming_mode(function, options.get("num_returns"), options)
        plan.dynamic = num_returns == "dynamic"
        plan.num_returns = 1 if plan.dynamic else num_returns
        max_retries = options.get("max_retries")
        plan.max_retries = _options.DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        retry_exceptions = options.get("retry_exceptions", False)
        plan.allowlist = b""
        if isinstance(retry_exceptions, (list, tuple)):
            plan.allowlist = code_pickling.dumps(tuple(retry_exceptions))
            retry_exceptions = True
        plan.retry_exceptions = bool(retry_exceptions)
        plan.resources = _options.resources_of(options, placement=(None, -1, False), what="task %s" % qualname)
        plan.fail_on_infeasible = bool(options.get("_fail_on_infeasible"))
        plan.strategy = _scheduling.strategy_of(options)
        plan.explicit_strategy = strategy is not None
        plan.max_calls = options.get("max_calls") or 0
        plan.name = options.get("name") or name
        return plan

    def usable(self) -> bool:
        # With no strategy, a task submitted inside a capturing group runs there.
        return self.explicit_strategy or _raylet.current_placement() is None


class RemoteFunction(Generic[P, R]):
    """A function that runs as a task on the cluster: call `.remote()`."""

    def __init__(self, function: Callable[P, Any], options: dict[str, Any]) -> None:
        validate_options(options)
        if not callable(function):
            raise TypeError("@lumos.remote needs a function, got %r" % (function,))
        self._function = function
        self._options = dict(options)
        self._name = options.get("name") or function.__name__
        self._module = function.__module__ or "__main__"
        self._qualname = getattr(function, "__qualname__", function.__name__)
        self._signature: inspect.Signature | Literal[False] | None = None
        self._positional_range: tuple[int, int] | None = None
        self._pickled: bytes | None = None
        self._plan: _CallPlan | None | Literal[False] = None   # False: the options have no plan
        self._function_ids: dict[tuple[int, str], bytes] = {}   # (session epoch, job) -> exported id
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__
        self.__wrapped__ = function

    # Hidden from type checkers, so calling it is reported (at run time it raises).
    if not TYPE_CHECKING:
        def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
            raise TypeError("Remote functions cannot be called directly. Instead of running '%s()', try "
                            "'%s.remote()'." % (self._qualname, self._qualname))

    def __repr__(self) -> str:
        return "<lumos RemoteFunction %s.%s>" % (self._module, self._qualname)

    def remote(self, *args: P.args, **kwargs: P.kwargs) -> ObjectRef[R]:
        # The declared type is the num_returns=1 case (see "Types" in docs/ARCHITECTURE.md).
        return self._remote(args, kwargs, self._options)  # type: ignore[no-any-return]

    def options(self, **options: Any) -> _BoundOptions[P, ObjectRef[R]]:
        return bind_options(self, validate_options, options)

    def _check_signature(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self._signature is None:
            try:
                self._signature = inspect.signature(self._function)
            except (TypeError, ValueError):
                self._signature = False
            self._positional_range = _positional_range(self._signature)
        # Positional arguments only, to plain parameters: a count check does
        # what bind() would (bind costs ~5 us a call, a lot of a tiny task's).
        if not kwargs and self._positional_range is not None:
            low, high = self._positional_range
            if low <= len(args) <= high:
                return
        if self._signature:
            try:
                self._signature.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError("%s.remote(): %s" % (self._qualname, e)) from None

    def _function_id(self, cw: Any, job: str) -> bytes:
        key = (_worker.global_state().epoch, job)
        fid = self._function_ids.get(key)
        if fid is None:
            if self._pickled is None:
                try:
                    self._pickled = code_pickling.dumps(self._function)
                except Exception as e:
                    raise TypeError("Could not serialize the function %s: %s" % (self._qualname, e)) from e
            fid = _worker.exporter_for(job).export(self._pickled)
            self._function_ids[key] = fid
        return fid

    def _remote(self, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
        if _worker._client is not None:   # client mode (lumos://)
            return _worker._client.submit_task(self, args, kwargs, options)
        cw = _worker.core_worker()
        self._check_signature(args, kwargs)
        job = _worker.current_job_id()
        fid = self._function_id(cw, job)
        if options is self._options:
            if self._plan is None:
                self._plan = _CallPlan.of(self._function, options, self._name, self._qualname) or False
            plan = self._plan
            if plan and plan.usable():
                arg_list, kw_names = serialize_args(args, kwargs, "argument of %s" % self._qualname)
                env = _runtime_env.spec_env(_worker._state, options.get("runtime_env"))
                refs = cw.submit_task(fid, self._module, self._qualname, plan.name, arg_list, kw_names,
                                      plan.num_returns, plan.resources, plan.max_calls, plan.max_retries,
                                      plan.retry_exceptions, plan.allowlist, plan.dynamic, plan.streaming,
                                      plan.backpressure, None, plan.fail_on_infeasible, env, plan.strategy)
                return returns_of_call(cw, refs, plan.num_returns, plan.streaming)
        try:
            _scheduling.check_node_strategy(options, "task %s" % self._qualname)
        except exceptions.TaskUnschedulableError as e:
            return _unschedulable_returns(cw, e, self._function, options)
        arg_list, kw_names = serialize_args(args, kwargs, "argument of %s" % self._qualname)
        num_returns, streaming, backpressure = streaming_mode(self._function, options.get("num_returns"), options)
        dynamic = num_returns == "dynamic"
        if dynamic:
            num_returns = 1
        max_retries = options.get("max_retries")
        retry_exceptions = options.get("retry_exceptions", False)
        allowlist = b""
        if isinstance(retry_exceptions, (list, tuple)):
            allowlist = code_pickling.dumps(tuple(retry_exceptions))
            retry_exceptions = True
        placement = _scheduling.placement_of(options)
        env = _runtime_env.spec_env(_worker._state, options.get("runtime_env"))
        refs = cw.submit_task(fid, self._module, self._qualname, options.get("name") or self._name, arg_list,
                              kw_names, num_returns,
                              _options.resources_of(options, placement=placement, what="task %s" % self._qualname),
                              options.get("max_calls") or 0,
                              _options.DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
                              bool(retry_exceptions), allowlist, dynamic, streaming, backpressure,
                              _options.spec_placement(placement), bool(options.get("_fail_on_infeasible")), env,
                              _scheduling.strategy_of(options))
        return returns_of_call(cw, refs, num_returns, streaming)


def _unschedulable_returns(cw: Any, error: Exception, function: Callable[..., Any], options: dict[str, Any]) -> Any:
    """What `.remote()` returns for a task that can never be placed: like
    Ray, refs whose get raises TaskUnschedulableError (a streaming generator
    has no task to stream from: it raises at once)."""
    num_returns, streaming, _ = streaming_mode(function, options.get("num_returns"), options)
    if streaming:
        raise error
    n = 1 if num_returns == "dynamic" else num_returns
    data = serialization.SerializedObject(serialization.META_TASK_ERROR, pickle.dumps(error))
    refs = [cw.put(data) for _ in range(max(n, 1))]
    return returns_of_call(cw, refs, 1 if num_returns == "dynamic" else num_returns, False)


def returns_of_call(cw: Any, refs: list[ObjectRef[Any]], num_returns: Any, streaming: bool) -> Any:
    """What `.remote()` returns for the submitted `refs`: one ref, None, a
    list, or an ObjectRefGenerator for a streaming call."""
    if _worker.RECORD_CALL_SITES:
        _worker.record_call_sites(refs)
    if streaming:
        from lumos._private.generators import ObjectRefGenerator
        return ObjectRefGenerator(refs[0], cw)
    if num_returns == 1:
        return refs[0]
    if num_returns == 0:
        return None
    return refs
