"""Where a task runs is carried in its spec: get_current_placement_group()
and the runtime context inside tasks and actors, and
placement_group_capture_child_tasks (children without a strategy run in the
parent's group, any bundle, transitively; explicit strategies are never
captured).

The group reserves every CPU of the node, so a child task that is not in the
group cannot run at all: capture is proven by the child running."""
import pytest

import lumos as ray
from lumos.util.placement_group import placement_group, remove_placement_group
from lumos.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from conftest import module_cluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster4():
    yield from module_cluster(num_cpus=4)


@pytest.fixture
def pg(cluster4):
    group = placement_group([{"CPU": 2}, {"CPU": 2}])  # all 4 CPUs
    assert group.wait(30)
    yield group
    remove_placement_group(group)


def _current():
    g = ray.util.get_current_placement_group()
    return None if g is None else g.id.hex(), ray.get_runtime_context().get_placement_group_id()


@ray.remote(num_cpus=1)
def where():
    return _current()


@ray.remote(num_cpus=0)
def where_zero_cpu():
    return _current()


@ray.remote(num_cpus=1)
def parent(depth):
    """Its own group, and its child's (a chain of `depth` children)."""
    mine = _current()
    if depth == 0:
        return [mine]
    return [mine] + ray.get(parent.remote(depth - 1), timeout=30)


@ray.remote(num_cpus=1)
def parent_child_waits():
    """A child without a strategy; True if it ran within 1 s."""
    child = where.remote()
    ready, _ = ray.wait([child], timeout=1.0)
    if not ready:
        ray.cancel(child)
    return bool(ready)


@ray.remote
class Probe:
    def where(self):
        return _current()

    def child_where(self):
        return ray.get(where.remote(), timeout=30)

    def make_actor_where(self):
        a = Probe.remote()
        return ray.get(a.where.remote(), timeout=30)


def test_driver_and_plain_task_have_no_group(cluster4):
    assert ray.util.get_current_placement_group() is None
    assert ray.get_runtime_context().get_placement_group_id() is None
    assert ray.get(where_zero_cpu.remote(), timeout=30) == (None, None)


def test_task_and_actor_see_their_group(pg):
    pid = pg.id.hex()
    for index in (0, 1, -1):
        s = PlacementGroupSchedulingStrategy(pg, index)
        assert ray.get(where.options(scheduling_strategy=s).remote(), timeout=30) == (pid, pid)
    assert ray.get(where.options(placement_group=pg).remote(), timeout=30) == (pid, pid)
    a = Probe.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 1)).remote()
    assert ray.get(a.where.remote(), timeout=30) == (pid, pid)
    ray.kill(a)
    # A worker that ran a task in the group forgets it for the next task.
    assert ray.get([where_zero_cpu.remote() for _ in range(4)], timeout=30) == [(None, None)] * 4


def test_capture_on_runs_children_in_the_group(pg):
    pid = pg.id.hex()
    s = PlacementGroupSchedulingStrategy(pg, 0, placement_group_capture_child_tasks=True)
    # parent -> child -> grandchild: the flag is inherited, so all three are in
    # the group (and could not run outside it: the group holds every CPU).
    assert ray.get(parent.options(scheduling_strategy=s).remote(2), timeout=60) == [(pid, pid)] * 3
    # The legacy option spelling.
    opts = dict(placement_group=pg, placement_group_bundle_index=1, placement_group_capture_child_tasks=True)
    assert ray.get(parent.options(**opts).remote(1), timeout=60) == [(pid, pid)] * 2
    # An actor created with capture: its calls' children are in the group,
    # and so is an actor it creates.
    a = Probe.options(scheduling_strategy=s).remote()
    assert ray.get(a.child_where.remote(), timeout=30) == (pid, pid)
    assert ray.get(a.make_actor_where.remote(), timeout=30) == (pid, pid)
    ray.kill(a)


def test_explicit_strategy_is_not_captured(pg):
    pid = pg.id.hex()

    @ray.remote(num_cpus=1)
    def spawner(strategy):
        opts = {} if strategy is None else {"scheduling_strategy": strategy}
        return ray.get(where_zero_cpu.options(**opts).remote(), timeout=30)
    s = PlacementGroupSchedulingStrategy(pg, 0, placement_group_capture_child_tasks=True)
    assert ray.get(spawner.options(scheduling_strategy=s).remote(None), timeout=30) == (pid, pid)
    assert ray.get(spawner.options(scheduling_strategy=s).remote("DEFAULT"), timeout=30) == (None, None)
    assert ray.get(spawner.options(scheduling_strategy=s).remote("SPREAD"), timeout=30) == (None, None)


def test_capture_off_leaves_children_outside(pg):
    for capture in (None, False):
        s = PlacementGroupSchedulingStrategy(pg, 0, placement_group_capture_child_tasks=capture)
        # The child asks for a plain CPU, and the group holds them all.
        assert ray.get(parent_child_waits.options(scheduling_strategy=s).remote(), timeout=30) is False
    s = PlacementGroupSchedulingStrategy(pg, 0, placement_group_capture_child_tasks=True)
    assert ray.get(parent_child_waits.options(scheduling_strategy=s).remote(), timeout=30) is True


def test_child_can_opt_out_of_capture(pg):
    @ray.remote(num_cpus=1)
    def spawner():
        # Like Ray: a child's own placement_group_capture_child_tasks=False
        # keeps it out of the parent's group (so here it cannot run).
        child = where.options(placement_group_capture_child_tasks=False).remote()
        ready, _ = ray.wait([child], timeout=1.0)
        ray.cancel(child)
        return bool(ready)
    s = PlacementGroupSchedulingStrategy(pg, 0, placement_group_capture_child_tasks=True)
    assert ray.get(spawner.options(scheduling_strategy=s).remote(), timeout=60) is False


def test_bad_capture_values(cluster4):
    group = placement_group([{"CPU": 0.5}])
    try:
        with pytest.raises(ValueError, match="placement_group_capture_child_tasks must be True, False or None"):
            where.options(scheduling_strategy=PlacementGroupSchedulingStrategy(group, 0, "yes"))
        with pytest.raises(ValueError, match="placement_group_capture_child_tasks must be True, False or None"):
            where.options(placement_group_capture_child_tasks=1)
        with pytest.raises(ValueError, match="placement_group_capture_child_tasks must be True, False or None"):
            Probe.options(placement_group_capture_child_tasks="x")
    finally:
        remove_placement_group(group)
