"""lumos.get_runtime_context() as Ray 2.60 answers it: in the driver, in
tasks, in actors (plain, threaded, async), in placement groups, after an
actor restart."""
import os
import threading
import time

import pytest

import lumos as ray
from lumos._private.ids import ActorID, JobID, NodeID, PlacementGroupID, TaskID
from lumos.util.placement_group import placement_group, remove_placement_group
from lumos.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from conftest import module_cluster, wait_until


@pytest.fixture(scope="module")
def cluster():
    yield from module_cluster(num_cpus=4, resources={"custom": 4}, labels={"zone": "z1"})


def test_driver_answers(cluster):
    rc = ray.get_runtime_context()
    assert rc.get_task_id() is None and rc.task_id is None
    assert rc.get_task_name() is None and rc.get_task_function_name() is None
    assert rc.get_actor_id() is None and rc.actor_id is None and rc.get_actor_name() is None
    assert rc.is_canceled() is False
    assert rc.was_current_actor_reconstructed is False
    assert rc.get_placement_group_id() is None
    assert rc.current_placement_group_id == PlacementGroupID.nil()
    assert rc.should_capture_child_tasks_in_placement_group is False
    # Hex strings (the seeds slice node_id), unlike Ray's id objects: see ARCHITECTURE.md.
    assert rc.job_id == rc.get_job_id() and rc.node_id == rc.get_node_id()
    assert JobID.from_hex(rc.job_id).hex() == rc.job_id and NodeID.from_hex(rc.node_id).hex() == rc.node_id
    session_dir = cluster["session_dir"]
    assert rc.get_session_name() == os.path.basename(session_dir)
    assert rc.get_session_name().startswith("session_")
    assert rc.get_temp_dir() == os.path.dirname(session_dir)
    labels = rc.get_node_labels()
    assert labels["zone"] == "z1" and labels["ray.io/node_id"] == rc.get_node_id()
    assert rc.get_resource_ids() == rc.get_accelerator_ids() == {"GPU": []}
    with pytest.raises(AssertionError, match="only available in a task or actor"):
        rc.get_assigned_resources()


def test_task_answers(cluster):
    @ray.remote(num_cpus=0.5, resources={"custom": 1.5}, memory=100 * 1024 * 1024)
    def probe():
        rc = ray.get_runtime_context()
        return (rc.get_assigned_resources(), rc.get_task_name(), rc.get_task_function_name(), rc.get_task_id(),
                rc.task_id, rc.get_actor_name(), rc.get_node_labels()["zone"], rc.is_canceled())

    res, name, fn, tid, tid_obj, actor_name, zone, cancelled = ray.get(probe.remote())
    assert res == {"CPU": 0.5, "custom": 1.5, "memory": 104857600.0}
    assert name == "probe"
    assert fn == "%s.test_task_answers.<locals>.probe" % __name__   # module.qualname
    assert isinstance(tid_obj, TaskID) and tid_obj.hex() == tid
    assert actor_name is None and zone == "z1" and cancelled is False
    res, name, _, _, _, _, _, _ = ray.get(probe.options(num_cpus=2, name="renamed").remote())
    assert res["CPU"] == 2.0 and name == "renamed"

    @ray.remote
    def default():
        return ray.get_runtime_context().get_assigned_resources()
    assert ray.get(default.remote()) == {"CPU": 1.0}


def test_actor_answers(cluster):
    @ray.remote(num_cpus=1, resources={"custom": 0.25})
    class Probe:
        def info(self):
            rc = ray.get_runtime_context()
            return (rc.get_assigned_resources(), rc.get_task_name(), rc.get_task_function_name(),
                    rc.get_actor_name(), rc.get_actor_id(), rc.actor_id, rc.was_current_actor_reconstructed)

    a = Probe.options(name="probe-actor").remote()
    res, name, fn, actor_name, aid, aid_obj, recon = ray.get(a.info.remote())
    assert res == {"CPU": 1.0, "custom": 0.25}
    assert name == "Probe.info" and fn == "%s.Probe.info" % __name__
    assert actor_name == "probe-actor"
    assert isinstance(aid_obj, ActorID) and aid_obj.hex() == aid
    assert recon is False
    b = Probe.remote()
    assert ray.get(b.info.remote())[3] == ""   # unnamed actor: empty name, as in Ray
    ray.kill(a)
    ray.kill(b)


