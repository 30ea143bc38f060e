"""retry_exceptions on streaming generator tasks (as in Ray): an application
exception the task asked to retry runs it again; items the caller already has
are not repeated (indexes are deterministic) and iteration goes on with the
retry's; out of retries the last attempt's error is the next item. Sync and
async generators, with and without backpressure, read while it runs."""
import pytest

import lumos as ray
from lumos import exceptions

from streaming_retry_util import next_run, raises_in_first_runs, runs

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module", autouse=True)
def cluster(ray_start):
    yield ray_start


def test_reruns_and_skips_items_already_received(tmp_path):
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(retry_exceptions=True, max_retries=1).remote(marker, 1, 3, 5)
    got = [ray.get(r, timeout=30) for r in g]
    # Items 0-2 come from the first run, 3-4 from the retry; none twice, no error item.
    assert got == [(0, 0), (1, 0), (2, 0), (3, 1), (4, 1)]
    assert runs(marker) == 2
    assert ray.get(g.completed(), timeout=30) is None


def test_while_the_caller_consumes(tmp_path):
    """Items taken before the failure stay taken; the retry's copies are dropped."""
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(retry_exceptions=True, max_retries=2).remote(marker, 2, 2, 4)
    assert ray.get(next(g), timeout=30) == (0, 0)
    assert ray.get(next(g), timeout=30) == (1, 0)
    rest = [ray.get(r, timeout=30) for r in g]
    assert rest == [(2, 2), (3, 2)]
    assert runs(marker) == 3


def test_exhausted_ends_with_the_last_error(tmp_path):
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(retry_exceptions=True, max_retries=2).remote(marker, 99, 2, 5)
    assert ray.get(next(g), timeout=30) == (0, 0)
    assert ray.get(next(g), timeout=30) == (1, 0)
    err = next(g)
    with pytest.raises(ValueError, match="run 2 fails at 2"):   # the last attempt's error
        ray.get(err, timeout=30)
    with pytest.raises(StopIteration):
        next(g)
    with pytest.raises(exceptions.RayTaskError):
        ray.get(g.completed(), timeout=30)
    assert runs(marker) == 3   # first run + 2 retries


def test_allowlist(tmp_path):
    # Not in the allowlist: no retry, the error is the item after those yielded.
    marker = str(tmp_path / "no")
    g = raises_in_first_runs.options(retry_exceptions=[KeyError], max_retries=3).remote(marker, 1, 1, 3)
    assert ray.get(next(g), timeout=30) == (0, 0)
    with pytest.raises(ValueError):
        ray.get(next(g), timeout=30)
    with pytest.raises(StopIteration):
        next(g)
    assert runs(marker) == 1
    # In the allowlist: retried.
    marker = str(tmp_path / "yes")
    g = raises_in_first_runs.options(retry_exceptions=[KeyError], max_retries=3).remote(marker, 1, 1, 3, "KeyError")
    assert [ray.get(r, timeout=30) for r in g] == [(0, 0), (1, 1), (2, 1)]
    assert runs(marker) == 2


@ray.remote(retry_exceptions=True, max_retries=1)
async def agen(path):
    run = next_run(path)
    for i in range(4):
        if i == 2 and run == 0:
            raise RuntimeError("async failure")
        yield (i, run)


def test_async_generator(tmp_path):
    marker = str(tmp_path / "runs")
    assert [ray.get(r, timeout=30) for r in agen.remote(marker)] == [(0, 0), (1, 0), (2, 1), (3, 1)]


def test_with_backpressure(tmp_path):
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(retry_exceptions=True, max_retries=1,
                                     _generator_backpressure_num_objects=1).remote(marker, 1, 3, 6)
    got = [ray.get(r, timeout=30) for r in g]
    assert [i for i, _ in got] == list(range(6))
    assert [run for _, run in got] == [0, 0, 0, 1, 1, 1]


def test_many_at_once(tmp_path):
    """Several retried streams interleaved on the 2 CPUs, read while they run."""
    gens = [agen.remote(str(tmp_path / ("a%d" % k))) for k in range(4)]
    gens += [raises_in_first_runs.options(retry_exceptions=True, max_retries=1).remote(
        str(tmp_path / ("s%d" % k)), 1, 2, 4) for k in range(4)]
    for g in gens:
        assert [ray.get(r, timeout=30)[0] for r in g] == [0, 1, 2, 3]


@ray.remote
def big_items(path, fail_at, n, size):
    import numpy as np
    run = next_run(path)
    for i in range(n):
        if i == fail_at and run == 0:
            raise ValueError("first run fails at %d" % i)
        yield np.full(size, i + 10 * run, dtype=np.uint8)   # > the inline limit: in the store


def test_store_items_consumed_freed_and_dropped_across_a_retry(tmp_path):
    """Items in the object store, each freed as soon as it is read, one stream
    dropped half-way: a retry must neither lose an unread item nor keep a freed one."""
    size = 200 * 1024
    g = big_items.options(retry_exceptions=True, max_retries=1).remote(str(tmp_path / "a"), 3, 6, size)
    firsts = []
    for r in g:
        firsts.append(int(ray.get(r, timeout=30)[0]))
        del r
    assert firsts == [0, 1, 2, 13, 14, 15]
    g = big_items.options(retry_exceptions=True, max_retries=1, _generator_backpressure_num_objects=1).remote(
        str(tmp_path / "b"), 2, 5, size)
    assert int(ray.get(next(g), timeout=30)[0]) == 0
    del g   # dropped while it runs (and retries): its items are freed
    g = big_items.options(retry_exceptions=True, max_retries=1).remote(str(tmp_path / "c"), 1, 3, size)
    assert ray.get(g.completed(), timeout=30) is None   # all reported before the first is read
    assert [int(ray.get(r, timeout=30)[0]) for r in g] == [0, 11, 12]


def test_items_the_retry_writes_again_are_not_leaked(tmp_path):
    """Items read and freed before the failure are written to the store again
    by the retry; the owner frees those copies (it used to keep them forever)."""
    from lumos._private import internal_api

    from conftest import wait_until

    def in_store():
        return internal_api.memory_table()[1].get("num_objects", 0)
    before = in_store()
    for k in range(3):
        g = big_items.options(retry_exceptions=True, max_retries=1).remote(str(tmp_path / ("l%d" % k)), 3, 5,
                                                                            512 * 1024)
        for r in g:
            ray.get(r, timeout=30)
            del r
        del g
    assert wait_until(lambda: in_store() <= before, timeout=20), (before, in_store())
