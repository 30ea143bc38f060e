"""Every option of tasks, actors and actor methods, in one table (like Ray's
ray_option_utils): its name, the kinds of call it applies to, its type, its
default per kind, and its check. `@lumos.remote(...)`, `.options(...)` of
remote functions and actor classes, `@lumos.method(...)` and
`ActorMethod.options(...)` all validate through validate(options, kind).

Contract: validate() raises ValueError (the option, the bad value, what is
allowed) and never changes `options`; resources_of() is where a call's
options become the resources it holds, and refuses (ValueError naming both
amounts) a request that no bundle of its placement group can hold.

Layering: this module imports lumos._private modules only (accelerators,
placement, scheduling, runtime_env.validation); remote_function and actor
import it. Nothing here imports lumos.util or the API modules, so there is
no import circle.
"""
from lumos._private import accelerators
from lumos._private import placement as _placement
from lumos._private import scheduling as _scheduling
from lumos._private.runtime_env import validation as _env_validation

TASK, ACTOR, METHOD = "task", "actor", "method"
DEFAULT_MAX_RETRIES = 3  # like Ray: a task whose worker dies runs again up to 3 times


class Option:
    """One row: `kinds` it applies to, `type_doc` (what a user may pass),
    `defaults` {kind: value} (what None / leaving it out means), and
    `check(value, kind)` raising ValueError."""
    __slots__ = ("name", "kinds", "type_doc", "defaults", "check")

    def __init__(self, name, kinds, type_doc, defaults, check):
        self.name = name
        self.kinds = frozenset(kinds)
        self.type_doc = type_doc
        self.defaults = defaults
        self.check = check

    def default(self, kind):
        return self.defaults.get(kind)

    def __repr__(self):
        return "Option(%s: %s, for %s)" % (self.name, self.type_doc, "/".join(sorted(self.kinds)))


# ---------------------------------------------------------------- checks (value, kind) -> None or ValueError

def _amount(name):
    def check(value, kind):
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("%s must be a number, got %r" % (name, value))
        if value < 0:
            raise ValueError("%s must be non-negative, got %r" % (name, value))
        accelerators.check_amount(name, value)  # at most 4 decimals (the raylet's fixed point)
    return check


def _num_gpus(value, kind):
    _amount("num_gpus")(value, kind)
    accelerators.check_gpu_request(value)


def _accelerator_type(value, kind):
    accelerators.check_accelerator_type(value)


def _resources(value, kind):
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValueError("resources must be a dict of name -> amount, got %r" % (value,))
    for k, v in value.items():
        if k in ("CPU", "GPU"):
            raise ValueError("Use the 'num_cpus' and 'num_gpus' keyword instead of resources[%r]" % k)
        if v is None:
            raise ValueError("resources[%r] must be a number, got None" % (k,))
        _amount("resources[%r]" % k)(v, kind)


def _num_returns(value, kind):
    allowed = ("streaming",) if kind == METHOD else ("dynamic", "streaming", None)
    if value in allowed:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        if kind == METHOD:
            raise ValueError("num_returns must be a non-negative int or 'streaming', got %r" % (value,))
        raise ValueError("num_returns must be a non-negative int, 'streaming' or 'dynamic', got %r" % (value,))


def _backpressure(value, kind):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < -1):
        raise ValueError("_generator_backpressure_num_objects must be a positive int (or -1/None: no limit), "
                         "got %r" % (value,))


def _int_at_least(name, low, what=""):
    def check(value, kind):
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError("%s must be an int >= %d%s, got %r" % (name, low, what, value))
    return check


def _max_calls(value, kind):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("max_calls must be a non-negative int, got %r" % (value,))


def _retry_exceptions(value, kind):
    if isinstance(value, bool):
        return
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(c, type) and issubclass(c, BaseException) for c in value):
        raise ValueError("retry_exceptions must be a bool or a list of exception classes, got %r" % (value,))


def _bool(name):
    def check(value, kind):
        if not isinstance(value, bool):
            raise ValueError("%s must be True or False, got %r" % (name, value))
    return check


def _optional_dict(name):
    def check(value, kind):
        if value is not None and not isinstance(value, dict):
            raise ValueError("%s must be a dict, got %r" % (name, value))
    return check


def _name(value, kind):
    if value is None:
        return
    if not isinstance(value, str) or (kind == ACTOR and not value):
        raise ValueError("name must be a %sstring, got %r" % ("non-empty " if kind == ACTOR else "", value))


