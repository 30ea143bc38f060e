"""Tasks and objects: remote/get/put/wait, arguments, returns, options."""
import os
import time

import pytest

import lumos as ray

pytestmark = pytest.mark.timeout(30)


@ray.remote
def add(a, b=0):
    return a + b


@ray.remote
def identity(x):
    return x


@ray.remote
def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


def test_remote_and_get(ray_start):
    assert ray.get(add.remote(1, 2)) == 3
    assert ray.get([add.remote(i, i) for i in range(10)]) == [2 * i for i in range(10)]


def test_put_and_get(ray_start):
    values = [None, 0, -1, 1.5, "text", b"bytes", [1, [2, 3]], {"k": (1, 2)}, {1, 2}, 10 ** 30]
    for v in values:
        assert ray.get(ray.put(v)) == v
    # a value can be got any number of times
    ref = ray.put({"a": 1})
    assert ray.get(ref) == ray.get(ref) == {"a": 1}


def test_put_ref_as_argument(ray_start):
    ref = ray.put(20)
    assert ray.get(add.remote(ref, 1)) == 21
    # a task's return passed to another task
    assert ray.get(add.remote(add.remote(1, 2), add.remote(3, 4))) == 10


def test_kwargs(ray_start):
    assert ray.get(add.remote(1, b=5)) == 6
    assert ray.get(add.remote(a=2, b=3)) == 5
    assert ray.get(add.remote(a=ray.put(7), b=add.remote(1, 1))) == 9


def test_kwargs_varargs(ray_start):
    @ray.remote
    def f(*args, **kwargs):
        return args, kwargs

    assert ray.get(f.remote(1, 2, x=3)) == ((1, 2), {"x": 3})
    assert ray.get(f.remote()) == ((), {})


def test_nested_refs_in_containers_stay_refs(ray_start):
    """A ref inside a container argument is passed as a ref, not resolved."""
    inner = ray.put(41)

    @ray.remote
    def inspect(container):
        ref = container["ref"][0]
        assert isinstance(ref, ray.ObjectRef)
        return ray.get(ref) + 1

    assert ray.get(inspect.remote({"ref": [inner]})) == 42


def test_nested_refs_in_put_containers(ray_start):
    inner = ray.put("payload")
    outer = ray.put([inner, {"x": inner}])
    got = ray.get(outer)
    assert isinstance(got[0], ray.ObjectRef) and got[0] == inner
    assert ray.get(got[0]) == ray.get(got[1]["x"]) == "payload"

    @ray.remote
    def deref(lst):
        # the outer ref is resolved to its list; the inner refs are not
        return [ray.get(r) for r in lst if isinstance(r, ray.ObjectRef)]

    assert ray.get(deref.remote(outer)) == ["payload"]


def test_task_returns_refs_in_container(ray_start):
    @ray.remote
    def make():
        return [ray.put(i) for i in range(3)]

    refs = ray.get(make.remote())
    assert all(isinstance(r, ray.ObjectRef) for r in refs)
    assert ray.get(refs) == [0, 1, 2]


def test_num_returns(ray_start):
    @ray.remote(num_returns=3)
    def three():
        return 1, 2, 3

    a, b, c = three.remote()
    assert ray.get([a, b, c]) == [1, 2, 3]

    @ray.remote
    def pair():
        return "x", "y"

    x, y = pair.options(num_returns=2).remote()
    assert ray.get(x) == "x" and ray.get(y) == "y"
    # default single return holds the tuple
    assert ray.get(pair.remote()) == ("x", "y")


def test_num_returns_zero(ray_start):
    @ray.remote(num_returns=0)
    def nothing():
        return None

    assert nothing.remote() is None


def test_options_override_only_what_they_name(ray_start):
    """options(num_cpus=...) keeps the decorator's other options."""
    @ray.remote(num_returns=2, num_cpus=1)
    def two():
        return "a", "b"

    a, b = two.options(num_cpus=0.5).remote()
    assert ray.get([a, b]) == ["a", "b"]
    a, b = two.options(name="renamed").remote()
    assert ray.get([a, b]) == ["a", "b"]

    # decorator resources kept when overriding num_cpus: a custom resource the
    # node lacks keeps the task pending
    @ray.remote(resources={"nonexistent": 1})
    def needs_custom():
        return 1

    ref = needs_custom.options(num_cpus=0.5).remote()
    ready, not_ready = ray.wait([ref], timeout=0.5)
    assert ready == [] and not_ready == [ref]


def test_options_chained(ray_start):
    @ray.remote
    def f():
        return [1, 2]

    a, b = f.options(num_returns=2).options(num_cpus=1).remote()
    assert ray.get([a, b]) == [1, 2]


def test_tasks_submit_tasks(ray_start):
    @ray.remote
    def leaf(x):
        return x * 10

    @ray.remote
    def parent(n):
        return sum(ray.get([leaf.remote(i) for i in range(n)]))

    @ray.remote
    def grandparent():
        return ray.get(parent.remote(4)) + 1

    assert ray.get(parent.remote(5)) == 100
    assert ray.get(grandparent.remote()) == 61


