"""@lumos.remote on a function: RemoteFunction, its .remote() and .options()."""
import inspect

from lumos import _raylet
from lumos._private import accelerators
from lumos._private import code_pickling
from lumos._private import runtime_env as _runtime_env
from lumos._private.runtime_env import validation as _env_validation
from lumos._private import serialization
from lumos._private import worker as _worker
from lumos.util.placement_group import bundle_resources, check_bundle_index
from lumos.util import scheduling_strategies as _strategies

# Options a task accepts; values are validated in _validate_options.
TASK_OPTIONS = {
    "num_cpus", "num_gpus", "resources", "num_returns", "max_calls", "name", "max_retries",
    "retry_exceptions", "memory", "accelerator_type", "scheduling_strategy", "runtime_env",
    "placement_group", "placement_group_bundle_index", "placement_group_capture_child_tasks",
    "label_selector", "_metadata", "enable_task_events", "object_store_memory", "_fail_on_infeasible",
    "_generator_backpressure_num_objects",
}
DEFAULT_MAX_RETRIES = 3  # like Ray: a task whose worker dies runs again up to 3 times


def _check_number(name, value, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("%s must be a number, got %r" % (name, value))
    if value < 0:
        raise ValueError("%s must be non-negative, got %r" % (name, value))
    accelerators.check_amount(name, value)  # at most 4 decimals (the raylet's fixed point)


def validate_options(options, allowed=TASK_OPTIONS, what="task"):
    for key in options:
        if key not in allowed:
            raise ValueError("Invalid option keyword %r for a %s. Valid ones are: %s" % (
                key, what, ", ".join(sorted(allowed))))
    for key in ("num_cpus", "num_gpus", "memory", "object_store_memory"):
        if key in options:
            _check_number(key, options[key])
    accelerators.check_gpu_request(options.get("num_gpus"))
    accelerators.check_accelerator_type(options.get("accelerator_type"))
    if options.get("resources") is not None:
        res = options["resources"]
        if not isinstance(res, dict):
            raise ValueError("resources must be a dict of name -> amount, got %r" % (res,))
        for k, v in res.items():
            if k in ("CPU", "GPU"):
                raise ValueError("Use the 'num_cpus' and 'num_gpus' keyword instead of resources[%r]" % k)
            _check_number("resources[%r]" % k, v, allow_none=False)
    if "num_returns" in options:
        n = options["num_returns"]
        if n not in ("dynamic", "streaming", None) and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError("num_returns must be a non-negative int, 'streaming' or 'dynamic', got %r" % (n,))
    validate_backpressure(options)
    if options.get("max_retries") is not None:
        m = options["max_retries"]
        if isinstance(m, bool) or not isinstance(m, int) or m < -1:
            raise ValueError("max_retries must be an int >= -1 (-1: retry forever), got %r" % (m,))
    if "retry_exceptions" in options:
        r = options["retry_exceptions"]
        if not isinstance(r, bool):
            if not isinstance(r, (list, tuple)) or not all(
                    isinstance(c, type) and issubclass(c, BaseException) for c in r):
                raise ValueError("retry_exceptions must be a bool or a list of exception classes, got %r" % (r,))
    if "max_calls" in options:
        m = options["max_calls"]
        if isinstance(m, bool) or not isinstance(m, int) or m < 0:
            raise ValueError("max_calls must be a non-negative int, got %r" % (m,))
    _strategies.check_capture(options.get("placement_group_capture_child_tasks"))
    if not isinstance(options.get("_fail_on_infeasible", False), bool):
        raise ValueError("_fail_on_infeasible must be True or False, got %r" % (options["_fail_on_infeasible"],))
    if options.get("runtime_env") is not None:
        _env_validation.validate(options["runtime_env"])
    _strategies.validate(options.get("scheduling_strategy"))
    pg = options.get("placement_group")
    if pg is not None and pg != "default":
        if options.get("scheduling_strategy") not in (None, "DEFAULT"):
            raise ValueError("placement_group= cannot be combined with scheduling_strategy=%r"
                             % (options["scheduling_strategy"],))
        index = options.get("placement_group_bundle_index")
        check_bundle_index(pg, -1 if index is None else index)
    elif options.get("placement_group_bundle_index") not in (None, -1):
        raise ValueError("placement_group_bundle_index=%r needs placement_group=" % (
            options["placement_group_bundle_index"],))


def validate_backpressure(options):
    b = options.get("_generator_backpressure_num_objects")
    if b is not None and (isinstance(b, bool) or not isinstance(b, int) or b < -1):
        raise ValueError("_generator_backpressure_num_objects must be a positive int (or -1/None: no limit), "
                         "got %r" % (b,))


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


def resources_of(options, default_cpus=1, placement=None):
    """The resources a task (actor) with `options` holds; `placement` is
    placement_of(options) when the caller has it already."""
    res = {}
    cpus = options.get("num_cpus")
    res["CPU"] = float(default_cpus if cpus is None else cpus)
    if options.get("num_gpus"):
        res["GPU"] = float(options["num_gpus"])
    if options.get("memory"):
        res["memory"] = float(options["memory"])
    for k, v in (options.get("resources") or {}).items():
        res[k] = float(v)
    if options.get("accelerator_type"):
        res[accelerators.accelerator_resource(options["accelerator_type"])] = accelerators.ACCELERATOR_TYPE_DEMAND
    res = {k: v for k, v in res.items() if v > 0}
    pg, index, _ = placement or _strategies.placement_of(options)
    if pg is not None:
        res = bundle_resources(pg, index, res)  # the bundle's own resources only
    return res


def spec_placement(placement):
    """placement_of(...) as the core worker's spec takes it: (group id bytes,
    bundle index, capture) or None."""
    pg, index, capture = placement
    return None if pg is None else (bytes.fromhex(pg.id.hex()), index, capture)


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
        _strategies.check_node_strategy(options, "task %s" % self._qualname)
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
        placement = _strategies.placement_of(options)
        env = _runtime_env.spec_env(_worker._state, options.get("runtime_env"))
        refs = cw.submit_task(fid, self._module, self._qualname, options.get("name") or self._name, arg_list,
                              kw_names, num_returns, resources_of(options, placement=placement),
                              options.get("max_calls") or 0,
                              DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
                              bool(retry_exceptions), allowlist, dynamic, streaming, backpressure,
                              spec_placement(placement), bool(options.get("_fail_on_infeasible")), env)
        return returns_of_call(cw, refs, num_returns, streaming)


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