def _namespace(value, kind):
    if value is not None and not isinstance(value, str):
        raise ValueError("namespace must be a non-empty string, got %r" % (value,))


def _lifetime(value, kind):
    if value not in (None, "detached", "non_detached"):
        raise ValueError("lifetime must be None, 'non_detached' or 'detached', got %r" % (value,))


def _concurrency_groups(value, kind):
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValueError("concurrency_groups must be a dict of group name -> max concurrent calls, e.g. "
                         "{'io': 2}, got %r" % (value,))
    for name, limit in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError("concurrency_groups: a group name must be a non-empty string, got %r" % (name,))
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("concurrency_groups[%r] must be an int >= 1 (calls of the group run at once), "
                             "got %r" % (name, limit))


def _concurrency_group(value, kind):
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError("concurrency_group must be the name of one of the actor's concurrency_groups, got %r"
                         % (value,))


def check_group_name(group, groups, where):
    """ValueError unless `group` (a method's or call's concurrency_group; None:
    the default group) is one of the actor's `groups` (its concurrency_groups
    option). Like Ray, an unknown name is an error, here at once and named."""
    if group is None or group in (groups or {}):
        return
    raise ValueError("%s: concurrency_group=%r is not one of the actor's concurrency_groups (%s); declare it in "
                     "@lumos.remote(concurrency_groups={...}) or use one of those" % (
                         where, group, ", ".join(sorted(groups or {})) or "none declared"))


def _runtime_env(value, kind):
    if value is not None:
        _env_validation.validate(value)


def _strategy(value, kind):
    _scheduling.validate(value)


def _capture(value, kind):
    _scheduling.check_capture(value)


def _anything(value, kind):
    """Accepted for compatibility with Ray programs; lumos does not act on it
    (see the table's type_doc)."""


# ---------------------------------------------------------------- the table

_T, _A, _M = (TASK,), (ACTOR,), (METHOD,)
_TA = (TASK, ACTOR)
OPTIONS = {o.name: o for o in (
    Option("num_cpus", _TA, "number >= 0 (4 decimals)", {TASK: 1, ACTOR: 0}, _amount("num_cpus")),
    Option("num_gpus", _TA, "number >= 0; above 1 whole", {TASK: 0, ACTOR: 0}, _num_gpus),
    Option("memory", _TA, "bytes >= 0", {}, _amount("memory")),
    Option("object_store_memory", _TA, "bytes >= 0 (accepted, not enforced)", {}, _amount("object_store_memory")),
    Option("resources", _TA, "dict name -> amount (no CPU/GPU)", {}, _resources),
    Option("accelerator_type", _TA, "GPU model name, e.g. 'A100'", {}, _accelerator_type),
    Option("scheduling_strategy", _TA, "'DEFAULT', 'SPREAD' or a strategy object", {}, _strategy),
    Option("placement_group", _TA, "PlacementGroup or 'default'", {}, _anything),  # checked with its index below
    Option("placement_group_bundle_index", _TA, "int >= -1 (-1: any bundle)", {TASK: -1, ACTOR: -1}, _anything),
    Option("placement_group_capture_child_tasks", _TA, "bool or None (inherit)", {}, _capture),
    Option("runtime_env", _TA, "dict or RuntimeEnv", {}, _runtime_env),
    Option("label_selector", _TA, "dict (accepted, not acted on)", {}, _optional_dict("label_selector")),
    Option("_metadata", _TA, "dict (accepted, not acted on)", {}, _optional_dict("_metadata")),
    Option("_fail_on_infeasible", _TA, "bool", {TASK: False, ACTOR: False}, _bool("_fail_on_infeasible")),
    Option("enable_task_events", (TASK, ACTOR, METHOD), "bool (accepted, not acted on)", {}, _anything),
    Option("name", (TASK, ACTOR, METHOD), "str (actor: non-empty)", {}, _name),
    Option("num_returns", (TASK, METHOD), "int >= 0, 'streaming', 'dynamic' (tasks)", {TASK: 1, METHOD: 1},
           _num_returns),
    Option("_generator_backpressure_num_objects", (TASK, METHOD), "int >= -1 or None", {},
           _backpressure),
    Option("retry_exceptions", (TASK, METHOD), "bool or list of exception classes (methods: within max_task_retries)",
           {TASK: False, METHOD: False}, _retry_exceptions),
    Option("max_retries", _T, "int >= -1 (-1: no limit)", {TASK: DEFAULT_MAX_RETRIES},
           _int_at_least("max_retries", -1, " (-1: retry forever)")),
    Option("max_calls", _T, "int >= 0 (0: no limit)", {TASK: 0}, _max_calls),
    Option("namespace", _A, "str", {}, _namespace),
    Option("lifetime", _A, "None, 'non_detached' or 'detached'", {}, _lifetime),
    Option("get_if_exists", _A, "bool (needs name)", {ACTOR: False}, _anything),
    Option("max_restarts", _A, "int >= -1 (-1: no limit)", {ACTOR: 0}, _int_at_least("max_restarts", -1)),
    Option("max_task_retries", (ACTOR, METHOD), "int >= -1 (-1: no limit)", {ACTOR: 0},
           _int_at_least("max_task_retries", -1)),
    Option("max_concurrency", _A, "int >= 1 (default 1; async actors 1000)", {},
           _int_at_least("max_concurrency", 1)),
    Option("max_pending_calls", _A, "int >= -1 (-1: no limit)", {ACTOR: -1}, _int_at_least("max_pending_calls", -1)),
    Option("concurrency_groups", _A, "dict group name -> int >= 1", {}, _concurrency_groups),
    Option("concurrency_group", _M, "str: one of the actor's concurrency_groups", {}, _concurrency_group),
)}

