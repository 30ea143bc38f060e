"""Errors raised by tasks: RayTaskError that is also the original class,
useful tracebacks, propagation through dependent tasks, crashed workers."""
import os
import pickle

import pytest

import lumos as ray
from lumos import exceptions

pytestmark = pytest.mark.timeout(30)


class CustomError(Exception):
    def __init__(self, msg, code=0):
        super().__init__(msg)
        self.code = code


@ray.remote
def raise_value_error():
    raise ValueError("bad value 42")


@ray.remote
def raise_custom():
    raise CustomError("custom", 7)


@ray.remote
def add_one(x):
    return x + 1


def test_task_error_is_ray_task_error(ray_start):
    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(raise_value_error.remote())
    err = info.value
    assert isinstance(err, exceptions.RayError)
    assert isinstance(err.cause, ValueError)
    assert "bad value 42" in str(err)


def test_task_error_catchable_as_original_class(ray_start):
    with pytest.raises(ValueError) as info:
        ray.get(raise_value_error.remote())
    assert isinstance(info.value, exceptions.RayTaskError)
    assert "bad value 42" in str(info.value)

    try:
        ray.get(raise_custom.remote())
    except CustomError as e:
        assert isinstance(e, exceptions.RayTaskError)
        assert e.code == 7      # attributes of the cause are reachable
    else:
        pytest.fail("CustomError not raised")


def test_task_error_in_list_get(ray_start):
    refs = [add_one.remote(1), raise_value_error.remote()]
    with pytest.raises(ValueError):
        ray.get(refs)
    assert ray.get(refs[0]) == 2


def test_builtin_exception_classes(ray_start):
    @ray.remote
    def raise_key():
        return {}["missing"]

    @ray.remote
    def raise_zero():
        return 1 / 0

    @ray.remote
    def raise_type():
        return "a" + 1

    with pytest.raises(KeyError):
        ray.get(raise_key.remote())
    with pytest.raises(ZeroDivisionError):
        ray.get(raise_zero.remote())
    with pytest.raises(TypeError):
        ray.get(raise_type.remote())


def test_traceback_mentions_function_and_line(ray_start):
    @ray.remote
    def user_function_that_fails():
        x = 1
        raise RuntimeError("boom %d" % x)   # the line to find

    line = user_function_that_fails.__wrapped__.__code__.co_firstlineno + 3
    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(user_function_that_fails.remote())
    text = str(info.value)
    assert "user_function_that_fails" in text
    assert "line %d" % line in text, text
    assert "test_errors.py" in text
    assert "RuntimeError: boom 1" in text
    assert info.value.traceback_str and "user_function_that_fails" in info.value.traceback_str


def test_actor_traceback_names_its_file(ray_start):
    # Code pickled by value keeps its file name (cloudpickle >= 3.1.2 alone
    # would say "<dynamic-code>").
    @ray.remote
    class Failing:
        def method(self):
            raise ValueError("from the actor")

    a = Failing.remote()
    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(a.method.remote())
    text = str(info.value)
    assert "test_errors.py" in text and "in method" in text, text


def test_error_propagates_through_dependent_task(ray_start):
    failed = raise_value_error.remote()
    dependent = add_one.remote(failed)
    second = add_one.remote(dependent)
    with pytest.raises(ValueError) as info:
        ray.get(second)
    assert "bad value 42" in str(info.value)


def test_error_raised_by_nested_get(ray_start):
    @ray.remote
    def outer():
        return ray.get(raise_value_error.remote())

    # the inner failure reaches the driver as a RayTaskError of outer() whose
    # text holds both tracebacks
    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(outer.remote())
    text = str(info.value)
    assert "outer" in text and "raise_value_error" in text and "bad value 42" in text


def test_error_value_can_be_passed_to_put(ray_start):
    """An exception instance is an ordinary value when returned, not raised."""
    @ray.remote
    def returns_exc():
        return ValueError("just a value")

    got = ray.get(returns_exc.remote())
    assert isinstance(got, ValueError) and str(got) == "just a value"


def test_unpicklable_exception(ray_start):
    class Local(Exception):
        def __reduce__(self):
            raise TypeError("cannot pickle me")

    @ray.remote
    def raise_local():
        raise Local("x")

    with pytest.raises(exceptions.RayTaskError):
        ray.get(raise_local.remote())


def test_ray_task_error_pickles(ray_start):
    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(raise_value_error.remote())
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, ValueError) and isinstance(again, exceptions.RayTaskError)


def test_worker_crash_gives_worker_crashed_error(ray_start):
    @ray.remote(max_retries=0)
    def die():
        os._exit(1)

    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(die.remote(), timeout=20)
    # the cluster keeps working
    assert ray.get(add_one.remote(1), timeout=20) == 2


def test_worker_crash_default_options(ray_start):
    @ray.remote
    def die():
        os._exit(1)

    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(die.remote(), timeout=20)
    assert ray.get([add_one.remote(i) for i in range(4)], timeout=20) == [1, 2, 3, 4]


def test_worker_crash_propagates_to_dependent(ray_start):
    @ray.remote(max_retries=0)
    def die():
        os._exit(1)

    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(add_one.remote(die.remote()), timeout=20)


def test_system_exit_in_task(ray_start):
    @ray.remote(max_retries=0)
    def leave():
        raise SystemExit(3)

    with pytest.raises((exceptions.WorkerCrashedError, exceptions.RayTaskError)):
        ray.get(leave.remote(), timeout=20)
    assert ray.get(add_one.remote(1), timeout=20) == 2
