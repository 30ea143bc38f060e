"""retry_exceptions on actor methods (as in Ray): an application exception
of a method marked @lumos.method(retry_exceptions=True | [ExcType]) (or a
call's .options(retry_exceptions=...)) runs the call again, within the
method's, call's or else the actor's max_task_retries; a retry runs after the
calls already sent; streaming methods refuse the option clearly."""
import pytest

import lumos as ray

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module", autouse=True)
def cluster(ray_start):
    yield ray_start


@ray.remote(max_task_retries=2)
class Flaky:
    def __init__(self):
        self.counts = {}
        self.log = []

    def _bump(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    @ray.method(retry_exceptions=True)
    def fails(self, key, times):
        n = self._bump(key)
        if n <= times:
            raise ValueError("attempt %d" % n)
        return n

    @ray.method(retry_exceptions=[KeyError])
    def only_key_errors(self, key, exc):
        n = self._bump(key)
        if n == 1:
            raise exc("first")
        return n

    def plain(self, key):
        n = self._bump(key)
        raise ValueError("attempt %d" % n)

    @ray.method(retry_exceptions=True, max_task_retries=5)
    def many(self, key, times):
        n = self._bump(key)
        if n <= times:
            raise ValueError("attempt %d" % n)
        return n

    @ray.method(retry_exceptions=True)
    def ordered(self, i):
        self.log.append(i)
        if i == 0 and self._bump("ordered") == 1:
            raise ValueError("first try of call 0")
        return i

    def count(self, key):
        return self.counts.get(key, 0)

    def get_log(self):
        return list(self.log)

    @ray.method(retry_exceptions=True)
    def gen(self, key, fail_at, n):
        run = self._bump(key) - 1
        for i in range(n):
            if i == fail_at and run == 0:
                raise ValueError("first run fails at %d" % i)
            yield (i, run)


def test_retried_until_it_succeeds_within_max_task_retries():
    a = Flaky.remote()
    assert ray.get(a.fails.remote("a", 2), timeout=30) == 3


def test_out_of_retries_raises_the_last_error():
    a = Flaky.remote()
    with pytest.raises(ValueError, match="attempt 3"):
        ray.get(a.fails.remote("b", 3), timeout=30)
    assert ray.get(a.count.remote("b"), timeout=30) == 3


def test_allowlist_decides_what_is_retried():
    a = Flaky.remote()
    assert ray.get(a.only_key_errors.remote("k", KeyError), timeout=30) == 2
    with pytest.raises(ValueError, match="first"):
        ray.get(a.only_key_errors.remote("v", ValueError), timeout=30)
    assert ray.get(a.count.remote("v"), timeout=30) == 1


def test_not_retried_without_the_option_and_call_options_override():
    a = Flaky.remote()
    with pytest.raises(ValueError, match="attempt 1"):
        ray.get(a.plain.remote("p"), timeout=30)
    with pytest.raises(ValueError, match="attempt 3"):
        ray.get(a.plain.options(retry_exceptions=True).remote("q"), timeout=30)
    with pytest.raises(ValueError, match="attempt 1"):
        ray.get(a.fails.options(retry_exceptions=False).remote("r", 5), timeout=30)
    with pytest.raises(ValueError, match="attempt 1"):
        ray.get(a.fails.options(max_task_retries=0).remote("s", 5), timeout=30)


def test_method_max_task_retries_beats_the_actors():
    a = Flaky.remote()
    assert ray.get(a.many.remote("m", 4), timeout=30) == 5
    assert ray.get(a.fails.options(max_task_retries=-1).remote("u", 7), timeout=30) == 8


def test_no_retries_when_the_actor_has_none():
    @ray.remote
    class NoRetries:
        def __init__(self):
            self.n = 0

        @ray.method(retry_exceptions=True)
        def f(self):
            self.n += 1
            raise ValueError(str(self.n))

    b = NoRetries.remote()
    with pytest.raises(ValueError, match="1"):
        ray.get(b.f.remote(), timeout=30)
    with pytest.raises(ValueError, match="3"):
        ray.get(b.f.options(max_task_retries=1).remote(), timeout=30)


def test_a_retry_runs_after_the_calls_already_sent():
    a = Flaky.remote()
    assert ray.get([a.ordered.remote(i) for i in range(4)], timeout=30) == [0, 1, 2, 3]
    assert ray.get(a.get_log.remote(), timeout=30) == [0, 1, 2, 3, 0]


def test_async_and_threaded_actors_retry_too():
    @ray.remote(max_task_retries=2)
    class AsyncFlaky:
        def __init__(self):
            self.n = 0

        @ray.method(retry_exceptions=True)
        async def f(self):
            self.n += 1
            if self.n < 3:
                raise ValueError(str(self.n))
            return self.n

    assert ray.get(AsyncFlaky.remote().f.remote(), timeout=30) == 3
    t = Flaky.options(max_concurrency=4).remote()
    assert ray.get(t.fails.remote("t", 2), timeout=30) == 3


def test_streaming_methods_are_retried_without_repeating_items():
    a = Flaky.remote()
    assert [ray.get(r, timeout=30) for r in a.gen.remote("g", 2, 4)] == [(0, 0), (1, 0), (2, 1), (3, 1)]
    t = Flaky.options(max_concurrency=2).remote()
    assert [ray.get(r, timeout=30) for r in t.gen.remote("g", 1, 3)] == [(0, 0), (1, 1), (2, 1)]
    # Out of retries: the last attempt's error is the next item.
    b = Flaky.options(max_task_retries=0).remote()
    g = b.gen.remote("g", 1, 3)
    assert ray.get(next(g), timeout=30) == (0, 0)
    with pytest.raises(ValueError, match="first run fails at 1"):
        ray.get(next(g), timeout=30)
    with pytest.raises(StopIteration):
        next(g)


def test_async_streaming_method_is_retried():
    @ray.remote(max_task_retries=1)
    class AsyncGen:
        def __init__(self):
            self.runs = 0

        @ray.method(retry_exceptions=True)
        async def gen(self, n):
            run = self.runs
            self.runs += 1
            for i in range(n):
                if i == 2 and run == 0:
                    raise RuntimeError("async failure")
                yield (i, run)

    a = AsyncGen.remote()
    assert [ray.get(r, timeout=30) for r in a.gen.remote(4)] == [(0, 0), (1, 0), (2, 1), (3, 1)]
