"""lumos.util.state: the records, columns and filters of every resource.

A record is a dict whose keys also read as attributes (Ray's dataclasses
have attributes; a dict prints and serializes simply). Each resource has
default columns (what `lumos list` shows) and detail columns (`--detail`);
filters may name any of them.
"""

DEFAULT_LIMIT = 100


class StateRecord(dict):
    """One row of a state API answer: a dict whose keys also read as attributes."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class TaskState(StateRecord):
    """One task attempt (Ray's TaskState fields)."""


class ActorState(StateRecord):
    """One actor (Ray's ActorState fields)."""


class ObjectState(StateRecord):
    """One reference to an object held by one process (Ray's ObjectState fields)."""


class NodeState(StateRecord):
    """One node (Ray's NodeState fields)."""


class WorkerState(StateRecord):
    """One live worker or driver process (Ray's WorkerState fields)."""


class JobState(StateRecord):
    """One job (Ray's JobDetails fields)."""


class PlacementGroupState(StateRecord):
    """One placement group (Ray's PlacementGroupState fields)."""


class StateList(list):
    """A list answer that also says how many rows matched (`total`, exact,
    counted before the limit) and whether the limit cut it (`truncated`)."""

    def __init__(self, rows, total, truncated, num_dropped=0):
        super().__init__(rows)
        self.total = total
        self.truncated = truncated
        self.num_dropped = num_dropped


class Resource:
    """What `lumos list <name>` knows of one resource: record class, columns, id key."""

    def __init__(self, name, record, columns, detail_columns, id_key):
        self.name = name
        self.record = record
        self.columns = columns
        self.detail_columns = detail_columns
        self.id_key = id_key

    def all_columns(self):
        return self.columns + [c for c in self.detail_columns if c not in self.columns]


RESOURCES = {r.name: r for r in [
    Resource("actors", ActorState,
             ["actor_id", "class_name", "state", "job_id", "name", "node_id", "pid", "ray_namespace"],
             ["required_resources", "death_cause", "is_detached", "placement_group_id", "repr_name",
              "num_restarts", "max_restarts", "ip"], "actor_id"),
    Resource("tasks", TaskState,
             ["task_id", "attempt_number", "name", "state", "job_id", "actor_id", "type", "func_or_class_name",
              "parent_task_id", "node_id", "worker_id", "worker_pid", "error_type"],
             ["language", "required_resources", "placement_group_id", "events", "creation_time_ms",
              "start_time_ms", "end_time_ms", "error_message"], "task_id"),
    Resource("objects", ObjectState,
             ["object_id", "object_size", "reference_type", "call_site", "type", "pid", "ip"],
             ["node_id", "owned", "location", "worker_id"], "object_id"),
    Resource("nodes", NodeState,
             ["node_id", "node_ip", "is_head_node", "state", "state_message", "node_name", "resources_total",
              "labels"],
             ["resources_available", "object_store_memory", "raylet_pid", "session_dir"], "node_id"),
    Resource("workers", WorkerState,
             ["worker_id", "is_alive", "worker_type", "exit_type", "node_id", "ip", "pid", "exit_detail"],
             ["endpoint"], "worker_id"),
    Resource("jobs", JobState,
             ["job_id", "submission_id", "entrypoint", "type", "status", "message", "error_type",
              "driver_info"],
             ["start_time", "end_time", "namespace"], "job_id"),
    Resource("placement_groups", PlacementGroupState,
             ["placement_group_id", "name", "creator_job_id", "state"],
             ["bundles", "is_detached", "strategy", "pending_reason"], "placement_group_id"),
]}

# Task columns the GCS filters on itself (GcsTaskEventManager::FilterKeys);
# other task columns are filtered here, after it.
TASK_GCS_FILTER_KEYS = frozenset([
    "task_id", "attempt_number", "name", "state", "job_id", "actor_id", "type", "func_or_class_name",
    "parent_task_id", "node_id", "worker_id", "worker_pid", "error_type", "language", "placement_group_id"])

# Ray accepts singular names and a few aliases on the command line.
ALIASES = {"actor": "actors", "task": "tasks", "object": "objects", "node": "nodes", "worker": "workers",
           "job": "jobs", "placement_group": "placement_groups", "placement-groups": "placement_groups",
           "placement-group": "placement_groups", "pg": "placement_groups", "pgs": "placement_groups"}


def resource_of(name):
    """The Resource named `name` (or an alias); ValueError listing the valid ones."""
    key = ALIASES.get(name, name)
    if key not in RESOURCES:
        raise ValueError("unknown resource %r; valid resources are: %s" % (name, ", ".join(sorted(RESOURCES))))
    return RESOURCES[key]


def check_filters(resource, filters):
    """Validated filters as [(key, predicate, value)]. ValueError names a
    malformed filter, an unknown key (listing the valid ones) or predicate."""
    out = []
    valid = resource.all_columns()
    for f in filters or ():
        if not isinstance(f, (tuple, list)) or len(f) != 3:
            raise ValueError("a filter is (key, predicate, value), e.g. ('state', '=', 'RUNNING'); got %r" % (f,))
        key, pred, value = f
        if key not in valid:
            raise ValueError("cannot filter %s on %r; valid keys are: %s" % (resource.name, key, ", ".join(valid)))
        if pred not in ("=", "!="):
            raise ValueError("filter predicate must be '=' or '!=', got %r" % (pred,))
        out.append((key, pred, value))
    return out


def _as_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def matches(row, filters):
    """True when `row` passes every filter; values compare as text, case-insensitively."""
    for key, pred, value in filters:
        equal = _as_text(row.get(key)).lower() == _as_text(value).lower()
        if equal != (pred == "="):
            return False
    return True


def check_limit(limit):
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError("limit must be a non-negative int, got %r" % (limit,))


def select(resource, rows, filters, limit, detail):
    """Filters first, then the limit; rows keep only the default columns unless `detail`."""
    matched = [r for r in rows if matches(r, filters)]
    total = len(matched)
    kept = matched if limit is None else matched[:limit]
    if not detail:
        kept = [resource.record({c: r.get(c) for c in resource.columns}) for r in kept]
    else:
        kept = [resource.record(r) for r in kept]
    return StateList(kept, total, len(kept) < total)
