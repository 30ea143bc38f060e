"""Several nodes on one host (cluster_utils.Cluster): nodes join and are
listed, work runs on any node (spillback, custom resources on one node,
SPREAD, node affinity, labels, actors, placement groups across nodes), and
objects move between nodes (gets, task arguments, waits), with the owner
knowing every copy."""
import shutil
import time

import numpy as np
import pytest

import lumos
from lumos.cluster_utils import Cluster
from lumos.util.scheduling_strategies import (In, NodeAffinitySchedulingStrategy, NodeLabelSchedulingStrategy,
                                              PlacementGroupSchedulingStrategy)
from lumos.util.placement_group import placement_group, remove_placement_group

from conftest import short_tmpdir, wait_until


@pytest.fixture(scope="module")
def cluster():
    if lumos.is_initialized():
        lumos.shutdown()
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "temp_dir": tmp,
                                                       "object_store_memory": 256 << 20})
    a = c.add_node(num_cpus=2, resources={"a": 2}, labels={"zone": "a"}, temp_dir=tmp,
                   object_store_memory=256 << 20)
    b = c.add_node(num_cpus=2, resources={"b": 2}, labels={"zone": "b"}, temp_dir=tmp,
                   object_store_memory=256 << 20)
    c.wait_for_nodes()
    c.connect()
    c.nodes_by_name = {"head": c.head_node.node_id, "a": a.node_id, "b": b.node_id}
    c.tmp = tmp
    yield c
    c.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


@lumos.remote
def node_of():
    return lumos.get_runtime_context().get_node_id()


def test_every_node_is_listed_with_its_resources(cluster):
    alive = [n for n in lumos.nodes() if n["Alive"]]
    assert {n["NodeID"] for n in alive} == set(cluster.nodes_by_name.values())
    res = lumos.cluster_resources()
    assert res["CPU"] == 5 and res["a"] == 2 and res["b"] == 2
    assert all(n["NodeManagerAddress"] == "127.0.0.1" for n in alive)


def test_a_resource_of_one_node_runs_there(cluster):
    assert lumos.get(node_of.options(resources={"a": 1}).remote()) == cluster.nodes_by_name["a"]
    assert lumos.get(node_of.options(resources={"b": 1}).remote()) == cluster.nodes_by_name["b"]


def test_more_tasks_than_the_head_holds_spill_to_other_nodes(cluster):
    @lumos.remote(num_cpus=1)
    def slow():
        time.sleep(0.5)
        return lumos.get_runtime_context().get_node_id()
    nodes = set(lumos.get([slow.remote() for _ in range(5)]))
    assert len(nodes) >= 2, nodes


def test_spread_uses_every_node(cluster):
    @lumos.remote(num_cpus=1, scheduling_strategy="SPREAD")
    def slow():
        time.sleep(0.4)
        return lumos.get_runtime_context().get_node_id()
    assert set(lumos.get([slow.remote() for _ in range(3)])) == set(cluster.nodes_by_name.values())


def test_node_affinity_hard_and_soft(cluster):
    target = cluster.nodes_by_name["b"]
    hard = NodeAffinitySchedulingStrategy(target, soft=False)
    assert lumos.get([node_of.options(scheduling_strategy=hard).remote() for _ in range(3)]) == [target] * 3
    gone = NodeAffinitySchedulingStrategy("ab" * 16, soft=True)
    assert lumos.get(node_of.options(scheduling_strategy=gone).remote()) in cluster.nodes_by_name.values()
    with pytest.raises(lumos.exceptions.TaskUnschedulableError):
        lumos.get(node_of.options(scheduling_strategy=NodeAffinitySchedulingStrategy("ab" * 16, soft=False)).remote())


def test_node_labels_choose_the_node(cluster):
    s = NodeLabelSchedulingStrategy(hard={"zone": In("b")})
    assert lumos.get(node_of.options(scheduling_strategy=s).remote()) == cluster.nodes_by_name["b"]
    with pytest.raises(ValueError, match="no alive node matches"):
        node_of.options(scheduling_strategy=NodeLabelSchedulingStrategy(hard={"zone": In("nowhere")})).remote()


def test_actors_live_on_other_nodes_and_answer(cluster):
    @lumos.remote
    class Counter:
        def __init__(self):
            self.n = 0

        def incr(self):
            self.n += 1
            return self.n

        def where(self):
            return lumos.get_runtime_context().get_node_id()

    c = Counter.options(resources={"a": 1}).remote()
    assert lumos.get(c.where.remote()) == cluster.nodes_by_name["a"]
    assert lumos.get([c.incr.remote() for _ in range(100)])[-1] == 100
    spread = [Counter.options(scheduling_strategy="SPREAD", num_cpus=0.5).remote() for _ in range(3)]
    assert len(set(lumos.get([x.where.remote() for x in spread]))) >= 2
    on_b = Counter.options(scheduling_strategy=NodeAffinitySchedulingStrategy(cluster.nodes_by_name["b"],
                                                                               soft=False)).remote()
    assert lumos.get(on_b.where.remote()) == cluster.nodes_by_name["b"]
    for x in [c, on_b] + spread:
        lumos.kill(x)


