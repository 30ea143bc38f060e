"""Retries of streaming generator tasks: a worker death mid-stream
(max_retries) runs the task again; items the caller already has are not
repeated and iteration goes on with the rest. Out of retries, the error ends
the stream. Retries on application exceptions (retry_exceptions) are in
test_streaming_retry_exceptions.py."""
import os
import signal
import time

import pytest

import lumos as ray
from lumos import exceptions

from streaming_retry_util import next_run, raises_in_first_runs, runs

pytestmark = pytest.mark.timeout(90)


def test_without_retry_exceptions_the_error_is_not_retried(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    g = raises_in_first_runs.options(max_retries=3).remote(marker, 1, 1, 3)
    assert ray.get(next(g), timeout=30) == (0, 0)
    with pytest.raises(ValueError):
        ray.get(next(g), timeout=30)
    assert runs(marker) == 1


@ray.remote
def dies_in_first_runs(path, die_runs, die_at, n):
    run = next_run(path)
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
    assert runs(marker) == 3


def test_worker_death_retries_exhausted_mid_stream(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    g = dies_in_first_runs.options(max_retries=1).remote(marker, 99, 1, 3)
    assert ray.get(next(g), timeout=30) == (0, 0)
    with pytest.raises(exceptions.WorkerCrashedError, match="max_retries"):
        ray.get(next(g), timeout=30)
    with pytest.raises(StopIteration):
        next(g)
    assert runs(marker) == 2


def test_sigkill_mid_stream_is_retried_and_continues(ray_start, tmp_path):
    @ray.remote(max_retries=1)
    def pid_stream(path):
        run = next_run(path)
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
