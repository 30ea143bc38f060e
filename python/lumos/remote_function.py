"""@lumos.remote on a function: RemoteFunction, its .remote() and .options()."""
import inspect
import pickle

from lumos import _raylet
from lumos import exceptions
from lumos._private import code_pickling
from lumos._private import options as _options
from lumos._private import runtime_env as _runtime_env
from lumos._private import scheduling as _scheduling
from lumos._private import serialization
from lumos._private import worker as _worker


def validate_options(options):
    """The task options check (the table in lumos._private.options)."""
    _options.validate(options, _options.TASK)


def streaming_mode(fn, num_returns, options):
    """(num_returns for the spec, streaming?, backpressure) for a call. Like Ray
    2.x, a generator function without num_returns streams."""
    if num_returns is None:
        is_gen = inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
        num_returns = "streaming" if is_gen else 1
    if num_returns != "streaming":
        return num_returns, False, 0
    b = options.get("_generator_backpressure_num_objects")
    return 1, True, (b if b is not None and b > 0 else 0)


class _BoundOptions:
    """What `.options(...)` returns: `.remote()` with the merged options."""

    def __init__(self, parent, merged):
        self._parent = parent
        self._merged = merged

    def remote(self, *args, **kwargs):
        return self._parent._remote(args, kwargs, self._merged)

    def options(self, **more):
        merged = dict(self._merged)
        merged.update(more)
        return self._parent.options(**merged)

    def __call__(self, *args, **kwargs):
        return self._parent(*args, **kwargs)


def bind_options(parent, validate, options):
    """Validates `options` and merges them over the parent's (only what they name)."""
    validate(options)
    merged = dict(parent._options)
    merged.update(options)
    return _BoundOptions(parent, merged)


def serialize_args(args, kwargs, what):
    """(arg list, kwarg names): ObjectRefs stay refs, other values are serialized."""
    arg_list = []
    for a in args:
        arg_list.append(a if type(a) is _raylet.ObjectRef else serialization.serialize(a, what))
    kw_names = []
    for k, v in kwargs.items():
        kw_names.append(k)
        arg_list.append(v if type(v) is _raylet.ObjectRef else serialization.serialize(v, what))
    return arg_list, kw_names


class RemoteFunction:
    """A function that runs as a task on the cluster: call `.remote()`."""

    def __init__(self, function, options):
        validate_options(options)
        if not callable(function):
            raise TypeError("@lumos.remote needs a function, got %r" % (function,))
        self._function = function
        self._options = dict(options)
        self._name = options.get("name") or function.__name__
        self._module = function.__module__ or "__main__"
        self._qualname = getattr(function, "__qualname__", function.__name__)
        self._signature = None
        self._pickled = None
        self._function_ids = {}   # (session epoch, job) -> exported id
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__
        self.__wrapped__ = function

    def __call__(self, *args, **kwargs):
        raise TypeError("Remote functions cannot be called directly. Instead of running '%s()', try "
                        "'%s.remote()'." % (self._qualname, self._qualname))

    def __repr__(self):
        return "<lumos RemoteFunction %s.%s>" % (self._module, self._qualname)

    def remote(self, *args, **kwargs):
        return self._remote(args, kwargs, self._options)

    def options(self, **options):
        return bind_options(self, validate_options, options)

    def _check_signature(self, args, kwargs):
        if self._signature is None:
            try:
                self._signature = inspect.signature(self._function)
            except (TypeError, ValueError):
                self._signature = False
        if self._signature:
            try:
                self._signature.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError("%s.remote(): %s" % (self._qualname, e)) from None

    def _function_id(self, cw, job):
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

    def _remote(self, args, kwargs, options):
        cw = _worker.core_worker()
        self._check_signature(args, kwargs)
        job = _worker.current_job_id()
        fid = self._function_id(cw, job)
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
        if streaming and retry_exceptions:
            raise ValueError(
                "retry_exceptions is not supported for streaming generators in lumos yet (a retried attempt "
                "can lose an item the caller has not read yet); worker deaths are still retried "
                "(max_retries). Drop retry_exceptions for %s, or use num_returns='dynamic'." % self._qualname)
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


def _unschedulable_returns(cw, error, function, options):
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


def returns_of_call(cw, refs, num_returns, streaming):
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
