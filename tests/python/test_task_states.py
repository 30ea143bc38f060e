"""Task states for tooling (lumos.util.state.list_tasks, from the GCS's task
events) and retries as new attempts, including a worker killed during its retry."""
import os
import signal
import time

import pytest

import lumos as ray
from lumos import exceptions
from lumos.util.state import list_tasks

pytestmark = pytest.mark.timeout(90)


def _rows(task_id_hex):
    return [t for t in list_tasks(limit=None) if t.task_id == task_id_hex]


def _wait_state(task_id_hex, state, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = _rows(task_id_hex)
        if rows and rows[-1].state == state:
            return rows
        time.sleep(0.02)
    raise AssertionError("task %s never reached %s: %s" % (task_id_hex, state, _rows(task_id_hex)))


@ray.remote
def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.01)
    return os.getpid()


@ray.remote
def echo(x):
    return x


def test_states_of_a_task_over_its_life(ray_start, tmp_path):
    go = str(tmp_path / "go")
    blocker = wait_for.remote(go)
    dependent = echo.remote(blocker)
    _wait_state(blocker.task_id().hex(), "RUNNING")
    rows = _wait_state(dependent.task_id().hex(), "PENDING_ARGS_AVAIL")
    assert rows[-1].name == "echo" and rows[-1].attempt_number == 0 and rows[-1].error_type is None
    open(go, "w").close()
    ray.get(dependent, timeout=30)
    _wait_state(blocker.task_id().hex(), "FINISHED")
    _wait_state(dependent.task_id().hex(), "FINISHED")


def test_tasks_waiting_for_a_worker_are_pending_node_assignment(ray_start, tmp_path):
    go = str(tmp_path / "go")
    refs = [wait_for.options(num_cpus=2).remote(go) for _ in range(3)]
    _wait_state(refs[0].task_id().hex(), "RUNNING")
    for r in refs[1:]:
        _wait_state(r.task_id().hex(), "PENDING_NODE_ASSIGNMENT")
    open(go, "w").close()
    ray.get(refs, timeout=30)


def test_failed_task_has_error_type(ray_start):
    @ray.remote(max_retries=0)
    def boom():
        raise ValueError("x")

    ref = boom.remote()
    with pytest.raises(ValueError):
        ray.get(ref)
    rows = _wait_state(ref.task_id().hex(), "FAILED")
    assert rows[-1].error_type == "TASK_EXECUTION_EXCEPTION"


def test_retried_exception_is_a_new_attempt(ray_start, tmp_path):
    marker = str(tmp_path / "runs")

    @ray.remote(max_retries=2, retry_exceptions=True)
    def flaky(path):
        n = int(open(path).read()) if os.path.exists(path) else 0
        with open(path, "w") as f:
            f.write(str(n + 1))
        if n == 0:
            raise RuntimeError("first attempt fails")
        return n

    ref = flaky.remote(marker)
    assert ray.get(ref, timeout=30) == 1
    rows = _wait_state(ref.task_id().hex(), "FINISHED")
    assert [(r.attempt_number, r.state, r.error_type) for r in rows] == [
        (0, "FAILED", "TASK_EXECUTION_EXCEPTION"), (1, "FINISHED", None)]


def _pid_of_attempt(path, attempt, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            pids = open(path).read().split()
            if len(pids) > attempt:
                return int(pids[attempt])
        time.sleep(0.01)
    raise AssertionError("attempt %d never started" % attempt)


@ray.remote
def record_pid_and_sleep(path):
    with open(path, "a") as f:
        f.write("%d\n" % os.getpid())
    time.sleep(1000)


def test_worker_killed_during_its_retry(ray_start, tmp_path):
    """Kill the worker by PID, then the retry's worker too: with max_retries=1
    the task fails with WorkerCrashedError, both attempts listed as WORKER_DIED."""
    path = str(tmp_path / "pids")
    ref = record_pid_and_sleep.options(max_retries=1).remote(path)
    first = _pid_of_attempt(path, 0)
    os.kill(first, signal.SIGKILL)
    second = _pid_of_attempt(path, 1)
    assert second != first
    os.kill(second, signal.SIGKILL)
    with pytest.raises(exceptions.WorkerCrashedError, match="signal 9"):
        ray.get(ref, timeout=30)
    rows = _wait_state(ref.task_id().hex(), "FAILED")
    assert [(r.attempt_number, r.state, r.error_type) for r in rows] == [
        (0, "FAILED", "WORKER_DIED"), (1, "FAILED", "WORKER_DIED")]


def test_worker_killed_once_then_retry_succeeds(ray_start, tmp_path):
    path = str(tmp_path / "pids")

    @ray.remote(max_retries=1)
    def sleep_first_time(path):
        with open(path, "a") as f:
            f.write("%d\n" % os.getpid())
        if len(open(path).read().split()) == 1:
            time.sleep(1000)
        return "done"

    ref = sleep_first_time.remote(path)
    os.kill(_pid_of_attempt(path, 0), signal.SIGKILL)
    assert ray.get(ref, timeout=30) == "done"
    rows = _wait_state(ref.task_id().hex(), "FINISHED")
    assert [(r.attempt_number, r.state) for r in rows] == [(0, "FAILED"), (1, "FINISHED")]


def test_actor_calls_and_streams_are_listed(ray_start):
    @ray.remote
    class A:
        def f(self):
            return 1

        def g(self):
            yield 1

    a = A.remote()
    ref = a.f.remote()
    ray.get(ref)
    gen = a.g.remote()
    list(gen)
    _wait_state(ref.task_id().hex(), "FINISHED")
    rows = _wait_state(gen.task_id().hex(), "FINISHED")
    assert rows[-1].name == "A.g"


def test_cancelled_task_error_type(ray_start, tmp_path):
    ref = wait_for.remote(str(tmp_path / "never"))
    _wait_state(ref.task_id().hex(), "RUNNING")
    ray.cancel(ref)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(ref, timeout=30)
    rows = _wait_state(ref.task_id().hex(), "FAILED")
    assert rows[-1].error_type == "TASK_CANCELLED"


def test_filters_and_limit(ray_start):
    refs = [echo.remote(i) for i in range(5)]
    ray.get(refs)
    for r in refs:
        _wait_state(r.task_id().hex(), "FINISHED")
    finished = list_tasks(filters=[("state", "=", "FINISHED"), ("name", "=", "echo")], limit=None)
    assert {r.task_id().hex() for r in refs} <= {t.task_id for t in finished}
    assert all(t["state"] == "FINISHED" for t in finished)
    assert len(list_tasks(limit=2)) <= 2
    assert not any(t.state == "FINISHED" for t in list_tasks(filters=[("state", "!=", "FINISHED")], limit=None))


def test_bad_inputs(ray_start):
    with pytest.raises(ValueError, match="filter"):
        list_tasks(filters=[("state", "RUNNING")])
    with pytest.raises(ValueError, match="predicate"):
        list_tasks(filters=[("state", ">", "RUNNING")])
    with pytest.raises(ValueError, match="cannot filter"):
        echo.remote(1) and list_tasks(filters=[("nope", "=", 1)])
    with pytest.raises(ValueError, match="limit"):
        list_tasks(limit=-1)
    with pytest.raises(ValueError, match="HOST:PORT"):
        list_tasks(address="nohostport")
