"""Streaming generators (num_returns="streaming"): tasks and actor methods,
sync and async, exceptions mid-stream, backpressure, worker death, retries,
dropping the generator."""
import gc
import asyncio
import os
import pickle
import signal
import time

import pytest

import lumos as ray
from lumos import exceptions
from lumos._private import worker as _worker

from conftest import wait_until as _wait_for

pytestmark = pytest.mark.timeout(90)


@ray.remote
def count(n):
    for i in range(n):
        yield i


def test_generator_function_streams_by_default(ray_start):
    g = count.remote(5)
    assert isinstance(g, ray.ObjectRefGenerator)
    assert [ray.get(r) for r in g] == [0, 1, 2, 3, 4]
    assert g.is_finished()
    with pytest.raises(StopIteration):
        next(g)
    assert ray.get(g.completed()) is None


def test_explicit_streaming_and_next(ray_start):
    g = count.options(num_returns="streaming").remote(2)
    assert ray.get(next(g)) == 0
    assert ray.get(next(g)) == 1
    with pytest.raises(StopIteration):
        next(g)


def test_empty_generator(ray_start):
    assert list(count.remote(0)) == []


def test_items_arrive_while_the_task_runs(ray_start, tmp_path):
    go = str(tmp_path / "go")

    @ray.remote
    def wait_between(path):
        yield "first"
        while not os.path.exists(path):
            time.sleep(0.01)
        yield "second"

    g = wait_between.remote(go)
    assert ray.get(next(g), timeout=20) == "first"   # the task is still blocked
    assert not g.is_finished()
    open(go, "w").close()
    assert ray.get(next(g), timeout=20) == "second"
    assert list(g) == []


def test_large_items_go_through_the_store(ray_start):
    np = pytest.importorskip("numpy")

    @ray.remote
    def big(n):
        for i in range(n):
            yield np.full(300_000, i, dtype=np.uint8)

    vals = [ray.get(r) for r in big.remote(3)]
    assert [int(v[0]) for v in vals] == [0, 1, 2] and all(v.nbytes == 300_000 for v in vals)


def test_exception_mid_stream(ray_start):
    @ray.remote
    def fails_after(n):
        for i in range(n):
            yield i
        raise ValueError("boom at %d" % n)

    g = fails_after.remote(2)
    assert ray.get(next(g)) == 0
    assert ray.get(next(g)) == 1
    err_ref = next(g)
    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(err_ref)
    assert "boom at 2" in str(info.value)
    with pytest.raises(StopIteration):
        next(g)
    with pytest.raises(exceptions.RayTaskError):
        ray.get(g.completed())


def test_failed_argument_ends_the_stream_with_its_error(ray_start):
    @ray.remote(max_retries=0)
    def boom():
        raise ValueError("bad input")

    @ray.remote
    class A:
        def items(self, x):
            yield x

    for g in (count.remote(boom.remote()), A.remote().items.remote(boom.remote())):
        first = next(g)
        with pytest.raises(ValueError, match="bad input"):
            ray.get(first)
        with pytest.raises(StopIteration):
            next(g)


def test_streaming_needs_a_generator(ray_start):
    @ray.remote(num_returns="streaming")
    def not_a_generator():
        return 1

    refs = list(not_a_generator.remote())
    assert len(refs) == 1
    with pytest.raises(exceptions.RayTaskError, match="not a generator"):
        ray.get(refs[0])


def test_unpicklable_yield_is_a_task_error(ray_start):
    import threading

    @ray.remote
    def yields_lock():
        yield 1
        yield threading.Lock()

    refs = list(yields_lock.remote())
    assert ray.get(refs[0]) == 1
    with pytest.raises(exceptions.RayTaskError):
        ray.get(refs[1])