_NAMES = {kind: frozenset(n for n, o in OPTIONS.items() if kind in o.kinds) for kind in (TASK, ACTOR, METHOD)}
TASK_OPTIONS, ACTOR_OPTIONS, METHOD_OPTIONS = _NAMES[TASK], _NAMES[ACTOR], _NAMES[METHOD]

_UNKNOWN = {
    TASK: "Invalid option keyword %r for a task. Valid ones are: %s",
    ACTOR: "Invalid option keyword %r for an actor. Valid ones are: %s",
    METHOD: "Invalid option %r for an actor method; valid: %s",
}


def names(kind):
    """The option names a kind of call (TASK, ACTOR, METHOD) accepts."""
    return _NAMES[kind]


def default(name, kind):
    """What leaving option `name` out means for `kind` (None: decided at the call)."""
    return OPTIONS[name].default(kind)


def validate(options, kind, unknown_message=None):
    """Raises ValueError for an option `kind` does not take, for a bad value,
    or for a bad combination. `unknown_message` (two %r/%s slots: the key and
    the valid names) replaces the default wording for unknown keys."""
    allowed = _NAMES[kind]
    for key in options:
        if key not in allowed:
            raise ValueError((unknown_message or _UNKNOWN[kind]) % (key, ", ".join(sorted(allowed))))
    for key, value in options.items():
        OPTIONS[key].check(value, kind)
    if kind != METHOD:
        _check_placement_group(options)
    if kind == ACTOR and options.get("get_if_exists") and not options.get("name"):
        raise ValueError("get_if_exists=True needs a name= for the actor")


def _check_placement_group(options):
    pg = options.get("placement_group")
    if pg is not None and pg != "default":
        if options.get("scheduling_strategy") not in (None, "DEFAULT"):
            raise ValueError("placement_group= cannot be combined with scheduling_strategy=%r"
                             % (options["scheduling_strategy"],))
        index = options.get("placement_group_bundle_index")
        _placement.check_bundle_index(pg, -1 if index is None else index)
    elif options.get("placement_group_bundle_index") not in (None, -1):
        raise ValueError("placement_group_bundle_index=%r needs placement_group=" % (
            options["placement_group_bundle_index"],))


# ---------------------------------------------------------------- what options mean at a call

placement_of = _scheduling.placement_of


def resources_of(options, default_cpus=1, placement=None, what="task"):
    """The resources a task (actor) with `options` holds, renamed to its
    bundle's when it runs in a placement group; `placement` is
    placement_of(options) when the caller has it already. ValueError when
    no bundle it may use could hold the request (it would never run)."""
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
    pg, index, _ = placement or _scheduling.placement_of(options)
    if pg is not None:
        _placement.check_fits_bundle(pg, index, res, what)
        res = _placement.bundle_resources(pg, index, res)  # the bundle's own resources only
    return res


def spec_placement(placement):
    """placement_of(...) as the core worker's spec takes it: (group id bytes,
    bundle index, capture) or None."""
    pg, index, capture = placement
    return None if pg is None else (pg.id.binary(), index, capture)
