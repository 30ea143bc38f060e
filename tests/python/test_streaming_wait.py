"""lumos.wait() over streaming generators (ObjectRefGenerator), alone and mixed
with ObjectRefs: a generator is ready when its next() would not block (its
next item arrived, or the task ended or failed)."""
import os
import signal
import time

import pytest

import lumos as ray
from lumos import exceptions

pytestmark = pytest.mark.timeout(90)


@ray.remote
def count(n):
    for i in range(n):
        yield i


@ray.remote
def gated(path, n_before=0):
    """Yields n_before items, then waits for `path` to exist, then yields "late"."""
    for i in range(n_before):
        yield i
    while not os.path.exists(path):
        time.sleep(0.01)
    yield "late"


@ray.remote
def slow_value(path):
    while not os.path.exists(path):
        time.sleep(0.01)
    return "slow"


def _touch(path):
    open(path, "w").close()


def test_generator_becomes_ready_when_its_next_item_arrives(ray_start, tmp_path):
    go = str(tmp_path / "go")
    g = gated.remote(go)
    start = time.monotonic()
    ready, not_ready = ray.wait([g], timeout=0.3)
    assert (ready, not_ready) == ([], [g])
    assert time.monotonic() - start >= 0.25
    assert not g.next_ready()
    _touch(go)
    ready, not_ready = ray.wait([g], timeout=20)
    assert ready == [g] and ready[0] is g and not_ready == []
    assert g.next_ready()
    # Ready means next() answers at once.
    assert ray.get(g._next_sync(timeout_s=0)) == "late"


def test_ready_follows_the_next_item_not_earlier_ones(ray_start, tmp_path):
    go = str(tmp_path / "go")
    g = gated.remote(go, n_before=2)
    assert ray.wait([g], timeout=20) == ([g], [])
    assert ray.get(next(g)) == 0
    assert ray.wait([g], timeout=20) == ([g], [])
    assert ray.get(next(g)) == 1
    # Items 0 and 1 are taken; item 2 waits for the file.
    assert ray.wait([g], timeout=0.3) == ([], [g])
    _touch(go)
    assert ray.wait([g], timeout=20) == ([g], [])
    assert ray.get(next(g)) == "late"


def test_mixed_refs_and_generators_keep_their_order(ray_start, tmp_path):
    go_gen, go_ref = str(tmp_path / "gen"), str(tmp_path / "ref")
    fast = ray.put("fast")
    g_blocked = gated.remote(go_gen)
    g_ready = count.remote(1)
    slow = slow_value.remote(go_ref)
    items = [slow, g_blocked, fast, g_ready]
    ready, not_ready = ray.wait(items, num_returns=2, timeout=20)
    assert ready == [fast, g_ready]
    assert not_ready == [slow, g_blocked]
    assert ready[1] is g_ready and not_ready[1] is g_blocked
    # Not enough ready before the timeout: every ready one is still reported.
    ready, not_ready = ray.wait(items, num_returns=3, timeout=0.3)
    assert ready == [fast, g_ready] and not_ready == [slow, g_blocked]
    _touch(go_gen)
    ready, not_ready = ray.wait(items, num_returns=3, timeout=20)
    assert ready == [g_blocked, fast, g_ready] and not_ready == [slow]
    _touch(go_ref)
    ready, not_ready = ray.wait(items, num_returns=4, timeout=20)
    assert ready == items and not_ready == []
    # num_returns caps the ready list even when more are ready.
    ready, not_ready = ray.wait(items, num_returns=1, timeout=20)
    assert ready == [slow] and not_ready == [g_blocked, fast, g_ready]


def test_finished_and_empty_generators_are_ready(ray_start):
    g = count.remote(2)
    assert [ray.get(r) for r in g] == [0, 1]
    assert ray.wait([g], timeout=5) == ([g], [])   # next() raises StopIteration at once
    with pytest.raises(StopIteration):
        next(g)
    assert ray.wait([g], timeout=5) == ([g], [])
    empty = count.remote(0)
    assert ray.wait([empty], timeout=20) == ([empty], [])
    assert list(empty) == []


def test_failed_generator_is_ready_with_its_error(ray_start):
    @ray.remote
    def fails_after_one():
        yield 1
        raise KeyError("mid-stream")

    g = fails_after_one.remote()
    assert ray.wait([g], timeout=20) == ([g], [])
    assert ray.get(next(g)) == 1
    assert ray.wait([g], timeout=20) == ([g], [])
    with pytest.raises(KeyError):
        ray.get(next(g))
    assert ray.wait([g], timeout=5) == ([g], [])
    with pytest.raises(StopIteration):
        next(g)


