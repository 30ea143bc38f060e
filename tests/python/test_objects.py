"""Objects: numpy zero-copy, large values through the store, store memory
reuse, ObjectRef's API, get of lists and get timeouts."""
import pickle
import time

import numpy as np
import pytest

import lumos as ray
from lumos import exceptions

pytestmark = pytest.mark.timeout(30)

MB = 1 << 20


@ray.remote
def identity(x):
    return x


@ray.remote
def total(a):
    return float(a.sum())


@ray.remote
def make_array(n, fill):
    return np.full(n, fill, dtype=np.uint8)


@ray.remote
def try_write(a):
    try:
        a[0] = 1
    except ValueError as e:
        return "ValueError: %s" % e
    return "written"


def test_numpy_round_trip(ray_start):
    for arr in (np.arange(10), np.zeros((3, 4), dtype=np.float32), np.array([], dtype=np.int64),
                np.arange(1 << 18, dtype=np.float64).reshape(512, 512),
                np.array(["a", "bc"]), np.arange(12).reshape(3, 4).T):
        got = ray.get(ray.put(arr))
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)


def test_numpy_get_is_read_only(ray_start):
    arr = np.arange(1 << 20, dtype=np.int64)  # 8 MiB: in the store
    got = ray.get(ray.put(arr))
    assert not got.flags.writeable
    with pytest.raises(ValueError):
        got[0] = 5
    # the original is untouched and still writable
    arr[0] = 7
    assert got[0] == 0


def test_numpy_get_is_zero_copy(ray_start):
    """Two gets of one stored array read the same shared memory."""
    ref = ray.put(np.ones(4 * MB, dtype=np.uint8))
    a = ray.get(ref)
    b = ray.get(ref)
    assert np.shares_memory(a, b)
    assert a.ctypes.data == b.ctypes.data


def test_numpy_arg_in_task_is_read_only(ray_start):
    big = np.zeros(2 * MB, dtype=np.uint8)
    assert ray.get(try_write.remote(big)).startswith("ValueError")
    assert ray.get(try_write.remote(ray.put(big))).startswith("ValueError")


def test_numpy_in_container(ray_start):
    value = {"a": np.arange(1000), "b": [np.ones((300, 300)), "text"]}
    got = ray.get(ray.put(value))
    np.testing.assert_array_equal(got["a"], value["a"])
    np.testing.assert_array_equal(got["b"][0], value["b"][0])
    assert got["b"][1] == "text"


@pytest.mark.parametrize("size", [100 * 1024 - 64, 100 * 1024 + 1, 300 * 1024, 20 * MB])
def test_large_args_and_returns(ray_start, size):
    """Values around and above the 100 KiB inline limit pass as arguments
    and come back as returns."""
    data = np.random.randint(0, 255, size=size, dtype=np.uint8)
    assert ray.get(total.remote(data)) == float(data.sum())
    got = ray.get(identity.remote(data))
    np.testing.assert_array_equal(got, data)
    blob = data.tobytes()
    assert ray.get(identity.remote(blob)) == blob


def test_large_return_is_store_backed(ray_start):
    got = ray.get(make_array.remote(5 * MB, 3))
    assert got.shape == (5 * MB,) and got[0] == 3 and got[-1] == 3
    assert not got.flags.writeable   # a zero-copy view of the store, not a private copy


def test_large_put_passed_to_many_tasks(ray_start):
    ref = ray.put(np.ones(10 * MB, dtype=np.uint8))
    assert ray.get([total.remote(ref) for _ in range(6)]) == [float(10 * MB)] * 6


@pytest.mark.timeout(30)
def test_put_and_drop_does_not_fill_store(ray_start_fn):
    """30 puts of a 200 MB array in a 300 MB store: each dropped ref frees its
    space for the next put."""
    ray_start_fn(num_cpus=1, object_store_memory=300 * MB)
    arr = np.ones(200 * MB, dtype=np.uint8)
    for i in range(30):
        ref = ray.put(arr)
        if i % 10 == 0:
            assert ray.get(ref)[-1] == 1
        del ref


@pytest.mark.timeout(30)
def test_task_returns_dropped_free_store(ray_start_fn):
    ray_start_fn(num_cpus=1, object_store_memory=100 * MB)
    for i in range(10):
        ref = make_array.remote(60 * MB, i)
        assert ray.get(ref)[0] == i
        del ref


def test_object_ref_api(ray_start):
    ref = ray.put(1)
    h = ref.hex()
    assert isinstance(h, str) and int(h, 16) >= 0
    b = ref.binary()
    assert isinstance(b, bytes) and b.hex() == h
    assert repr(ref) == "ObjectRef(%s)" % h
    tid = ref.task_id()            # a TaskID, as in Ray
    assert isinstance(tid.hex(), str) and isinstance(tid.binary(), bytes)
    assert ray.ObjectRef(b) == ref
    assert ref != ray.put(1)
    assert ref != h and ref != b and ref is not None


def test_object_ref_eq_hash(ray_start):
    r1 = identity.remote(1)
    r2 = identity.remote(1)
    same = ray.ObjectRef(r1.binary())
    assert r1 == same and hash(r1) == hash(same)
    assert r1 != r2
    assert len({r1, r2, same}) == 2
    d = {r1: "a"}
    assert d[same] == "a"


def test_object_ref_task_id_distinguishes_tasks(ray_start):
    @ray.remote(num_returns=2)
    def two():
        return 1, 2

    a, b = two.remote()
    c = identity.remote(0)
    assert a.task_id() == b.task_id()
    assert a.task_id() != c.task_id()
    assert a.task_id().hex() != c.task_id().hex()
    assert a != b


def test_object_ref_pickles(ray_start):
    ref = ray.put("v")
    ref2 = pickle.loads(pickle.dumps(ref))
    assert ref2 == ref
    assert ray.get(ref2) == "v"


def test_get_list(ray_start):
    refs = [ray.put(i) for i in range(5)] + [identity.remote(i) for i in range(5, 10)]
    assert ray.get(refs) == list(range(10))
    assert ray.get([]) == []
    r = ray.put("x")
    assert ray.get([r, r, r]) == ["x", "x", "x"]


def test_get_timeout(ray_start):
    @ray.remote
    def slow():
        time.sleep(5)
        return 1

    ref = slow.remote()
    t = time.monotonic()
    with pytest.raises(exceptions.GetTimeoutError):
        ray.get(ref, timeout=0.5)
    elapsed = time.monotonic() - t
    assert 0.4 < elapsed < 3, elapsed
    with pytest.raises(TimeoutError):      # also a builtin TimeoutError
        ray.get([ref], timeout=0.1)
    assert issubclass(exceptions.GetTimeoutError, TimeoutError)
    assert issubclass(exceptions.GetTimeoutError, exceptions.RayError)


def test_get_timeout_zero_on_ready_object(ray_start):
    ref = ray.put(5)
    assert ray.get(ref, timeout=0) == 5
