"""Removing a placement group ends the work in it (like Ray): actors created
in the group die for good, tasks running in it are killed and fail with
TaskPlacementGroupRemoved (not retried into the removed group), and tasks or
actors still waiting for the group fail instead of pending forever. Work in
other groups or in no group is untouched."""
import os
import time

import psutil
import pytest

import lumos as ray
from lumos.util.placement_group import placement_group, remove_placement_group
from lumos.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from conftest import module_cluster, wait_until as wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def cluster4():
    yield from module_cluster(num_cpus=4)


def gone(pid):
    if not psutil.pid_exists(pid):
        return True
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def in_group(pg, index=-1):
    return PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=index)


@ray.remote(num_cpus=1)
class Worker:
    def pid(self):
        return os.getpid()


@ray.remote(num_cpus=1, max_retries=3)
def hang(path):
    with open(path, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(60)
    return "finished"


@ray.remote(num_cpus=1)
def quick(x):
    return x


def read_pid(path, timeout=20):
    assert wait_for(lambda: os.path.exists(path) and open(path).read().strip(), timeout), "task never started"
    return int(open(path).read())


def test_actor_in_removed_group_dies(cluster4):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}])
    other = placement_group([{"CPU": 1}])
    assert pg.wait(30) and other.wait(30)
    doomed = Worker.options(scheduling_strategy=in_group(pg, 0), max_restarts=3).remote()
    # Like Ray, a detached actor in the group dies too: its resources are gone.
    detached = Worker.options(scheduling_strategy=in_group(pg, 1), lifetime="detached",
                              name="pg_detached").remote()
    outside = Worker.options(num_cpus=0).remote()
    kept = Worker.options(scheduling_strategy=in_group(other), lifetime="detached", name="pg_kept").remote()
    pids = ray.get([doomed.pid.remote(), detached.pid.remote(), outside.pid.remote(), kept.pid.remote()],
                   timeout=30)
    remove_placement_group(pg)
    assert wait_for(lambda: gone(pids[0]) and gone(pids[1]), 10), "the group's actor workers still run"
    # Calls fail with the cause (even with restarts left: the group is gone).
    for actor in (doomed, detached):
        with pytest.raises(ray.exceptions.ActorDiedError, match="placement group %s was removed" % pg.id.hex()):
            ray.get(actor.pid.remote(), timeout=20)
    assert isinstance(ray.exceptions.ActorDiedError("x"), ray.exceptions.RayActorError)
    # Actors outside the group (none, or another one) are untouched.
    assert ray.get([outside.pid.remote(), kept.pid.remote()], timeout=10) == pids[2:]
    ray.kill(outside)
    ray.kill(kept)
    remove_placement_group(other)


def test_running_task_is_killed_not_retried(cluster4, tmp_path):
    pg = placement_group([{"CPU": 1}])
    other = placement_group([{"CPU": 1}])
    assert pg.wait(30) and other.wait(30)
    path = str(tmp_path / "pid")
    ref = hang.options(scheduling_strategy=in_group(pg)).remote(path)
    survivor = quick.options(scheduling_strategy=in_group(other)).remote
    pid = read_pid(path)
    os.unlink(path)
    start = time.time()
    remove_placement_group(pg)
    with pytest.raises(ray.exceptions.TaskPlacementGroupRemoved, match="hang.*placement group %s was removed"
                       % pg.id.hex()):
        ray.get(ref, timeout=30)
    assert time.time() - start < 10
    assert wait_for(lambda: gone(pid), 5), "the task's worker still runs"
    time.sleep(0.3)
    assert not os.path.exists(path), "the task was retried (max_retries=3) into the removed group"
    # Other groups and group-less tasks still run, and the CPU came back.
    assert ray.get(survivor(7), timeout=20) == 7
    assert ray.get(quick.remote(8), timeout=20) == 8
    remove_placement_group(other)
    assert wait_for(lambda: ray.available_resources().get("CPU") == 4.0, 10), ray.available_resources()


def test_queued_tasks_of_a_removed_group_fail(cluster4, tmp_path):
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(30)
    path = str(tmp_path / "pid")
    running = hang.options(scheduling_strategy=in_group(pg)).remote(path)
    read_pid(path)
    queued = [quick.options(scheduling_strategy=in_group(pg)).remote(i) for i in range(3)]
    ready, _ = ray.wait(queued, timeout=0.5)
    assert not ready  # the bundle's one CPU is taken
    remove_placement_group(pg)
    for ref in [running] + queued:
        with pytest.raises(ray.exceptions.TaskPlacementGroupRemoved, match="placement group %s was removed"
                           % pg.id.hex()):
            ray.get(ref, timeout=20)
    # Submitted after the removal: fails at once rather than waiting forever.
    with pytest.raises(ray.exceptions.TaskPlacementGroupRemoved, match="was removed"):
        ray.get(quick.options(scheduling_strategy=in_group(pg)).remote(0), timeout=20)


def test_work_waiting_for_a_never_placed_group_fails(cluster4):
    pg = placement_group([{"CPU": 64}])  # never fits this node
    assert not pg.wait(0.5)
    task = quick.options(scheduling_strategy=in_group(pg)).remote(1)
    actor = Worker.options(scheduling_strategy=in_group(pg)).remote()
    call = actor.pid.remote()
    ready, _ = ray.wait([task, call], timeout=0.5)
    assert not ready
    remove_placement_group(pg)
    with pytest.raises(ray.exceptions.TaskPlacementGroupRemoved, match="was removed"):
        ray.get(task, timeout=20)
    with pytest.raises(ray.exceptions.ActorDiedError, match="placement group %s was removed" % pg.id.hex()):
        ray.get(call, timeout=20)
    # An actor created in the removed group dies at once too.
    late = Worker.options(scheduling_strategy=in_group(pg)).remote()
    with pytest.raises(ray.exceptions.ActorDiedError, match="was removed"):
        ray.get(late.pid.remote(), timeout=20)
    assert ray.get(quick.remote(2), timeout=20) == 2