def test_concurrent_calls_see_their_own_task(cluster):
    @ray.remote(max_concurrency=4)
    class Threaded:
        def __init__(self):
            self.barrier = threading.Barrier(2, timeout=20)

        def who(self, tag):
            rc = ray.get_runtime_context()
            self.barrier.wait()   # both calls run at once
            return tag, rc.get_task_id()

    @ray.remote
    class Async:
        async def who(self, tag):
            import asyncio
            before = ray.get_runtime_context().get_task_id()
            await asyncio.sleep(0.2)
            return tag, before == ray.get_runtime_context().get_task_id(), before

    t = Threaded.remote()
    r1, r2 = t.who.remote("a"), t.who.remote("b")
    (_, id1), (_, id2) = ray.get([r1, r2], timeout=30)
    assert id1 == r1.task_id().hex() and id2 == r2.task_id().hex()
    s = Async.remote()
    refs = [s.who.remote(i) for i in range(3)]
    out = ray.get(refs, timeout=30)
    assert all(same for _, same, _ in out)
    assert [tid for _, _, tid in out] == [r.task_id().hex() for r in refs]
    ray.kill(t)
    ray.kill(s)


def test_placement_group_answers(cluster):
    pg = placement_group([{"CPU": 1, "custom": 1}, {"CPU": 1}])
    assert pg.wait(20)

    @ray.remote(num_cpus=1, resources={"custom": 0.5})
    def in_group():
        rc = ray.get_runtime_context()
        return (rc.get_assigned_resources(), rc.get_placement_group_id(), rc.current_placement_group_id,
                rc.should_capture_child_tasks_in_placement_group)

    res, pg_hex, pg_id, capture = ray.get(in_group.options(
        scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 0, True)).remote())
    assert res == {"CPU": 1.0, "custom": 0.5}   # the bundle's names mapped back
    assert pg_hex == pg.id.hex() and pg_id == PlacementGroupID.from_hex(pg.id.hex())
    assert capture is True

    @ray.remote(num_cpus=1)
    def any_bundle():
        rc = ray.get_runtime_context()
        return rc.get_assigned_resources(), rc.should_capture_child_tasks_in_placement_group
    assert ray.get(any_bundle.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote()) == (
        {"CPU": 1.0}, False)
    remove_placement_group(pg)


def test_is_canceled_in_threaded_actor(cluster):
    @ray.remote(max_concurrency=2)
    class Poller:
        def __init__(self):
            self.started = threading.Event()

        def poll(self):
            self.started.set()
            deadline = time.time() + 20
            while time.time() < deadline:
                if ray.get_runtime_context().is_canceled():
                    return "saw cancel"
                time.sleep(0.01)
            return "timed out"

        def wait_started(self):
            return self.started.wait(20)

    p = Poller.remote()
    ref = p.poll.remote()
    assert ray.get(p.wait_started.remote(), timeout=30)
    ray.cancel(ref)
    # A running call of a threaded actor is not interrupted (as in Ray): it
    # sees the flag and returns.
    assert ray.get(ref, timeout=30) == "saw cancel"
    ray.kill(p)


def test_was_current_actor_reconstructed(cluster):
    @ray.remote(max_restarts=1)
    class Phoenix:
        def pid(self):
            return os.getpid()

        def reconstructed(self):
            return ray.get_runtime_context().was_current_actor_reconstructed

    a = Phoenix.remote()
    pid = ray.get(a.pid.remote())
    assert ray.get(a.reconstructed.remote()) is False
    os.kill(pid, 9)

    def restarted():
        try:
            return ray.get(a.pid.remote(), timeout=10) != pid
        except ray.exceptions.RayActorError:
            return False
    assert wait_until(restarted, timeout=30)
    assert ray.get(a.reconstructed.remote()) is True
    ray.kill(a)
