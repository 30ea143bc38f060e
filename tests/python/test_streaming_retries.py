"""Retries of streaming generator tasks: a worker death mid-stream
(max_retries) and an application exception mid-stream (retry_exceptions) run
the task again; items the caller already has are not repeated and iteration
goes on with the rest. Out of retries, the error ends the stream."""
import os
import signal
import time

import pytest

import lumos as ray
from lumos import exceptions

pytestmark = pytest.mark.timeout(90)


def _next_run(path):
    """Counts runs in a file; returns this run's number (0 for the first)."""
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(str(n + 1))
    return n


def _runs(path):
    return int(open(path).read())


@ray.remote
def raises_in_first_runs(path, fail_runs, fail_at, n, exc_name="ValueError"):
    run = _next_run(path)
    for i in range(n):
        if i == fail_at and run < fail_runs:
            raise {"ValueError": ValueError, "KeyError": KeyError}[exc_name]("run %d fails at %d" % (run, i))
        yield (i, run)


def test_retry_exceptions_reruns_and_skips_items_already_received(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(retry_exceptions=True, max_retries=1).remote(marker, 1, 3, 5)
    got = [ray.get(r, timeout=30) for r in g]
    # Items 0-2 come from the first run, 3-4 from the retry; none twice, no error item.
    assert got == [(0, 0), (1, 0), (2, 0), (3, 1), (4, 1)]
    assert _runs(marker) == 2
    assert ray.get(g.completed()) is None


def test_retry_exceptions_while_the_caller_consumes(ray_start, tmp_path):
    """Items taken before the failure stay taken; the retry's copies are dropped."""
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(retry_exceptions=True, max_retries=2).remote(marker, 2, 2, 4)
    assert ray.get(next(g), timeout=30) == (0, 0)
    assert ray.get(next(g), timeout=30) == (1, 0)
    rest = [ray.get(r, timeout=30) for r in g]
    assert rest == [(2, 2), (3, 2)]
    assert _runs(marker) == 3


def test_retry_exceptions_exhausted_ends_with_the_error(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(retry_exceptions=True, max_retries=2).remote(marker, 99, 2, 5)
    assert ray.get(next(g), timeout=30) == (0, 0)
    assert ray.get(next(g), timeout=30) == (1, 0)
    err = next(g)
    with pytest.raises(ValueError, match="run 2 fails at 2"):   # the last attempt's error
        ray.get(err)
    with pytest.raises(StopIteration):
        next(g)
    with pytest.raises(exceptions.RayTaskError):
        ray.get(g.completed())
    assert _runs(marker) == 3   # first run + 2 retries


def test_retry_exceptions_allowlist(ray_start, tmp_path):
    # Not in the allowlist: no retry, the error is the item after those yielded.
    marker = str(tmp_path / "no")
    g = raises_in_first_runs.options(retry_exceptions=[KeyError], max_retries=3).remote(marker, 1, 1, 3)
    assert ray.get(next(g), timeout=30) == (0, 0)
    with pytest.raises(ValueError):
        ray.get(next(g), timeout=30)
    with pytest.raises(StopIteration):
        next(g)
    assert _runs(marker) == 1
    # In the allowlist: retried.
    marker = str(tmp_path / "yes")
    g = raises_in_first_runs.options(retry_exceptions=[KeyError], max_retries=3).remote(marker, 1, 1, 3, "KeyError")
    assert [ray.get(r, timeout=30) for r in g] == [(0, 0), (1, 1), (2, 1)]
    assert _runs(marker) == 2


def test_without_retry_exceptions_the_error_is_not_retried(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(max_retries=3).remote(marker, 1, 1, 3)
    assert ray.get(next(g), timeout=30) == (0, 0)
    with pytest.raises(ValueError):
        ray.get(next(g), timeout=30)
    assert _runs(marker) == 1


def test_retry_exceptions_async_generator(ray_start, tmp_path):
    @ray.remote(retry_exceptions=True, max_retries=1)
    async def agen(path):
        run = _next_run(path)
        for i in range(4):
            if i == 2 and run == 0:
                raise RuntimeError("async failure")
            yield (i, run)

    marker = str(tmp_path / "runs")
    assert [ray.get(r, timeout=30) for r in agen.remote(marker)] == [(0, 0), (1, 0), (2, 1), (3, 1)]


def test_retry_exceptions_with_backpressure(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(retry_exceptions=True, max_retries=1,
                                     _generator_backpressure_num_objects=1).remote(marker, 1, 3, 6)
    got = [ray.get(r, timeout=30) for r in g]
    assert [i for i, _ in got] == list(range(6))
    assert [run for _, run in got] == [0, 0, 0, 1, 1, 1]


@ray.remote
def dies_in_first_runs(path, die_runs, die_at, n):
    run = _next_run(path)
    for i in range(n):
        if i == die_at and run < die_runs:
            os._exit(1)
        yield (i, run)


def test_worker_death_retry_with_wait(ray_start, tmp_path):
    """A worker death mid-stream reruns the task; lumos.wait sees the rerun's items."""
    marker = str(tmp_path / "runs")
    g = dies_in_first_runs.options(max_retries=2).remote(marker, 2, 2, 4)
    got = []
    while True:
        ready, _ = ray.wait([g], timeout=30)
        assert ready == [g]
        try:
            got.append(ray.get(next(g)))
        except StopIteration:
            break
    assert got == [(0, 0), (1, 0), (2, 2), (3, 2)]
    assert _runs(marker) == 3


def test_worker_death_retries_exhausted_mid_stream(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    g = dies_in_first_runs.options(max_retries=1).remote(marker, 99, 1, 3)
    assert ray.get(next(g), timeout=30) == (0, 0)
    with pytest.raises(exceptions.WorkerCrashedError, match="max_retries"):
        ray.get(next(g), timeout=30)
    with pytest.raises(StopIteration):
        next(g)
    assert _runs(marker) == 2


def test_sigkill_mid_stream_is_retried_and_continues(ray_start, tmp_path):
    @ray.remote(max_retries=1)
    def pid_stream(path):
        run = _next_run(path)
        yield ("pid", os.getpid())
        for i in range(3):
            if run == 0 and i == 1:
                time.sleep(1000)   # killed here by the test
            yield (i, run)

    marker = str(tmp_path / "runs")
    g = pid_stream.remote(marker)
    _, pid = ray.get(next(g), timeout=30)
    assert ray.get(next(g), timeout=30) == (0, 0)
    os.kill(pid, signal.SIGKILL)
    assert [ray.get(r, timeout=30) for r in g] == [(1, 1), (2, 1)]
