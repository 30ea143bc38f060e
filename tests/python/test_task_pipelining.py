"""Pipelined task pushes (NormalTaskSubmitter): an owner sends up to
max_tasks_in_flight_per_worker tasks to a leased worker at once. These tests
check that the pipelining never shows in a program's behaviour: a task queued
behind a slow one runs elsewhere, a crash charges only the task that was
running, a forced cancel of a queued task spares the running one, and a task
without retries is never queued behind another."""
import os
import time

import pytest

import lumos as ray
from lumos import exceptions
from lumos.util.state import list_tasks

pytestmark = pytest.mark.timeout(90)

# Workers keep queued tasks for a minute unless a test lowers this: the tests
# that need a task to stay queued behind another one set it.
HOLD_QUEUED = {"queued_task_return_ms": 60000}


@ray.remote
def nap(seconds):
    time.sleep(seconds)
    return seconds


@ray.remote
def crash_once(marker):
    """Kills its worker on its first run (a marker file counts runs), then answers."""
    runs = int(open(marker).read()) if os.path.exists(marker) else 0
    with open(marker, "w") as f:
        f.write(str(runs + 1))
    if runs == 0:
        time.sleep(0.5)  # the tasks pushed behind it are queued at its worker by now
        os._exit(1)
    return "survived"


@ray.remote
def count_run(marker, seconds):
    with open(marker, "a") as f:
        f.write("x")
    time.sleep(seconds)
    return seconds


def test_tasks_queued_behind_a_slow_task_run_elsewhere(ray_start_fn):
    ray_start_fn(num_cpus=2)
    ray.get(nap.remote(0))
    slow = nap.remote(20)
    shorts = [nap.remote(0) for _ in range(40)]
    # Some of the shorts were pushed behind the slow task; its worker hands
    # them back after queued_task_return_ms (5 ms) and the other worker runs them.
    assert ray.get(shorts, timeout=15) == [0] * 40
    ready, _ = ray.wait([slow], timeout=0)
    assert not ready
    ray.cancel(slow, force=True)


def test_a_crash_charges_only_the_running_task(ray_start_fn, tmp_path):
    ray_start_fn(num_cpus=2, _system_config=HOLD_QUEUED)
    ray.get(nap.remote(0))
    marker = str(tmp_path / "crash")
    # One class: the crasher is pushed first, to an idle worker; the naps
    # queue behind it (pipelined) until it kills the worker.
    crasher = crash_once.options(max_retries=1, name="crasher").remote(marker)
    naps = [nap.options(name="queued_nap").remote(0) for _ in range(30)]
    assert ray.get(crasher, timeout=30) == "survived"
    assert ray.get(naps, timeout=30) == [0] * 30

    def attempts(name):
        return [t.attempt_number for t in list_tasks(filters=[("name", "=", name)], limit=None)]

    deadline = time.monotonic() + 20
    while len(attempts("queued_nap")) < 30 or len(attempts("crasher")) < 2:
        assert time.monotonic() < deadline, "task events did not arrive"
        time.sleep(0.2)
    assert sorted(attempts("crasher")) == [0, 1]
    # Under a charge-everything rule the naps queued behind the crasher would
    # show a second attempt; they never started, so they keep attempt 0.
    assert set(attempts("queued_nap")) == {0}


def test_force_cancel_of_a_queued_task_spares_the_running_one(ray_start_fn, tmp_path):
    ray_start_fn(num_cpus=1, _system_config=HOLD_QUEUED)
    ray.get(nap.remote(0))
    marker = str(tmp_path / "runs")
    running = count_run.remote(marker, 1.5)
    queued = [count_run.remote(str(tmp_path / ("q%d" % i)), 0) for i in range(20)]
    time.sleep(0.5)   # the first is running; some of the others are queued at its worker
    ray.cancel(queued[0], force=True)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(queued[0], timeout=30)
    assert ray.get(running, timeout=30) == 1.5
    assert open(marker).read() == "x"   # ran once: its worker was not killed
    assert ray.get(queued[1:], timeout=30) == [0] * 19


def test_a_task_without_retries_is_never_queued_behind_another(ray_start_fn):
    ray_start_fn(num_cpus=2, _system_config=HOLD_QUEUED)
    ray.get(nap.remote(0))
    slow = nap.options(max_retries=0).remote(20)
    shorts = [nap.options(max_retries=0).remote(0) for _ in range(40)]
    # None of them waits behind the slow one (queued tasks would be held for
    # a minute here): the other worker runs them all.
    assert ray.get(shorts, timeout=15) == [0] * 40
    ready, _ = ray.wait([slow], timeout=0)
    assert not ready
    ray.cancel(slow, force=True)


@ray.remote
class Leaver:
    def nap(self, seconds):
        time.sleep(seconds)
        return seconds

    def leave(self):
        ray.actor.exit_actor()


def test_calls_queued_at_an_exiting_actor_fail_as_actor_died(ray_start_fn):
    # The worker hands back queued *normal* tasks unrun when it exits; an
    # actor's queued calls must still fail the way an actor's calls do.
    ray_start_fn(num_cpus=2)
    actor = Leaver.remote()
    assert ray.get(actor.nap.remote(0), timeout=30) == 0
    first = [actor.nap.remote(0.2) for _ in range(3)]
    actor.leave.remote()
    queued = [actor.nap.remote(0) for _ in range(5)]
    assert ray.get(first, timeout=30) == [0.2] * 3
    for ref in queued:
        with pytest.raises(exceptions.ActorDiedError):
            ray.get(ref, timeout=30)
