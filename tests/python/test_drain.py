"""Draining a node (issue 12): `lumos drain-node` and
Cluster.remove_node(allow_graceful=True) stop new work on the node, let its
running tasks finish (none retried), move the primary copies of objects it
holds to other nodes (none lost), then stop it; and the bad inputs."""
import os
import threading
import time

import numpy as np
import pytest

import lumos
from lumos.cluster_utils import Cluster
from lumos.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from conftest import env_with_lumos, run_cli, short_tmpdir, wait_until


@pytest.fixture
def cluster(no_cluster):
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "temp_dir": tmp})
    side = c.add_node(num_cpus=2, resources={"side": 2}, temp_dir=tmp)
    c.connect()
    yield c, side, tmp
    c.shutdown()


def _node(node_id):
    return next(n for n in lumos.nodes() if n["NodeID"] == node_id)


def test_drain_lets_running_tasks_finish_and_moves_objects(cluster):
    c, side, tmp = cluster
    marks = os.path.join(tmp, "marks")
    os.makedirs(marks)
    on_side = NodeAffinitySchedulingStrategy(side.node_id, soft=True)

    @lumos.remote(max_retries=3)
    def slow(i):
        # One file per execution: a retried task would leave two.
        with open(os.path.join(marks, "%d-%d" % (i, time.monotonic_ns())), "w"):
            pass
        time.sleep(2.0)
        return lumos.get_runtime_context().get_node_id()

    @lumos.remote
    def where():
        return lumos.get_runtime_context().get_node_id()

    @lumos.remote
    def make(n):
        return np.arange(n)

    # Primary copies on the side node, owned by this driver (on the head).
    objects = [make.options(scheduling_strategy=on_side).remote(200_000 + i) for i in range(4)]
    lumos.wait(objects, num_returns=len(objects), timeout=60)
    locs = lumos.experimental.get_object_locations(objects)
    assert all(locs[o]["node_ids"] == [side.node_id] for o in objects)

    running = [slow.options(scheduling_strategy=on_side).remote(i) for i in range(2)]
    assert wait_until(lambda: len(os.listdir(marks)) == 2, timeout=30)

    from lumos._private import auth, drain
    channel = auth.grpc_channel(c.address, c._token)
    drain.request_drain(channel, side.node_id, "test")
    channel.close()
    done = threading.Event()
    errors = []

    def remove():  # waits for the drain asked above to end, like remove_node
        try:
            c.remove_node(side, allow_graceful=True, drain_timeout=60)
        except Exception as e:  # noqa: BLE001 - reported by the assert below
            errors.append(e)
        done.set()

    remover = threading.Thread(target=remove)
    remover.start()
    time.sleep(0.5)  # every raylet's view (polled every 100 ms) has it draining
    # New work asked for the draining node goes elsewhere.
    late = where.options(scheduling_strategy=on_side).remote()
    assert lumos.get(running, timeout=60) == [side.node_id, side.node_id]  # finished where they ran
    assert lumos.get(late, timeout=60) == c.head_node.node_id
    remover.join(timeout=90)
    assert done.is_set() and not errors, errors
    assert sorted(name.split("-")[0] for name in os.listdir(marks)) == ["0", "1"]  # none retried

    dead = _node(side.node_id)
    assert not dead["Alive"]
    assert "drained" in dead.get("DeathReason", "drained")
    # Every object is still there, now on the head, and reads back intact.
    values = lumos.get(objects, timeout=60)
    assert [len(v) for v in values] == [200_000 + i for i in range(4)]
    assert all(int(v[-1]) == len(v) - 1 for v in values)
    locs = lumos.experimental.get_object_locations(objects)
    assert all(c.head_node.node_id in locs[o]["node_ids"] for o in objects)


def test_drain_node_cli_and_its_bad_inputs(cluster):
    c, side, tmp = cluster
    env = env_with_lumos(LUMOS_AUTH_TOKEN=c._token)
    base = ["drain-node", "--address", c.address]
    r = run_cli(base + ["00" * 16], env)
    assert r.returncode != 0 and "not registered" in r.stderr, r.stderr
    r = run_cli(base + ["xyz"], env)
    assert r.returncode != 0 and "not a node id" in r.stderr, r.stderr
    r = run_cli(base + [c.head_node.node_id], env)
    assert r.returncode != 0 and "head node" in r.stderr, r.stderr
    r = run_cli(base + [side.node_id, "--deadline-remaining-seconds", "-1"], env)
    assert r.returncode != 0 and ">= 0" in r.stderr, r.stderr
    r = run_cli(base + ["--node-id", side.node_id, "--reason-message", "maintenance"], env, timeout=90)
    assert r.returncode == 0, r.stderr
    assert "stopped" in r.stdout and "maintenance" in r.stdout, r.stdout
    assert not _node(side.node_id)["Alive"]
    # The cluster goes on without it.
    assert lumos.get(lumos.remote(lambda: 1).remote(), timeout=30) == 1
    r = run_cli(base + [side.node_id], env)
    assert r.returncode != 0 and "already dead" in r.stderr, r.stderr
