"""Misuse of the API gets a clear, early error and leaves the cluster working."""
import threading

import pytest

import lumos as ray
from lumos import exceptions

pytestmark = pytest.mark.timeout(30)


@ray.remote
def two_args(a, b):
    return a + b


@ray.remote
def echo(x):
    return x


def test_direct_call_raises_type_error(ray_start):
    with pytest.raises(TypeError, match=r"\.remote\(\)"):
        two_args(1, 2)


def test_wrong_number_of_args(ray_start):
    with pytest.raises(TypeError):
        two_args.remote(1)
    with pytest.raises(TypeError):
        two_args.remote(1, 2, 3)
    with pytest.raises(TypeError):
        two_args.remote(1, c=2)
    with pytest.raises(TypeError):
        two_args.options(num_cpus=1).remote()
    assert ray.get(two_args.remote(1, 2)) == 3


def test_unknown_option_names_it(ray_start):
    with pytest.raises(ValueError, match="num_cpu"):
        two_args.options(num_cpu=1)
    with pytest.raises(ValueError, match="bogus_option"):
        ray.remote(bogus_option=3)(lambda: 1)


def test_bad_option_values(ray_start):
    for bad in (-1, "two", [1]):
        with pytest.raises(ValueError):
            echo.options(num_cpus=bad)
    with pytest.raises(ValueError):
        echo.options(num_gpus=-0.5)
    with pytest.raises(ValueError):
        echo.options(resources={"custom": -1})
    with pytest.raises(ValueError):
        echo.options(resources={"custom": "x"})
    with pytest.raises(ValueError):
        echo.options(num_returns=-1)
    with pytest.raises(ValueError):
        echo.options(max_calls=-1)


def test_remote_decorator_misuse(ray_start):
    with pytest.raises(TypeError):
        ray.remote(1, 2)
    with pytest.raises(TypeError):
        ray.remote(num_cpus=1)(42)


def test_get_non_ref(ray_start):
    for bad in (1, "ref", None, {"a": 1}):
        with pytest.raises(ValueError):
            ray.get(bad)
    with pytest.raises(ValueError):
        ray.get([ray.put(1), 2])


def test_put_object_ref(ray_start):
    ref = ray.put(1)
    with pytest.raises(TypeError):
        ray.put(ref)
    # wrapped in a container it is fine
    assert ray.get(ray.get(ray.put([ref]))[0]) == 1


def test_init_twice(ray_start):
    with pytest.raises(RuntimeError):
        ray.init()
    with pytest.raises(RuntimeError):
        ray.init(num_cpus=1)
    ctx = ray.init(ignore_reinit_error=True)
    assert ctx is not None
    assert ray.is_initialized()
    assert ray.get(echo.remote(5)) == 5


def test_init_unknown_keyword(ray_start):
    # Ray raises RuntimeError("Unknown keyword argument(s): ..."); a TypeError
    # naming the keyword serves the user as well
    with pytest.raises((TypeError, RuntimeError), match="not_an_init_option"):
        ray.init(not_an_init_option=1, ignore_reinit_error=True)


def test_unserializable_argument(ray_start):
    lock = threading.Lock()
    with pytest.raises(TypeError, match="lock"):
        echo.remote(lock)
    with pytest.raises(TypeError, match="lock"):
        echo.remote(x=lock)
    with pytest.raises(TypeError, match="lock"):
        ray.put({"inner": lock})
    assert ray.get(echo.remote(1)) == 1


def test_unserializable_return(ray_start):
    @ray.remote
    def returns_lock():
        return threading.Lock()

    with pytest.raises(Exception) as info:
        ray.get(returns_lock.remote())
    assert isinstance(info.value, (TypeError, exceptions.RayTaskError))
    assert "lock" in str(info.value).lower()


def test_unserializable_closure(ray_start):
    lock = threading.Lock()

    @ray.remote
    def uses_lock():
        with lock:
            return 1

    with pytest.raises(TypeError):
        uses_lock.remote()


def test_wait_bad_input(ray_start):
    ref = ray.put(1)
    with pytest.raises(TypeError):
        ray.wait(ref)
    with pytest.raises(TypeError):
        ray.wait([ref, 1])
    with pytest.raises(TypeError):
        ray.wait("not a list")
    with pytest.raises(ValueError):
        ray.wait([ref, ref])
    with pytest.raises(ValueError):
        ray.wait([ref], num_returns=2)
    with pytest.raises(ValueError):
        ray.wait([ref], num_returns=0)
    with pytest.raises(ValueError):
        ray.wait([ref], num_returns=-1)
    assert ray.wait([ref]) == ([ref], [])


def test_get_bad_timeout(ray_start):
    ref = ray.put(1)
    with pytest.raises((TypeError, ValueError)):
        ray.get(ref, timeout="1")
    with pytest.raises(ValueError):
        ray.get(ref, timeout=-1)


@pytest.mark.parametrize("kwargs", [
    {"num_cpus": -1}, {"num_cpus": "two"}, {"num_gpus": -1},
    {"resources": {"custom": -2}}, {"resources": {"custom": "x"}},
])
def test_init_bad_resources(kwargs, tmp_short, no_cluster):
    assert not ray.is_initialized()
    with pytest.raises(ValueError):
        ray.init(_temp_dir=tmp_short, **kwargs)
    assert not ray.is_initialized()


def test_infeasible_task_stays_pending(ray_start_1cpu):
    """A task needing more CPUs than the node has stays not ready; nothing
    crashes and later normal tasks still run."""
    @ray.remote(num_cpus=4)
    def too_big():
        return 1

    ref = too_big.remote()
    ready, not_ready = ray.wait([ref], timeout=1)
    assert ready == [] and not_ready == [ref]
    assert ray.get(echo.remote("still works"), timeout=15) == "still works"
    with pytest.raises(exceptions.GetTimeoutError):
        ray.get(ref, timeout=0.5)
    # a custom resource the node lacks behaves the same way
    ref2 = echo.options(resources={"missing": 1}).remote(1)
    assert ray.wait([ref2], timeout=0.5) == ([], [ref2])
    assert ray.get(echo.remote(2), timeout=15) == 2


def test_cluster_still_works_after_bad_input(ray_start):
    assert ray.get([echo.remote(i) for i in range(5)]) == list(range(5))
