"""Scheduling strategies (Ray's ray.util.scheduling_strategies, which
re-exports these classes) and how a task or actor's options place it.

Pass one as `scheduling_strategy=` to `.options()` of a task or actor, or the
strings "DEFAULT" / "SPREAD". placement_of() decides the placement group a
call runs in (explicit strategy, placement_group=, or capture by the running
task's group); check_node_strategy() carries out node affinity and node
labels on the current cluster. Used by the options table
(lumos._private.options); imports nothing above lumos._private.
"""
from lumos import _raylet
from lumos import exceptions
from lumos._private import node_labels
from lumos._private import worker as _worker
from lumos._private.placement import PlacementGroup, check_bundle_index, current_group


class PlacementGroupSchedulingStrategy:
    """Run in a placement group: in bundle `placement_group_bundle_index`
    (-1: any bundle), using only the bundle's resources."""

    def __init__(self, placement_group, placement_group_bundle_index=-1,
                 placement_group_capture_child_tasks=None):
        self.placement_group = placement_group
        self.placement_group_bundle_index = placement_group_bundle_index
        self.placement_group_capture_child_tasks = placement_group_capture_child_tasks

    def __repr__(self):
        return "PlacementGroupSchedulingStrategy(%r, bundle_index=%r, capture_child_tasks=%r)" % (
            self.placement_group, self.placement_group_bundle_index, self.placement_group_capture_child_tasks)


class NodeAffinitySchedulingStrategy:
    """Run on the node `node_id` (hex). soft=True falls back to other nodes
    when that node is dead or cannot fit the request; soft=False fails."""

    def __init__(self, node_id, soft, _spill_on_unavailable=False, _fail_on_unavailable=False):
        if not isinstance(node_id, str):
            node_id = getattr(node_id, "hex", lambda: node_id)()
        if not isinstance(node_id, str):
            raise ValueError("NodeAffinitySchedulingStrategy: node_id must be a hex string, got %r" % (node_id,))
        if not isinstance(soft, bool):
            raise ValueError("NodeAffinitySchedulingStrategy: soft must be a bool, got %r" % (soft,))
        self.node_id = node_id
        self.soft = soft
        self._spill_on_unavailable = _spill_on_unavailable
        self._fail_on_unavailable = _fail_on_unavailable

    def __repr__(self):
        return "NodeAffinitySchedulingStrategy(node_id=%r, soft=%r)" % (self.node_id, self.soft)


class _LabelOperator:
    def __init__(self, *values):
        for v in values:
            if not isinstance(v, str):
                raise ValueError("%s() values must be strings, got %r" % (type(self).__name__, v))
        self.values = list(values)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(map(repr, self.values)))


class In(_LabelOperator):
    def matches(self, value):
        return value is not None and value in self.values


class NotIn(_LabelOperator):
    def matches(self, value):
        return value is None or value not in self.values


class Exists(_LabelOperator):
    def __init__(self):
        super().__init__()

    def matches(self, value):
        return value is not None


class DoesNotExist(_LabelOperator):
    def __init__(self):
        super().__init__()

    def matches(self, value):
        return value is None


class NodeLabelSchedulingStrategy:
    """Run on a node whose labels match every `hard` expression ({key:
    In(...)/NotIn(...)/Exists()/DoesNotExist()}), preferring nodes that also
    match `soft`."""

    def __init__(self, hard, *, soft=None):
        for which, exprs in (("hard", hard), ("soft", soft or {})):
            if not isinstance(exprs, dict):
                raise ValueError("NodeLabelSchedulingStrategy: %s must be a dict of label -> In/NotIn/Exists/"
                                 "DoesNotExist, got %r" % (which, exprs))
            for k, v in exprs.items():
                if not isinstance(k, str) or not isinstance(v, _LabelOperator):
                    raise ValueError("NodeLabelSchedulingStrategy: %s[%r] must be In(...), NotIn(...), Exists() "
                                     "or DoesNotExist(), got %r" % (which, k, v))
        if not hard and not soft:
            raise ValueError("NodeLabelSchedulingStrategy needs at least one hard or soft expression")
        self.hard = hard
        self.soft = soft or {}


STRATEGY_TYPES = (PlacementGroupSchedulingStrategy, NodeAffinitySchedulingStrategy, NodeLabelSchedulingStrategy)


def validate(strategy):
    """Raises ValueError for anything that is not a known strategy."""
    if strategy is None or strategy in ("DEFAULT", "SPREAD"):
        return
    if isinstance(strategy, str):
        raise ValueError("unknown scheduling_strategy %r: use 'DEFAULT', 'SPREAD' or a strategy object from "
                         "lumos.util.scheduling_strategies" % (strategy,))
    if not isinstance(strategy, STRATEGY_TYPES):
        raise ValueError("scheduling_strategy must be 'DEFAULT', 'SPREAD' or one of %s, got %r" % (
            ", ".join(t.__name__ for t in STRATEGY_TYPES), strategy))
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        check_bundle_index(strategy.placement_group, strategy.placement_group_bundle_index)
        check_capture(strategy.placement_group_capture_child_tasks)


