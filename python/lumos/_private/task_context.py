"""What the running task or actor call is, for lumos.get_runtime_context().

The executor sets one TaskContext per call in a context variable, so calls
that run at the same time (threaded actors: one per thread; async actors: one
per asyncio task) each see their own. None in a driver and between tasks.
"""
import contextvars
import re

_CURRENT = contextvars.ContextVar("lumos_task_context", default=None)

# Resource names the placement-group rewrite makes (see
# lumos.util.placement_group.bundle_resources): "<name>_group_<index>_<pg hex>"
# and "<name>_group_<pg hex>", plus the "bundle_group_..." markers.
_INDEXED = re.compile(r"^(.+)_group_(\d+)_([0-9a-f]+)$")
_WILDCARD = re.compile(r"^(.+)_group_([0-9a-f]+)$")


class TaskContext:
    """One call: its task id (binary), display name, full function name
    (module.qualname, Ray's get_task_function_name), the resources it holds
    under their original names, its attempt number (profile spans are kept
    with the attempt), and whether a cancel reached it."""

    __slots__ = ("binary_id", "name", "function_name", "resources", "attempt", "cancelled")

    def __init__(self, binary_id, name, function_name, resources, attempt=0):
        self.binary_id = binary_id
        self.name = name
        self.function_name = function_name
        self.resources = resources
        self.attempt = attempt
        self.cancelled = False

    @property
    def task_id(self):
        return self.binary_id.hex()


def current():
    """The running call's TaskContext, or None."""
    return _CURRENT.get()


def enter(ctx):
    """Makes `ctx` current in this thread / asyncio task; returns the token
    for leave()."""
    return _CURRENT.set(ctx)


def leave(token):
    _CURRENT.reset(token)


def original_resources(required, pg_hex=""):
    """A spec's required resources as the user asked for them: for a task in
    placement group `pg_hex`, the group's names are mapped back
    ("CPU_group_0_<id>" and "CPU_group_<id>" are both "CPU") and the bundle
    markers dropped."""
    if not pg_hex:
        return dict(required)
    out = {}
    wildcard = {}
    for name, amount in required.items():
        m = _INDEXED.match(name)
        if m and m.group(3) == pg_hex:
            if m.group(1) != "bundle":
                out[m.group(1)] = amount
            continue
        m = _WILDCARD.match(name)
        if m and m.group(2) == pg_hex:
            if m.group(1) != "bundle":
                wildcard[m.group(1)] = amount
            continue
        out[name] = amount
    for name, amount in wildcard.items():
        out.setdefault(name, amount)   # the indexed name holds the same amount
    return out
