"""Scheduling strategies (Ray's ray.util.scheduling_strategies).

Pass one as `scheduling_strategy=` to `.options()` of a task or actor, or the
strings "DEFAULT" / "SPREAD". The classes live in lumos._private.scheduling
(under the options table, so no module imports in a circle); this is their
public home.
"""
from lumos._private.placement import current_group  # noqa: F401
from lumos._private.scheduling import (  # noqa: F401
    DoesNotExist, Exists, In, NodeAffinitySchedulingStrategy, NodeLabelSchedulingStrategy, NotIn,
    PlacementGroupSchedulingStrategy, STRATEGY_TYPES, check_capture, check_node_strategy, placement_of, validate)

__all__ = ["PlacementGroupSchedulingStrategy", "NodeAffinitySchedulingStrategy", "NodeLabelSchedulingStrategy",
           "In", "NotIn", "Exists", "DoesNotExist"]