def check_capture(capture):
    if capture is not None and not isinstance(capture, bool):
        raise ValueError("placement_group_capture_child_tasks must be True, False or None, got %r" % (capture,))


def _local_node():
    cw = _worker.core_worker()
    node_id = cw.node_id
    return node_id if isinstance(node_id, str) else node_id.hex()


def _node_labels(node_id):
    return node_labels.of_node(_worker.global_state().gcs, node_id)


def placement_of(options):
    """(placement group, bundle index, capture child tasks) of a task or actor
    submitted with `options`, or (None, -1, False). Like Ray: an explicit
    PlacementGroupSchedulingStrategy (or placement_group=) wins; with no
    strategy at all, a task or actor submitted from inside a group whose
    task captures child tasks runs in that group (any bundle). The capture
    flag, unless given, is inherited from the running task."""
    strategy = options.get("scheduling_strategy")
    capture = options.get("placement_group_capture_child_tasks")
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        pg, index = strategy.placement_group, strategy.placement_group_bundle_index
        if strategy.placement_group_capture_child_tasks is not None:
            capture = strategy.placement_group_capture_child_tasks
    else:
        pg = options.get("placement_group")
        if pg == "default":
            pg = None
        if pg is None and strategy is not None:
            return None, -1, False  # an explicit strategy ("DEFAULT" too) is never captured
        index = options.get("placement_group_bundle_index")
        index = -1 if index is None else index
    current = _raylet.current_placement()
    if capture is None:
        capture = current is not None and current[2]
    if pg is None:
        if current is None or not capture:
            return None, -1, False
        pg, index = current_group(), -1
    return pg, index, bool(capture)


def check_node_strategy(options, what):
    """Carries out node affinity / node labels on the current cluster (one
    node): a hard affinity to a node that is not alive raises
    TaskUnschedulableError / ActorUnschedulableError (by `what`), other hard
    constraints that cannot be met raise ValueError."""
    strategy = options.get("scheduling_strategy")
    if isinstance(strategy, NodeAffinitySchedulingStrategy):
        nodes = {n["NodeID"]: n for n in _worker.global_state().gcs.get_all_node_info()}
        node = nodes.get(strategy.node_id)
        if (node is None or not node["Alive"]) and not strategy.soft:
            # Like Ray: the task's (or actor method call's) get raises it;
            # the caller turns this into error refs.
            unschedulable = (exceptions.ActorUnschedulableError if what.startswith("actor")
                             else exceptions.TaskUnschedulableError)
            raise unschedulable(
                "%s has NodeAffinitySchedulingStrategy(node_id=%r, soft=False) but that node is %s; alive nodes: "
                "%s (use soft=True to fall back to another node)" % (
                    what, strategy.node_id, "dead" if node is not None else "not in the cluster",
                    [k for k, n in nodes.items() if n["Alive"]]))
    elif isinstance(strategy, NodeLabelSchedulingStrategy) and strategy.hard:
        alive = [n["NodeID"] for n in _worker.global_state().gcs.get_all_node_info() if n["Alive"]]
        by_node = {n: _node_labels(n) for n in alive}
        if not any(all(op.matches(labels.get(k)) for k, op in strategy.hard.items()) for labels in by_node.values()):
            raise ValueError("%s has NodeLabelSchedulingStrategy(hard=%r) but no alive node matches it (node "
                             "labels: %r)" % (what, strategy.hard, by_node))


_LABEL_OPS = {"In": 0, "NotIn": 1, "Exists": 2, "DoesNotExist": 3}


def _encode_labels(exprs):
    return ["\x1f".join([k, str(_LABEL_OPS[type(op).__name__])] + list(op.values)) for k, op in exprs.items()]


def strategy_of(options):
    """The scheduling strategy as the core worker's spec takes it: (kind,
    node id bytes, soft, [hard label expressions], [soft ones],
    spill_on_unavailable) or None for DEFAULT (placement groups are
    expressed by their bundle resources)."""
    strategy = options.get("scheduling_strategy")
    if strategy == "SPREAD":
        return (1, b"", False, [], [], False)
    if isinstance(strategy, NodeAffinitySchedulingStrategy):
        return (2, bytes.fromhex(strategy.node_id), bool(strategy.soft), [], [],
                bool(strategy._spill_on_unavailable))
    if isinstance(strategy, NodeLabelSchedulingStrategy):
        return (3, b"", False, _encode_labels(strategy.hard), _encode_labels(strategy.soft), False)
    return None