@ray.remote(max_retries=0)
def pid_then_block():
    yield os.getpid()
    time.sleep(1000)
    yield "never"


def test_generator_whose_worker_died_is_ready(ray_start):
    g = pid_then_block.remote()
    pid = ray.get(next(g), timeout=20)
    assert ray.wait([g], timeout=0.2) == ([], [g])
    os.kill(pid, signal.SIGKILL)
    assert ray.wait([g], timeout=30) == ([g], [])
    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(next(g))


def test_wait_loop_over_many_generators(ray_start):
    """The usual pattern: wait on the generators, take one item from each ready one."""
    gens = [count.remote(n) for n in (3, 0, 5, 1)]
    got = {i: [] for i in range(len(gens))}
    index = {id(g): i for i, g in enumerate(gens)}
    pending = list(gens)
    deadline = time.monotonic() + 30
    while pending and time.monotonic() < deadline:
        ready, pending = ray.wait(pending, num_returns=1, timeout=10)
        for g in ready:
            try:
                got[index[id(g)]].append(ray.get(next(g)))
                pending.append(g)
            except StopIteration:
                pass
    assert got == {0: [0, 1, 2], 1: [], 2: [0, 1, 2, 3, 4], 3: [0]}


def test_generator_next_to_its_own_completed_ref(ray_start, tmp_path):
    go = str(tmp_path / "go")
    g = gated.remote(go, n_before=1)
    done = g.completed()
    ready, not_ready = ray.wait([g, done], num_returns=2, timeout=0.3)
    assert ready == [g] and not_ready == [done]   # item 0 is there, the task still runs
    _touch(go)
    assert ray.wait([done, g], num_returns=2, timeout=20) == ([done, g], [])


def test_timeout_zero_polls(ray_start, tmp_path):
    g = gated.remote(str(tmp_path / "never"))
    start = time.monotonic()
    assert ray.wait([g], timeout=0) == ([], [g])
    assert time.monotonic() - start < 1.0
    ray.cancel(g)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(next(g), timeout=30)


def test_fetch_local_either_way(ray_start):
    g = count.remote(1)
    r = ray.put(1)
    assert ray.wait([g, r], num_returns=2, fetch_local=False, timeout=20) == ([g, r], [])
    assert ray.wait([g, r], num_returns=2, fetch_local=True, timeout=20) == ([g, r], [])
    with pytest.raises(TypeError, match="fetch_local"):
        ray.wait([r], fetch_local="yes")


def test_bad_input_names_the_value(ray_start):
    g = count.remote(1)
    r = ray.put(1)
    with pytest.raises(TypeError, match="ObjectRefGenerator"):
        ray.wait(g)   # not a list
    with pytest.raises(TypeError, match="int: 5"):
        ray.wait([r, 5])
    with pytest.raises(TypeError, match="str: 'x'"):
        ray.wait([g, "x"])

    @ray.remote(num_returns="dynamic")
    def dyn():
        yield 1
    dgen = ray.get(dyn.remote())
    with pytest.raises(TypeError, match="DynamicObjectRefGenerator"):
        ray.wait([dgen])
    with pytest.raises(ValueError, match="duplicates"):
        ray.wait([g, g])
    with pytest.raises(ValueError, match="duplicates"):
        ray.wait([r, g, r])
    with pytest.raises(ValueError, match="Invalid number"):
        ray.wait([g], num_returns=2)
    assert list(g)


def test_wait_on_a_generator_inside_a_task(ray_start):
    @ray.remote
    def consume(n):
        g = count.remote(n)
        out = []
        while True:
            ready, _ = ray.wait([g], timeout=20)
            assert ready == [g]
            try:
                out.append(ray.get(next(g)))
            except StopIteration:
                return out

    assert ray.get(consume.remote(4), timeout=60) == [0, 1, 2, 3]


def test_wait_on_an_actor_method_generator(ray_start, tmp_path):
    @ray.remote
    class Source:
        def items(self, path):
            yield "first"
            while not os.path.exists(path):
                time.sleep(0.01)
            yield "second"

    go = str(tmp_path / "go")
    g = Source.remote().items.remote(go)
    assert ray.wait([g], timeout=20) == ([g], [])
    assert ray.get(next(g)) == "first"
    assert ray.wait([g], timeout=0.3) == ([], [g])
    _touch(go)
    assert ray.wait([g], timeout=20) == ([g], [])
    assert ray.get(next(g)) == "second"
    assert ray.wait([g], timeout=20) == ([g], [])
    with pytest.raises(StopIteration):
        next(g)
