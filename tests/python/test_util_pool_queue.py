"""lumos.util.ActorPool, lumos.util.queue.Queue, as_completed and
map_unordered, with Ray's semantics."""
import asyncio
import queue as stdlib_queue
import time

import pytest

import lumos as ray
from lumos.util import ActorPool, as_completed, map_unordered
from lumos.util.queue import Empty, Full, Queue


@pytest.fixture(scope="module")
def cluster(ray_start):
    yield ray_start


@ray.remote
class Doubler:
    def double(self, v):
        return 2 * v

    def slow(self, v):
        time.sleep(v)
        return v

    def fail(self, v):
        raise ValueError("bad %s" % v)


@ray.remote
def sleep_then(x):
    time.sleep(x)
    return x


# ---------------------------------------------------------------- ActorPool

def test_pool_map_keeps_order_and_map_unordered_gives_all(cluster):
    pool = ActorPool([Doubler.remote(), Doubler.remote()])
    assert list(pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4])) == [2, 4, 6, 8]
    assert sorted(pool.map_unordered(lambda a, v: a.double.remote(v), range(6))) == [0, 2, 4, 6, 8, 10]
    assert not pool.has_next()


def test_pool_submit_queues_while_busy_and_get_next(cluster):
    a, b = Doubler.remote(), Doubler.remote()
    pool = ActorPool([a, b])
    for v in (10, 20, 30):  # the third waits for an actor in the pool
        pool.submit(lambda actor, v: actor.double.remote(v), v)
    assert not pool.has_free()
    assert pool.pop_idle() is None
    assert [pool.get_next(), pool.get_next(), pool.get_next()] == [20, 40, 60]
    with pytest.raises(StopIteration):
        pool.get_next()
    assert pool.has_free()


def test_pool_get_next_unordered_returns_the_first_finished(cluster):
    pool = ActorPool([Doubler.remote(), Doubler.remote()])
    pool.submit(lambda a, v: a.slow.remote(v), 1.5)
    pool.submit(lambda a, v: a.slow.remote(v), 0.01)
    assert pool.get_next_unordered(timeout=10) == 0.01
    # An unordered read skipped ahead: ordered reads are refused, as in Ray.
    with pytest.raises(ValueError, match="get_next_unordered"):
        pool.get_next()
    assert pool.get_next_unordered(timeout=10) == 1.5


def test_pool_timeouts_and_ignore_if_timedout(cluster):
    pool = ActorPool([Doubler.remote()])
    pool.submit(lambda a, v: a.slow.remote(v), 1.0)
    with pytest.raises(TimeoutError, match="Timed out waiting for result$"):
        pool.get_next(timeout=0.05)
    assert pool.has_next()  # still pending: not dropped
    with pytest.raises(TimeoutError, match="has been ignored"):
        pool.get_next(timeout=0.05, ignore_if_timedout=True)
    assert not pool.has_next() and pool.has_free()
    pool.submit(lambda a, v: a.slow.remote(v), 1.0)
    with pytest.raises(TimeoutError, match="has been ignored"):
        pool.get_next_unordered(timeout=0.05, ignore_if_timedout=True)
    assert not pool.has_next()


def test_pool_push_pop_idle_and_errors(cluster):
    a, b = Doubler.remote(), Doubler.remote()
    pool = ActorPool([a])
    with pytest.raises(ValueError, match="already belongs"):
        pool.push(a)
    pool.push(b)
    idle = pool.pop_idle()
    assert idle in (a, b)
    pool.push(idle)
    pool.submit(lambda actor, v: actor.fail.remote(v), 7)
    with pytest.raises(ValueError, match="bad 7"):
        pool.get_next()
    assert pool.has_free()  # the actor came back after the error


# ---------------------------------------------------------------- Queue

def test_queue_put_get_block_timeout_and_errors(cluster):
    q = Queue(maxsize=2)
    assert q.empty() and not q.full() and q.qsize() == 0 and len(q) == 0
    q.put(1)
    q.put("two")
    assert q.full() and q.size() == 2
    with pytest.raises(Full):
        q.put(3, block=False)
    with pytest.raises(Full):
        q.put_nowait(3)
    start = time.monotonic()
    with pytest.raises(Full):
        q.put(3, timeout=0.2)
    assert time.monotonic() - start >= 0.15
    assert q.get() == 1 and q.get_nowait() == "two"
    with pytest.raises(Empty):
        q.get(block=False)
    with pytest.raises(stdlib_queue.Empty):  # also the stdlib's
        q.get(timeout=0.1)
    with pytest.raises(ValueError, match="non-negative"):
        q.get(timeout=-1)
    q.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        q.put(1)


