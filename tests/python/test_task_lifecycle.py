"""Retries, retry_exceptions, cancellation, dynamic generators, asyncio (issue 6 parts)."""
import asyncio
import os
import signal
import time

import psutil
import pytest

import lumos as ray
from lumos import exceptions

pytestmark = pytest.mark.timeout(60)


@ray.remote
def crash_until(path, times):
    """Kills its worker the first `times` runs (counted in a file), then answers."""
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(str(n + 1))
    if n < times:
        os._exit(1)
    return n


def test_worker_death_is_retried(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    assert ray.get(crash_until.remote(marker, 2), timeout=30) == 2


def test_retries_exhausted_gives_worker_crashed(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    with pytest.raises(exceptions.WorkerCrashedError) as info:
        ray.get(crash_until.options(max_retries=1).remote(marker, 5), timeout=30)
    assert "max_retries" in str(info.value)
    assert open(marker).read() == "2"  # first run + one retry


def test_worker_crash_message_names_exit_code_and_signal(ray_start):

    @ray.remote(max_retries=0)
    def die():
        os._exit(7)

    @ray.remote(max_retries=0)
    def killed():
        os.kill(os.getpid(), signal.SIGKILL)
    with pytest.raises(exceptions.WorkerCrashedError, match="exit code 7"):
        ray.get(die.remote(), timeout=30)
    with pytest.raises(exceptions.WorkerCrashedError, match="signal 9") as info:
        ray.get(killed.remote(), timeout=30)
    # A SIGKILL from a process is never blamed on the OOM killer: with the
    # kernel log or a cgroup counter readable lumos knows it was not, else it hedges.
    text = str(info.value)
    assert "killed by the kernel's OOM killer" not in text
    assert "not the OOM killer" in text or "often means the kernel's OOM killer" in text


def _v1_memory_cgroup():
    """This process's cgroup v1 memory directory if it can hold a child cgroup, else None."""
    try:
        lines = open("/proc/self/cgroup").read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            d = "/sys/fs/cgroup/memory" + path.rstrip("/")
            return d if os.access(d, os.W_OK) and os.path.exists(d + "/memory.limit_in_bytes") else None
    return None


@pytest.mark.timeout(90)
def test_oom_killed_worker_is_named(ray_start, tmp_path):
    """A worker moved into a 64 MiB memory cgroup allocates 512 MiB: the
    kernel's OOM killer kills it (only it: the limit bounds the test, the
    machine's memory is never at risk), and the error says so."""
    parent = _v1_memory_cgroup()
    if parent is None:
        pytest.skip("needs a writable cgroup v1 memory controller (root)")
    box = os.path.join(parent, "lumos_oom_test_%d" % os.getpid())
    try:
        os.mkdir(box)
    except OSError as e:
        pytest.skip("cannot create a memory cgroup: %s" % e)
    go = str(tmp_path / "go")
    pid = None
    try:
        with open(box + "/memory.limit_in_bytes", "w") as f:
            f.write(str(64 << 20))
        if os.path.exists(box + "/memory.memsw.limit_in_bytes"):   # no escape into swap
            with open(box + "/memory.memsw.limit_in_bytes", "w") as f:
                f.write(str(64 << 20))

        @ray.remote(max_retries=0)
        def hog(path):
            yield os.getpid()
            while not os.path.exists(path):
                time.sleep(0.01)
            blob = bytearray(b"\x01") * (512 << 20)   # touches every page
            yield len(blob)

        g = hog.remote(go)
        pid = ray.get(next(g), timeout=30)
        with open(box + "/cgroup.procs", "w") as f:
            f.write(str(pid))
        open(go, "w").close()
        with pytest.raises(exceptions.WorkerCrashedError) as info:
            ray.get(next(g), timeout=60)
        text = str(info.value)
        assert "signal 9" in text
        if "often means" in text:
            pytest.skip("neither the kernel log nor the cgroup's counter was readable: %s" % text)
        assert "killed by the kernel's OOM killer" in text, text
    finally:
        if pid is not None and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)   # the OOM killer did not: empty the cgroup
        deadline = time.monotonic() + 10
        while True:
            try:
                os.rmdir(box)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def test_max_retries_zero_fails_at_once(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    with pytest.raises(exceptions.WorkerCrashedError):
        ray.get(crash_until.options(max_retries=0).remote(marker, 1), timeout=30)
    assert open(marker).read() == "1"


@ray.remote
def raise_until(path, times, exc_name):
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(str(n + 1))
    if n < times:
        raise {"ValueError": ValueError, "KeyError": KeyError}[exc_name]("attempt %d" % n)
    return n


def test_retry_exceptions_true(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    ref = raise_until.options(max_retries=3, retry_exceptions=True).remote(marker, 2, "ValueError")
    assert ray.get(ref, timeout=30) == 2


def test_retry_exceptions_allowlist(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    ref = raise_until.options(max_retries=3, retry_exceptions=[ValueError]).remote(marker, 1, "ValueError")
    assert ray.get(ref, timeout=30) == 1
    other = str(tmp_path / "other")
    ref = raise_until.options(max_retries=3, retry_exceptions=[ValueError]).remote(other, 1, "KeyError")
    with pytest.raises(KeyError):
        ray.get(ref, timeout=30)
    assert open(other).read() == "1"  # not retried


def test_application_errors_not_retried_by_default(ray_start, tmp_path):
    marker = str(tmp_path / "runs")
    with pytest.raises(ValueError):
        ray.get(raise_until.options(max_retries=3).remote(marker, 1, "ValueError"), timeout=30)
    assert open(marker).read() == "1"


@ray.remote
def sleeper():
    time.sleep(10e6)


def test_cancel_running_task_interrupts_sleep(ray_start):
    ref = sleeper.remote()
    time.sleep(0.5)
    ray.cancel(ref)
    start = time.monotonic()
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(ref, timeout=20)
    assert time.monotonic() - start < 5


def test_cancel_force_kills_worker(ray_start):
    ref = sleeper.remote()
    time.sleep(0.5)
    ray.cancel(ref, force=True)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(ref, timeout=20)


def test_cancel_queued_task(ray_start_fn):
    ray_start_fn(num_cpus=1)
    blocker = sleeper.remote()
    time.sleep(0.3)
    queued = sleeper.remote()
    ray.cancel(queued)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(queued, timeout=20)
    ray.cancel(blocker, force=True)


def test_cancel_finished_task_is_noop(ray_start):
    @ray.remote
    def quick():
        return 7
    ref = quick.remote()
    assert ray.get(ref) == 7
    ray.cancel(ref)
    assert ray.get(ref) == 7


def test_cancelled_task_not_retried(ray_start, tmp_path):
    marker = str(tmp_path / "runs")

    @ray.remote(max_retries=3)
    def count_and_sleep(path):
        n = int(open(path).read()) if os.path.exists(path) else 0
        open(path, "w").write(str(n + 1))
        time.sleep(10e6)
    ref = count_and_sleep.remote(marker)
    time.sleep(0.5)
    ray.cancel(ref, force=True)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(ref, timeout=20)
    time.sleep(0.5)
    assert open(marker).read() == "1"


def test_cancel_bad_input(ray_start):
    with pytest.raises(TypeError):
        ray.cancel("not a ref")


def test_keyboard_interrupt_in_task_is_cancelled_error(ray_start):
    @ray.remote
    def interrupt():
        raise KeyboardInterrupt()
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(interrupt.remote(), timeout=20)


def test_cancel_while_arguments_load(ray_start, tmp_path):
    # The cancel lands while the worker unpickles the argument, before the
    # task's body runs: still a TaskCancelledError, never a system error.
    marker = str(tmp_path / "loading")

    class SlowToLoad:
        def __init__(self, path):
            self.path = path

        def __setstate__(self, state):
            open(state["path"], "w").close()
            time.sleep(10e6)

    @ray.remote
    def body_never_runs(x):
        return "ran"
    ref = body_never_runs.remote(SlowToLoad(marker))
    deadline = time.monotonic() + 20
    while not os.path.exists(marker):
        assert time.monotonic() < deadline, "the argument never started loading"
        time.sleep(0.01)
    ray.cancel(ref)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(ref, timeout=20)


def test_dynamic_generator(ray_start):
    @ray.remote(num_returns="dynamic")
    def gen(n):
        for i in range(n):
            yield i * 10
    g = ray.get(gen.remote(4))
    assert [ray.get(r) for r in g] == [0, 10, 20, 30]

    @ray.remote
    def total(refs):
        return sum(ray.get(list(refs)))
    assert ray.get(total.remote(g)) == 60


def test_dynamic_generator_error_is_last_ref(ray_start):
    @ray.remote(num_returns="dynamic")
    def gen():
        yield 1
        raise ValueError("mid-way")
    refs = list(ray.get(gen.remote()))
    assert ray.get(refs[0]) == 1
    with pytest.raises(ValueError):
        ray.get(refs[-1])


def test_bad_retry_options(ray_start):
    @ray.remote
    def f():
        return 1
    with pytest.raises(ValueError):
        f.options(max_retries=-5)
    with pytest.raises(ValueError):
        f.options(max_retries="3")
    with pytest.raises(ValueError):
        f.options(retry_exceptions=[42])
    with pytest.raises(ValueError):
        f.options(num_returns="streams")


def test_await_ref_and_future(ray_start):
    @ray.remote
    def f(x):
        return x + 1

    async def main():
        return await asyncio.gather(f.remote(1), f.remote(2))
    assert asyncio.run(main()) == [2, 3]
    assert f.remote(41).future().result(timeout=20) == 42
