"""Lineage reconstruction of lost streamed items (issue 16), as in Ray 2.60:
an item a streaming generator task yielded into the object store, lost with
the node that held it, is rebuilt by running the generator again as a new
attempt (max_retries > 0); the caller gets the item of the same index, items
it had already consumed and freed are dropped on arrival, and a generator
without lineage (max_retries=0) or that does not yield the item again gives
ObjectReconstructionFailedError naming why."""
import os
import shutil
import signal
import time

import numpy as np
import pytest

import lumos
from lumos.cluster_utils import Cluster

from conftest import short_tmpdir, wait_until

pytestmark = pytest.mark.timeout(120)

ITEM = 200_000  # bytes: over max_direct_call_object_size, so items go to the object store


@pytest.fixture
def doomed(no_cluster):
    """A head with no CPUs and a worker node ("w") that the test kills; a
    replacement node with "w" joins right after, so re-execution can run."""
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "temp_dir": tmp})
    node = c.add_node(num_cpus=1, resources={"w": 1}, temp_dir=tmp)
    c.connect()

    def kill_and_replace():
        os.kill(node._node.procs["raylet"].pid, signal.SIGKILL)
        assert wait_until(lambda: not any(n["NodeID"] == node.node_id and n["Alive"] for n in lumos.nodes()), 10)
        c.add_node(num_cpus=1, resources={"w": 1}, temp_dir=tmp)

    yield kill_and_replace, tmp
    c.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


def _runs(marks):
    return len([f for f in os.listdir(marks) if f.startswith("run")])


@pytest.fixture
def marks(tmp_path):
    return str(tmp_path)


def _make_gen(marks, max_retries, shrink_on_rerun=False):
    @lumos.remote(max_retries=max_retries, resources={"w": 0.1}, num_returns="streaming")
    def gen(n):
        run = len([f for f in os.listdir(marks) if f.startswith("run")])
        open(os.path.join(marks, "run%d" % run), "w").close()
        if shrink_on_rerun and run > 0:
            n = 1
        for i in range(n):
            yield np.full(ITEM, i, dtype=np.uint8)

    return gen


def test_lost_items_are_rebuilt_by_running_the_generator_again(doomed, marks):
    kill_and_replace, tmp = doomed
    gen = _make_gen(marks, max_retries=2)
    g = gen.remote(5)
    first = [next(g) for _ in range(3)]
    assert lumos.get(first[0])[0] == 0
    del first[0]  # consumed and freed: not rebuilt (its re-report is dropped)
    lumos.get(g.completed(), timeout=30)  # the task is over: only lineage can help now
    assert _runs(marks) == 1
    kill_and_replace()
    # Consumed but still held: rebuilt with the same index.
    assert [lumos.get(r, timeout=60)[0] for r in first] == [1, 2]
    # Not consumed yet: the stream hands them out, rebuilt too.
    assert [lumos.get(r, timeout=60)[0] for r in g] == [3, 4]
    assert _runs(marks) == 2  # one re-execution rebuilt every lost item


def test_a_dropped_generator_still_rebuilds_the_items_held(doomed, marks):
    kill_and_replace, tmp = doomed
    gen = _make_gen(marks, max_retries=1)
    g = gen.remote(3)
    held = [next(g) for _ in range(3)]
    lumos.get(g.completed(), timeout=30)
    del g  # the stream is gone; the refs live on
    kill_and_replace()
    assert [lumos.get(r, timeout=60)[0] for r in held] == [0, 1, 2]
    assert _runs(marks) == 2


def test_an_item_lost_while_its_task_is_retried_is_rebuilt(doomed, marks):
    """The node dies mid-stream: the task retries elsewhere and re-yields
    every item (duplicates, ignored) before the caller notices that item 0's
    copy died with the node. The retry is asked for it too late, so once it
    ends the item goes to the lineage and the generator runs a third time."""
    kill_and_replace, tmp = doomed

    @lumos.remote(max_retries=2, resources={"w": 0.1}, num_returns="streaming")
    def gen():
        run = len([f for f in os.listdir(marks) if f.startswith("run")])
        open(os.path.join(marks, "run%d" % run), "w").close()
        for i in range(2):
            yield np.full(ITEM, i, dtype=np.uint8)
        open(os.path.join(marks, "yielded%d" % run), "w").close()
        time.sleep(60 if run == 0 else 3)

    g = gen.remote()
    first = next(g)
    assert wait_until(lambda: os.path.exists(os.path.join(marks, "yielded0")), 30)
    kill_and_replace()
    assert wait_until(lambda: os.path.exists(os.path.join(marks, "yielded1")), 60)  # the retry re-yielded both
    assert lumos.get(first, timeout=60)[0] == 0
    assert [lumos.get(r, timeout=60)[0] for r in g] == [1]
    assert _runs(marks) == 3


def test_without_lineage_or_the_item_the_error_names_why(doomed, tmp_path):
    kill_and_replace, tmp = doomed
    os.mkdir(tmp_path / "once")
    os.mkdir(tmp_path / "shrinking")
    once = _make_gen(str(tmp_path / "once"), max_retries=0)
    shrinking = _make_gen(str(tmp_path / "shrinking"), max_retries=1, shrink_on_rerun=True)
    g0, g1 = once.remote(1), shrinking.remote(2)
    a = next(g0)
    b0, b1 = next(g1), next(g1)
    lumos.get([g0.completed(), g1.completed()], timeout=30)
    kill_and_replace()
    with pytest.raises(lumos.exceptions.ObjectReconstructionFailedError) as e:
        lumos.get(a, timeout=60)
    assert "lineage is not kept" in str(e.value)
    assert lumos.get(b0, timeout=60)[0] == 0  # yielded again
    with pytest.raises(lumos.exceptions.ObjectReconstructionFailedError) as e:
        lumos.get(b1, timeout=60)
    assert "yielded only 1 items" in str(e.value)
