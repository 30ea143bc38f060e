"""lumos.util.multiprocessing.Pool: the stdlib's Pool API and semantics on
lumos actors."""
import multiprocessing
import os
import time

import pytest

import lumos as ray
from lumos.util.multiprocessing import Pool, TimeoutError as PoolTimeoutError


@pytest.fixture(scope="module")
def cluster(ray_start):
    yield ray_start


def square(x):
    return x * x


def add(a, b):
    return a + b


def fail_on_three(x):
    if x == 3:
        raise ValueError("three!")
    return x


def slow(x):
    time.sleep(x)
    return x


_init_value = []


def remember(value):
    _init_value.append(value)


def initialized(_):
    return _init_value[-1] if _init_value else None


def test_map_starmap_apply_and_processes(cluster):
    with Pool(processes=2) as pool:
        assert pool.map(square, range(10)) == [x * x for x in range(10)]
        assert pool.map(square, range(7), chunksize=3) == [x * x for x in range(7)]
        assert pool.map(square, []) == []
        assert pool.starmap(add, [(1, 2), (3, 4)]) == [3, 7]
        assert pool.apply(add, (2, 3)) == 5
        assert pool.apply(add, (2,), {"b": 5}) == 7
        pids = set(pool.map(lambda _: os.getpid(), range(8), chunksize=1))
        assert 1 <= len(pids) <= 2 and os.getpid() not in pids


def test_default_processes_is_the_cluster_cpus(cluster):
    with Pool() as pool:
        assert pool._processes == int(ray.cluster_resources()["CPU"])
    with pytest.raises(ValueError, match="at least 1"):
        Pool(processes=0)
    with pytest.raises(ValueError, match="maxtasksperchild"):
        Pool(processes=1, maxtasksperchild=5)


def test_imap_in_order_and_imap_unordered_as_finished(cluster):
    with Pool(processes=2) as pool:
        assert list(pool.imap(square, range(6))) == [x * x for x in range(6)]
        assert list(pool.imap(square, range(6), chunksize=4)) == [x * x for x in range(6)]
        assert list(pool.imap_unordered(slow, [1.0, 0.01])) == [0.01, 1.0]
        it = pool.imap(slow, [1.0])
        with pytest.raises(multiprocessing.TimeoutError):
            it.next(timeout=0.05)
        assert it.next(timeout=30) == 1.0
        with pytest.raises(StopIteration):
            next(it)


def test_async_results_get_wait_ready_successful_callbacks(cluster):
    with Pool(processes=2) as pool:
        r = pool.apply_async(slow, (0.5,))
        assert not r.ready()
        with pytest.raises(ValueError, match="not ready"):
            r.successful()
        with pytest.raises(PoolTimeoutError):
            r.get(timeout=0.05)
        r.wait(timeout=30)
        assert r.ready() and r.successful() and r.get() == 0.5

        got, errors = [], []
        m = pool.map_async(square, [1, 2, 3], callback=got.append, error_callback=errors.append)
        assert m.get(timeout=30) == [1, 4, 9]
        bad = pool.map_async(fail_on_three, range(5), callback=got.append, error_callback=errors.append)
        bad.wait(30)
        assert not bad.successful()
        deadline = time.monotonic() + 10
        while (len(got) < 1 or len(errors) < 1) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got == [[1, 4, 9]]
        assert len(errors) == 1 and isinstance(errors[0], ValueError)
        s = pool.starmap_async(add, [(1, 1)])
        assert s.get(30) == [2]


def test_errors_raise_the_original_type(cluster):
    with Pool(processes=2) as pool:
        with pytest.raises(ValueError, match="three!"):
            pool.map(fail_on_three, range(5))
        with pytest.raises(ValueError, match="three!"):
            pool.apply(fail_on_three, (3,))
        with pytest.raises(ValueError, match="three!"):
            list(pool.imap(fail_on_three, range(5)))
        assert pool.map(square, [2]) == [4]  # the pool still works


def test_initializer_runs_in_each_process(cluster):
    with Pool(processes=2, initializer=remember, initargs=("ready",)) as pool:
        assert pool.map(initialized, range(4), chunksize=1) == ["ready"] * 4


def test_close_join_terminate_lifecycle(cluster):
    pool = Pool(processes=2)
    r = pool.map_async(slow, [0.3, 0.3])
    with pytest.raises(ValueError, match="still running"):
        pool.join()
    pool.close()
    with pytest.raises(ValueError, match="Pool not running"):
        pool.map(square, [1])
    pool.join()  # waits for the submitted work
    assert r.get(timeout=1) == [0.3, 0.3]
    with pytest.raises(ValueError, match="Pool not running"):
        with pool:
            pass
    pool = Pool(processes=1)
    pool.terminate()
    with pytest.raises(ValueError, match="Pool not running"):
        pool.apply(square, (1,))
    # The actors are gone: the CPUs they held come back.
    deadline = time.monotonic() + 20
    while ray.available_resources().get("CPU", 0) < ray.cluster_resources()["CPU"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ray.available_resources().get("CPU", 0) == ray.cluster_resources()["CPU"]