def test_queue_batches(cluster):
    q = Queue(maxsize=3)
    q.put_nowait_batch([1, 2])
    with pytest.raises(Full):
        q.put_nowait_batch([3, 4])  # all or nothing
    assert q.qsize() == 2
    with pytest.raises(Empty):
        q.get_nowait_batch(3)
    assert q.get_nowait_batch(2) == [1, 2]
    assert q.empty()
    q.shutdown(force=True)


def test_queue_shared_by_tasks_blocking_get_waits_for_a_producer(cluster):
    q = Queue()

    @ray.remote
    def producer(queue, n):
        time.sleep(0.2)
        for i in range(n):
            queue.put(i)
        return n

    ref = producer.remote(q, 5)
    got = [q.get(timeout=30) for _ in range(5)]  # blocks until items arrive
    assert got == [0, 1, 2, 3, 4]
    assert ray.get(ref) == 5

    @ray.remote
    def consumer(queue):
        return [queue.get(timeout=10) for _ in range(3)]

    for i in range(3):
        q.put(i * 10)
    assert ray.get(consumer.remote(q), timeout=30) == [0, 10, 20]
    q.shutdown()


def test_queue_async_variants(cluster):
    q = Queue(maxsize=1)

    async def main():
        await q.put_async("a")
        with pytest.raises(Full):
            await q.put_async("b", timeout=0.1)
        with pytest.raises(Full):
            await q.put_async("b", block=False)
        assert await q.get_async() == "a"
        with pytest.raises(Empty):
            await q.get_async(timeout=0.1)
        with pytest.raises(Empty):
            await q.get_async(block=False)
    asyncio.run(main())
    q.shutdown()


def test_queue_actor_options(cluster):
    q = Queue(actor_options={"name": "util-test-queue", "num_cpus": 0})
    q.put(5)
    assert ray.get_actor("util-test-queue") == q.actor
    q.shutdown()


# ---------------------------------------------------------------- as_completed / map_unordered

def test_as_completed_yields_in_finish_order(cluster):
    refs = [sleep_then.remote(x) for x in (1.0, 0.05)]
    assert list(as_completed(refs, chunk_size=1)) == [0.05, 1.0]
    refs = [sleep_then.remote(0) for _ in range(5)]
    out = list(as_completed(refs, chunk_size=2, yield_obj_refs=True))
    assert sorted(r.hex() for r in out) == sorted(r.hex() for r in refs)
    with pytest.raises(ValueError, match="chunk_size"):
        list(as_completed(refs, chunk_size=0))


def test_as_completed_timeout_raises_instead_of_spinning(cluster):
    ref = sleep_then.remote(2)
    with pytest.raises(ray.exceptions.GetTimeoutError, match="timeout=0.1"):
        list(as_completed([ref], timeout=0.1))
    ray.cancel(ref)


def test_map_unordered_backpressure(cluster):
    assert sorted(map_unordered(sleep_then, [0.0] * 7, backpressure_size=2, chunk_size=1)) == [0.0] * 7
    assert sorted(map_unordered(sleep_then, [0.2, 0.0], chunk_size=1, backpressure_size=None)) == [0.0, 0.2]
    with pytest.raises(TypeError, match="remote function"):
        list(map_unordered(lambda x: x, [1]))
    with pytest.raises(ValueError, match="backpressure_size"):
        list(map_unordered(sleep_then, [1], backpressure_size=0))


def test_pool_calls_with_several_returns(cluster):
    @ray.remote
    class Pair:
        @ray.method(num_returns=2)
        def split(self, v):
            return v, -v

    pool = ActorPool([Pair.remote(), Pair.remote()])
    assert list(pool.map(lambda a, v: a.split.remote(v), [1, 2])) == [[1, -1], [2, -2]]
    assert sorted(pool.map_unordered(lambda a, v: a.split.remote(v), [3, 4])) == [[3, -3], [4, -4]]
