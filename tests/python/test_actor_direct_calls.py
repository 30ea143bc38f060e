"""Calls of an async actor are run by its asyncio loop's thread directly, and
those of a threaded actor by its pool threads (CoreWorker::EnableDirectCalls),
except an async actor's calls with ObjectRef arguments, which the main thread
fetches first. What that must keep: every call is answered, calls with and
without ObjectRef arguments mix, a call waiting for its argument does not hold
up the calls after it (as in Ray, whose async and threaded actors run calls
out of order), max_concurrency holds, cancel and exit_actor still reach
queued calls, and an actor with named groups keeps its groups apart."""
import asyncio
import os
import threading
import time

import pytest

import lumos as ray
from lumos import exceptions


@ray.remote
def wait_for_file(path):
    while not os.path.exists(path):
        time.sleep(0.02)
    return 7


@ray.remote
def borrowed_ref(path):
    # A ref this task's worker owns: the driver passes it on unresolved, so
    # the actor fetches it itself.
    return [wait_for_file.remote(path)]


@ray.remote
class Echo:
    async def plain(self, i):
        return i

    async def add(self, x, y):
        return x + y

    async def nap(self, s):
        await asyncio.sleep(s)
        return s

    async def leave(self):
        ray.actor.exit_actor()


def test_calls_with_and_without_ref_args_mix(ray_start):
    a = Echo.remote()
    assert ray.get(a.plain.remote(0), timeout=30) == 0
    ready = ray.put(5)
    refs = []
    for i in range(200):
        refs.append(a.add.remote(ready, i) if i % 3 == 0 else a.plain.remote(i))
    want = [5 + i if i % 3 == 0 else i for i in range(200)]
    assert ray.get(refs, timeout=60) == want


def test_a_call_waiting_for_its_argument_does_not_hold_up_later_calls(ray_start, tmp_path):
    a = Echo.remote()
    assert ray.get(a.plain.remote(0), timeout=30) == 0
    release = str(tmp_path / "release")
    [inner] = ray.get(borrowed_ref.remote(release), timeout=30)
    waiting = a.add.remote(inner, 1)
    # Answered while `waiting` still waits for its argument.
    assert ray.get([a.plain.remote(i) for i in range(20)], timeout=30) == list(range(20))
    ready, _ = ray.wait([waiting], timeout=0)
    assert ready == [], "the call with an unready argument finished before its argument existed"
    open(release, "w").close()
    assert ray.get(waiting, timeout=30) == 8


def test_cancel_reaches_a_running_direct_call(ray_start):
    a = Echo.remote()
    assert ray.get(a.plain.remote(0), timeout=30) == 0
    ref = a.nap.remote(60)
    time.sleep(0.3)
    ray.cancel(ref)
    with pytest.raises((exceptions.TaskCancelledError, exceptions.RayTaskError)):
        ray.get(ref, timeout=30)
    assert ray.get(a.plain.remote(1), timeout=30) == 1


def test_exit_actor_answers_the_calls_behind_it(ray_start):
    a = Echo.remote()
    assert ray.get(a.plain.remote(0), timeout=30) == 0
    naps = [a.nap.remote(0.5) for _ in range(3)]
    gone = a.leave.remote()
    later = [a.plain.remote(i) for i in range(50)]
    with pytest.raises(exceptions.RayActorError):
        ray.get(gone, timeout=30)
    for ref in naps + later:   # every call gets an answer: a value or ActorDiedError, never a hang
        try:
            ray.get(ref, timeout=30)
        except exceptions.RayActorError:
            pass


@ray.remote(max_concurrency=3)
class Pool:
    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def hold(self, s):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(s)
        with self.lock:
            self.now -= 1
        return threading.current_thread().name

    def add(self, x, y):
        return x + y

    def most_at_once(self):
        return self.most

    def leave(self):
        ray.actor.exit_actor()


def test_threaded_actor_runs_up_to_max_concurrency_on_its_pool(ray_start):
    p = Pool.remote()
    threads = ray.get([p.hold.remote(0.3) for _ in range(9)], timeout=60)
    assert ray.get(p.most_at_once.remote(), timeout=30) == 3
    assert "MainThread" not in threads and len(set(threads)) == 3


def test_threaded_actor_call_waiting_for_its_argument_does_not_hold_up_others(ray_start, tmp_path):
    p = Pool.remote()
    release = str(tmp_path / "release")
    [inner] = ray.get(borrowed_ref.remote(release), timeout=30)
    waiting = p.add.remote(inner, 1)
    assert ray.get([p.add.remote(i, 1) for i in range(10)], timeout=30) == [i + 1 for i in range(10)]
    ready, _ = ray.wait([waiting], timeout=0)
    assert ready == []
    open(release, "w").close()
    assert ray.get(waiting, timeout=30) == 8


def test_threaded_actor_exit_answers_the_calls_behind_it(ray_start):
    p = Pool.remote()
    holds = [p.hold.remote(0.3) for _ in range(3)]
    gone = p.leave.remote()
    later = [p.add.remote(i, 1) for i in range(30)]
    with pytest.raises(exceptions.RayActorError):
        ray.get(gone, timeout=30)
    for ref in holds + later:
        try:
            ray.get(ref, timeout=30)
        except exceptions.RayActorError:
            pass


def test_named_groups_keep_the_main_thread_handing_out_calls(ray_start):
    @ray.remote(concurrency_groups={"io": 1})
    class Grouped:
        async def block_default(self, s):
            time.sleep(s)   # blocks the default group's loop on purpose
            return "default"

        @ray.method(concurrency_group="io")
        async def io(self):
            return "io"

    g = Grouped.remote()
    assert ray.get(g.io.remote(), timeout=30) == "io"
    blocked = g.block_default.remote(4)
    time.sleep(0.2)
    t0 = time.monotonic()
    assert ray.get(g.io.remote(), timeout=30) == "io"
    assert time.monotonic() - t0 < 2.5, "a call of group io waited for the blocked default loop"
    assert ray.get(blocked, timeout=30) == "default"