def test_wait_basic(ray_start):
    fast = identity.remote("fast")
    slow = sleep_then.remote(3, "slow")
    ready, not_ready = ray.wait([slow, fast], num_returns=1, timeout=2)
    assert ready == [fast]
    assert not_ready == [slow]
    ready, not_ready = ray.wait([slow, fast], num_returns=2)
    assert set(ready) == {fast, slow} and not_ready == []


def test_wait_timeout_zero(ray_start):
    ref = sleep_then.remote(2, 1)
    t = time.monotonic()
    ready, not_ready = ray.wait([ref], timeout=0)
    assert time.monotonic() - t < 1
    assert ready == [] and not_ready == [ref]
    assert ray.get(ref) == 1


def test_wait_preserves_order(ray_start):
    refs = [ray.put(i) for i in range(5)]
    ready, not_ready = ray.wait(refs, num_returns=3)
    assert len(ready) == 3 and len(not_ready) == 2
    assert set(ready + not_ready) == set(refs)
    # both lists keep the order of the input list
    assert [r for r in refs if r in ready] == ready
    assert [r for r in refs if r in not_ready] == not_ready


@ray.remote
def wait_two_of(refs):
    ready, not_ready = ray.wait(refs, num_returns=2)
    return [refs.index(r) for r in ready], [refs.index(r) for r in not_ready]


def test_wait_takes_the_first_ready_refs_in_list_order(ray_start):
    slow = sleep_then.remote(3, "slow")
    refs = [ray.put(0), slow, ray.put(1), ray.put(2)]
    ready, not_ready = ray.wait(refs, num_returns=2)
    assert ready == [refs[0], refs[2]] and not_ready == [slow, refs[3]]
    with pytest.raises(ValueError, match="unique"):
        ray.wait([refs[0], refs[2], refs[0]])
    # The same in a task, where the refs are borrowed (owned by the driver).
    assert ray.get(wait_two_of.remote(refs)) == ([0, 2], [1, 3])
    ray.cancel(slow)  # frees its CPU for the next test of the shared cluster
    assert ray.wait([slow], timeout=30)[0] == [slow]


def test_parallel_execution(ray_start):
    """Two 1.5-second tasks on 2 CPUs finish in well under 3 seconds."""
    ray.get([sleep_then.remote(0.01, i) for i in range(2)])  # warm workers
    t = time.monotonic()
    ray.get([sleep_then.remote(1.5, i) for i in range(2)])
    assert time.monotonic() - t < 2.5


def test_many_small_tasks(ray_start):
    refs = [identity.remote(i) for i in range(300)]
    assert ray.get(refs) == list(range(300))


def test_closure_and_lambda_functions(ray_start):
    factor = 3

    @ray.remote
    def scale(x):
        return x * factor

    assert ray.get(scale.remote(5)) == 15
    lam = ray.remote(lambda x: x + 1)
    assert ray.get(lam.remote(1)) == 2


def test_get_inside_task_on_one_cpu_does_not_deadlock(ray_start_1cpu):
    """A task blocked in get() gives its CPU back so the child can run."""
    @ray.remote
    def child(x):
        return x + 1

    @ray.remote
    def parent():
        return ray.get(child.remote(1)) + ray.get(child.remote(10))

    @ray.remote
    def grandparent():
        return ray.get(parent.remote())

    assert ray.get(parent.remote(), timeout=20) == 13
    assert ray.get(grandparent.remote(), timeout=20) == 13


def test_wait_inside_task_on_one_cpu_does_not_deadlock(ray_start_1cpu):
    @ray.remote
    def child():
        return 1

    @ray.remote
    def parent():
        ready, _ = ray.wait([child.remote()], timeout=15)
        return len(ready)

    assert ray.get(parent.remote(), timeout=20) == 1


def test_max_calls_gives_new_worker(ray_start_1cpu):
    @ray.remote(max_calls=1)
    def pid_once():
        return os.getpid()

    @ray.remote
    def pid_reused():
        return os.getpid()

    pids = [ray.get(pid_once.remote(), timeout=15) for _ in range(3)]
    assert len(set(pids)) == 3, pids

    reused = [ray.get(pid_reused.remote(), timeout=15) for _ in range(3)]
    assert len(set(reused)) == 1, reused


def test_max_calls_two(ray_start_1cpu):
    @ray.remote(max_calls=2)
    def pid():
        return os.getpid()

    pids = [ray.get(pid.remote(), timeout=15) for _ in range(4)]
    # no worker runs it more than twice
    assert max(pids.count(p) for p in pids) <= 2 and len(set(pids)) >= 2, pids


def test_runs_in_worker_process(ray_start):
    @ray.remote
    def where():
        return os.getpid()

    assert ray.get(where.remote()) != os.getpid()


def test_is_initialized(ray_start):
    assert ray.is_initialized()