def test_objects_move_between_nodes(cluster):
    @lumos.remote(resources={"a": 1})
    def make(n):
        return np.arange(n, dtype=np.int64)

    @lumos.remote(resources={"b": 1})
    def total(x):
        return int(x.sum()), lumos.get_runtime_context().get_node_id()

    n = 5_000_000  # 40 MB: in the object store of node a
    ref = make.remote(n)
    expected = n * (n - 1) // 2
    assert lumos.get(total.remote(ref)) == (expected, cluster.nodes_by_name["b"])   # a -> b as an argument
    arr = lumos.get(ref)                                                             # a -> head for the driver
    assert arr.shape == (n,) and int(arr[-1]) == n - 1 and int(arr.sum()) == expected
    locations = lumos.experimental.get_object_locations([ref])[ref]
    assert set(locations["node_ids"]) == set(cluster.nodes_by_name.values())
    assert locations["object_size"] >= n * 8


def test_put_is_read_on_another_node(cluster):
    data = np.random.default_rng(0).integers(0, 1 << 30, size=2_000_000)
    ref = lumos.put(data)

    @lumos.remote(resources={"b": 1})
    def checksum(x):
        return int(x.sum())
    assert lumos.get(checksum.remote(ref)) == int(data.sum())


def test_wait_and_get_of_remote_objects(cluster):
    @lumos.remote(resources={"a": 1})
    def make(i):
        time.sleep(0.2 * i)
        return np.full(200_000, i)
    refs = [make.remote(i) for i in range(3)]
    ready, rest = lumos.wait(refs, num_returns=1, timeout=10)
    assert ready == [refs[0]] and len(rest) == 2
    assert [int(a[0]) for a in lumos.get(refs)] == [0, 1, 2]


def test_nested_tasks_across_nodes(cluster):
    @lumos.remote(resources={"b": 1})
    def inner():
        return np.ones(300_000), lumos.get_runtime_context().get_node_id()

    @lumos.remote(resources={"a": 1})
    def outer():
        arr, node = lumos.get(inner.remote())
        return float(arr.sum()), node, lumos.get_runtime_context().get_node_id()
    assert lumos.get(outer.remote()) == (300_000.0, cluster.nodes_by_name["b"], cluster.nodes_by_name["a"])


def test_strict_spread_bundles_land_on_distinct_nodes(cluster):
    pg = placement_group([{"CPU": 1}] * 3, strategy="STRICT_SPREAD")
    assert pg.wait(20)
    nodes = lumos.get([node_of.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, i)).remote()
                       for i in range(3)])
    assert sorted(nodes) == sorted(cluster.nodes_by_name.values())
    remove_placement_group(pg)
    impossible = placement_group([{"CPU": 1}] * 4, strategy="STRICT_SPREAD")  # three nodes only
    assert not impossible.wait(1)
    assert "STRICT_SPREAD" in lumos.util.placement_group_table(impossible)["stats"]["pending_reason"]
    remove_placement_group(impossible)


def test_worker_output_reaches_the_driver_from_any_node(cluster, capfd):
    @lumos.remote(resources={"b": 1})
    def say():
        print("hello from node b")
    lumos.get(say.remote())
    seen = []
    assert wait_until(lambda: seen.append(capfd.readouterr().out) or "hello from node b" in "".join(seen), 10)


def test_status_lists_every_node(cluster):
    from conftest import env_with_lumos, run_cli
    r = run_cli(["status", "--address", cluster.address, "--temp-dir", cluster.tmp], env_with_lumos())
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("127.0.0.1") >= 3
    for node_id in cluster.nodes_by_name.values():
        assert node_id in r.stdout


def test_freed_objects_leave_every_node(cluster):
    @lumos.remote(resources={"a": 1})
    def make():
        return np.ones(1_000_000)

    @lumos.remote(resources={"b": 1})
    def use(x):
        return float(x.sum())
    ref = make.remote()
    assert lumos.get(use.remote(ref)) == 1e6
    object_hex = ref.hex()

    @lumos.remote(num_cpus=0)
    def stored_on_this_node(oid):
        cw = lumos._private.worker.core_worker()
        return oid in {o["object_id"] for o in cw.store_stats(include_objects=True).get("objects", [])}
    on = lambda name: lumos.get(stored_on_this_node.options(  # noqa: E731
        scheduling_strategy=NodeAffinitySchedulingStrategy(cluster.nodes_by_name[name], soft=False)).remote(object_hex))
    assert on("a") and on("b")
    del ref
    assert wait_until(lambda: not on("a") and not on("b"), 10)


def test_infeasible_everywhere_is_explained_with_the_largest_node(cluster, capfd):
    @lumos.remote(num_cpus=64)
    def huge():
        return 1
    ref = huge.remote()
    assert lumos.wait([ref], timeout=1.0) == ([], [ref])
    seen = []
    assert wait_until(lambda: seen.append(capfd.readouterr().err) or "none of the cluster" in "".join(seen), 10), seen
    assert "the largest has {'CPU': 2.0}" in "".join(seen)
    lumos.cancel(ref)


def test_a_task_goes_where_its_large_argument_is(cluster):
    @lumos.remote(resources={"b": 1})
    def make():
        return np.ones(4_000_000)  # 32 MB, in node b's store

    @lumos.remote
    def where(x):
        return lumos.get_runtime_context().get_node_id()
    big = make.remote()
    lumos.wait([big])
    time.sleep(0.5)  # the head's view of b (polled every 100 ms) shows b idle again
    # Locality: b has room, so the task runs there instead of pulling 32 MB
    # (one at a time, and after a fresh view: three at once would not all
    # fit b's two CPUs).
    for _ in range(3):
        assert lumos.get(where.remote(big)) == cluster.nodes_by_name["b"]
        time.sleep(0.3)