def test_async_generator_task(ray_start):
    @ray.remote
    async def agen(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i * 2

    assert [ray.get(r) for r in agen.remote(3)] == [0, 2, 4]


def test_async_for_in_the_driver(ray_start):
    async def consume():
        out = []
        async for ref in count.remote(4):
            out.append(await ref)
        return out
    assert asyncio.run(consume()) == [0, 1, 2, 3]


def test_actor_method_streaming(ray_start):
    @ray.remote
    class Source:
        def __init__(self):
            self.base = 100

        def items(self, n):
            for i in range(n):
                yield self.base + i

        @ray.method(num_returns="streaming")
        def explicit(self):
            yield "a"
            raise KeyError("k")

        def plain(self):
            return "plain"

    s = Source.remote()
    assert [ray.get(r) for r in s.items.remote(3)] == [100, 101, 102]
    refs = list(s.explicit.remote())
    assert ray.get(refs[0]) == "a"
    with pytest.raises(exceptions.RayTaskError, match="KeyError"):
        ray.get(refs[1])
    assert ray.get(s.plain.remote()) == "plain"   # ordinary calls still work
    assert [ray.get(r) for r in s.items.options(num_returns="streaming").remote(1)] == [100]


def test_threaded_and_async_actor_streaming(ray_start):
    @ray.remote(max_concurrency=2)
    class Threaded:
        def items(self, n):
            yield from range(n)

    @ray.remote
    class Async:
        async def items(self, n):
            for i in range(n):
                await asyncio.sleep(0)
                yield -i

        async def ping(self):
            return "pong"

    t = Threaded.remote()
    assert [ray.get(r) for r in t.items.remote(3)] == [0, 1, 2]
    a = Async.remote()
    assert [ray.get(r) for r in a.items.remote(3)] == [0, -1, -2]
    g = a.items.options(_generator_backpressure_num_objects=1).remote(4)
    assert ray.get(next(g)) == 0
    assert ray.get(a.ping.remote(), timeout=20) == "pong"   # backpressure does not block the loop
    assert [ray.get(r) for r in g] == [-1, -2, -3]


def _lines(path):
    return len(open(path).read().split()) if os.path.exists(path) else 0


@ray.remote
def logged(path, n):
    for i in range(n):
        with open(path, "a") as f:
            f.write("%d\n" % i)
        yield i


def test_backpressure_bounds_the_executor(ray_start, tmp_path):
    path = str(tmp_path / "produced")
    g = logged.options(_generator_backpressure_num_objects=2).remote(path, 50)
    assert ray.get(next(g)) == 0
    assert _wait_for(lambda: _lines(path) >= 3)
    time.sleep(0.5)
    # 1 consumed + 2 produced but not consumed: the executor waits.
    assert _lines(path) == 3
    assert ray.get(next(g)) == 1
    assert _wait_for(lambda: _lines(path) == 4)
    time.sleep(0.3)
    assert _lines(path) == 4
    assert [ray.get(r) for r in g] == list(range(2, 50))


def test_without_backpressure_the_executor_runs_ahead(ray_start, tmp_path):
    path = str(tmp_path / "produced")
    g = logged.remote(path, 50)
    assert ray.get(next(g)) == 0
    assert _wait_for(lambda: _lines(path) == 50)
    assert len(list(g)) == 49


def test_backpressure_bad_values(ray_start):
    for bad in ("2", 1.5, True, -3):
        with pytest.raises(ValueError, match="_generator_backpressure_num_objects"):
            count.options(_generator_backpressure_num_objects=bad)
    with pytest.raises(ValueError, match="num_returns"):
        count.options(num_returns="stream")


def test_generator_cannot_be_pickled(ray_start):
    g = count.remote(1)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(g)
    with pytest.raises(ValueError, match="ObjectRefGenerator"):
        ray.get(g)
    assert list(g)


def _task_objects(cw, task_id):
    """Ids of the objects of `task_id` this process still tracks."""
    return {r["object_id"] for r in cw.reference_table() if r["object_id"][:16] == task_id.binary()}


def _task_objects_in_store(cw, task_id):
    stats = cw.store_stats(include_objects=True)
    ids = {o["object_id"] for o in stats.get("objects", [])}
    return {i for i in ids if (i if isinstance(i, bytes) else bytes.fromhex(i))[:16] == task_id.binary()}


def test_dropping_the_generator_frees_items(ray_start):
    cw = _worker.core_worker()
    np = pytest.importorskip("numpy")

    @ray.remote
    def big(n):
        for i in range(n):
            yield np.zeros(200_000, dtype=np.uint8) + i

    g = big.remote(6)
    task = g.task_id()
    first = next(g)
    assert int(ray.get(first)[0]) == 0
    ray.get(g.completed(), timeout=30)   # every item reported, none consumed but the first
    assert len(_task_objects(cw, task)) == 7, cw.reference_table()   # return 1 + 6 items
    assert len(_task_objects_in_store(cw, task)) == 6, cw.store_stats(include_objects=True)
    del g
    # only the item still referenced
    assert _wait_for(lambda: len(_task_objects(cw, task)) == 1), cw.reference_table()
    del first
    assert _wait_for(lambda: not _task_objects(cw, task)), cw.reference_table()
    assert _wait_for(lambda: not _task_objects_in_store(cw, task)), cw.store_stats(include_objects=True)
    # Streams of this process: a generator of an earlier test may still wait
    # for the garbage collector (a traceback cycle), so collect first.
    assert _wait_for(lambda: (gc.collect(), cw.num_streams())[1] == 0), cw.num_streams()


def test_dropping_a_backpressured_generator_unblocks_the_task(ray_start, tmp_path):
    path = str(tmp_path / "produced")
    cw = _worker.core_worker()
    g = logged.options(_generator_backpressure_num_objects=1).remote(path, 20)
    task = g.task_id()
    done = g.completed()
    assert ray.get(next(g)) == 0
    del g
    ray.get(done, timeout=30)   # the task ran to its end
    assert _lines(path) == 20
    del done
    assert _wait_for(lambda: not _task_objects(cw, task))
    assert cw.num_streams() == 0


@ray.remote(max_retries=0)
def pid_then_wait():
    yield os.getpid()
    yield "second"
    time.sleep(1000)
    yield "never"


def test_worker_killed_mid_stream(ray_start):
    g = pid_then_wait.remote()
    pid = ray.get(next(g), timeout=20)
    assert ray.get(next(g), timeout=20) == "second"
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(next(g), timeout=30)
    with pytest.raises(StopIteration):
        next(g)
    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(g.completed())


def test_retry_mid_stream_skips_reported_items(ray_start, tmp_path):
    marker = str(tmp_path / "runs")

    @ray.remote(max_retries=1)
    def crashes_once(path):
        n = int(open(path).read()) if os.path.exists(path) else 0
        with open(path, "w") as f:
            f.write(str(n + 1))
        for i in range(5):
            if i == 3 and n == 0:
                os._exit(1)
            yield (i, n)

    got = [ray.get(r, timeout=30) for r in crashes_once.remote(marker)]
    # Items 0-2 come from the first attempt, 3-4 from the retry; none twice.
    assert [i for i, _ in got] == [0, 1, 2, 3, 4]
    assert [a for _, a in got] == [0, 0, 0, 1, 1]


def test_cancel_a_streaming_task(ray_start):
    g = pid_then_wait.remote()
    ray.get(next(g), timeout=20)
    ray.get(next(g), timeout=20)
    ray.cancel(g)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(next(g), timeout=30)
    with pytest.raises(StopIteration):
        next(g)


def test_next_with_timeout(ray_start, tmp_path):
    go = str(tmp_path / "go")

    @ray.remote
    def slow(path):
        while not os.path.exists(path):
            time.sleep(0.01)
        yield 1

    g = slow.remote(go)
    with pytest.raises(exceptions.GetTimeoutError):
        g._next_sync(timeout_s=0.2)
    open(go, "w").close()
    assert ray.get(g._next_sync(timeout_s=20)) == 1


def test_nested_streaming_in_a_task(ray_start):
    @ray.remote
    def outer(n):
        return sum(ray.get(r) for r in count.remote(n))

    assert ray.get(outer.remote(5), timeout=30) == 10


def test_retry_mid_stream_with_large_items(ray_start, tmp_path):
    """The retry finds the first attempt's large items already in the store
    (owned by the caller) and does not write them again."""
    np = pytest.importorskip("numpy")
    marker = str(tmp_path / "runs")

    @ray.remote(max_retries=1)
    def big_crashes_once(path):
        n = int(open(path).read()) if os.path.exists(path) else 0
        with open(path, "w") as f:
            f.write(str(n + 1))
        for i in range(4):
            if i == 2 and n == 0:
                os._exit(1)
            yield np.full(250_000, i + 10 * n, dtype=np.uint8)

    vals = [ray.get(r, timeout=30) for r in big_crashes_once.remote(marker)]
    assert [int(v[0]) for v in vals] == [0, 1, 12, 13]


def test_backpressured_stream_survives_a_worker_kill(ray_start, tmp_path):
    path = str(tmp_path / "pids")

    @ray.remote(max_retries=1, _generator_backpressure_num_objects=1)
    def pid_stream(path):
        with open(path, "a") as f:
            f.write("%d\n" % os.getpid())
        for i in range(6):
            yield (i, os.getpid())

    g = pid_stream.remote(path)
    i0, pid = ray.get(next(g), timeout=20)
    i1, _ = ray.get(next(g), timeout=20)
    os.kill(pid, signal.SIGKILL)
    rest = [ray.get(r, timeout=30) for r in g]
    assert [i0, i1] + [i for i, _ in rest] == list(range(6))
    assert rest[-1][1] != pid   # finished by the retry


def test_items_holding_refs(ray_start):
    """Refs inside yielded values (owned by the executor) stay readable: the
    caller is registered as their borrower before it sees the item."""
    np = pytest.importorskip("numpy")

    @ray.remote
    def refs_inside(n):
        for i in range(n):
            yield [ray.put(i), ray.put(np.full(200_000, i, dtype=np.uint8))]

    @ray.remote
    def big_item_with_ref():
        yield (ray.put("inner"), np.zeros(300_000, dtype=np.uint8))

    items = [ray.get(r) for r in refs_inside.remote(3)]
    time.sleep(0.2)
    assert [ray.get(small) for small, _ in items] == [0, 1, 2]
    assert [int(ray.get(big)[0]) for _, big in items] == [0, 1, 2]
    inner, arr = ray.get(next(big_item_with_ref.remote()))
    assert ray.get(inner) == "inner" and arr.nbytes == 300_000
