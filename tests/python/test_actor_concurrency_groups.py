"""Actor concurrency groups: @lumos.remote(concurrency_groups={...}),
@lumos.method(concurrency_group=...) and .options(concurrency_group=...), for
threaded and async actors: per-group limits, groups that do not block each
other, the default group (max_concurrency), order within a group of one, and
clear errors for unknown groups and bad values."""
import asyncio
import threading
import time

import pytest

import lumos as ray

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module", autouse=True)
def cluster(ray_start):
    yield ray_start


@ray.remote(concurrency_groups={"io": 2, "compute": 3})
class Threaded:
    def __init__(self):
        self.lock = threading.Lock()
        self.active = {}
        self.peak = {}
        self.event = threading.Event()
        self.log = []

    def _track(self, group, seconds):
        with self.lock:
            self.active[group] = self.active.get(group, 0) + 1
            self.peak[group] = max(self.peak.get(group, 0), self.active[group])
        time.sleep(seconds)
        with self.lock:
            self.active[group] -= 1
        return threading.current_thread().name

    @ray.method(concurrency_group="io")
    def io(self, seconds):
        return self._track("io", seconds)

    @ray.method(concurrency_group="compute")
    def compute(self, seconds):
        return self._track("compute", seconds)

    def default(self, seconds):
        return self._track("default", seconds)

    @ray.method(concurrency_group="io")
    def wait_event(self):
        return self.event.wait(30)

    @ray.method(concurrency_group="compute")
    def set_event(self):
        self.event.set()
        return True

    def append(self, i):
        self.log.append(i)
        return i

    def get_log(self):
        return list(self.log)

    def peaks(self):
        return dict(self.peak)

    def thread(self):
        return threading.current_thread().name

    @ray.method(concurrency_group="io")
    def gen(self, n):
        for i in range(n):
            yield i


def test_each_group_runs_up_to_its_limit():
    a = Threaded.remote()
    refs = [a.io.remote(0.4) for _ in range(6)] + [a.compute.remote(0.4) for _ in range(6)]
    refs += [a.default.remote(0.1) for _ in range(3)]
    ray.get(refs, timeout=60)
    peaks = ray.get(a.peaks.remote(), timeout=30)
    # The limit is a ceiling; with 0.4 s calls queued together it is reached.
    assert peaks == {"io": 2, "compute": 3, "default": 1}


def test_a_busy_group_does_not_block_another():
    a = Threaded.remote()
    waiting = a.wait_event.remote()      # holds an io thread until compute sets the event
    time.sleep(0.2)
    assert ray.get(a.set_event.remote(), timeout=30) is True
    assert ray.get(waiting, timeout=30) is True


def test_default_group_is_max_concurrency_and_keeps_order():
    a = Threaded.remote()
    assert ray.get([a.append.remote(i) for i in range(50)], timeout=30) == list(range(50))
    assert ray.get(a.get_log.remote(), timeout=30) == list(range(50))
    b = Threaded.options(max_concurrency=3).remote()
    ray.get([b.default.remote(0.4) for _ in range(6)], timeout=60)
    assert ray.get(b.peaks.remote(), timeout=30)["default"] == 3


def test_options_puts_one_call_in_another_group():
    a = Threaded.remote()
    assert ray.get(a.thread.remote(), timeout=30).startswith("lumos-actor-0")
    assert ray.get(a.thread.options(concurrency_group="compute").remote(), timeout=30).startswith(
        "lumos-actor-compute-")
    assert ray.get(a.io.options(concurrency_group="compute").remote(0), timeout=30).startswith(
        "lumos-actor-compute-")
    assert ray.get(a.io.remote(0), timeout=30).startswith("lumos-actor-io-")


def test_streaming_method_in_a_group():
    a = Threaded.remote()
    assert [ray.get(r, timeout=30) for r in a.gen.remote(5)] == list(range(5))


def test_groups_given_with_actor_options():
    @ray.remote
    class Plain:
        @ray.method(concurrency_group="slow")
        def where(self):
            return threading.current_thread().name

    with pytest.raises(ValueError, match="concurrency_group='slow' is not one of the actor's concurrency_groups"):
        Plain.remote()
    p = Plain.options(concurrency_groups={"slow": 1}).remote()
    assert ray.get(p.where.remote(), timeout=30).startswith("lumos-actor-slow-")


def test_unknown_or_bad_group_is_a_clear_error():
    a = Threaded.remote()
    with pytest.raises(ValueError, match=r"concurrency_group='nope' is not one of .*\(compute, io\)"):
        a.thread.options(concurrency_group="nope")
    with pytest.raises(ValueError, match="concurrency_group must be the name"):
        a.thread.options(concurrency_group=3)
    with pytest.raises(ValueError, match=r"concurrency_groups\['io'\] must be an int >= 1"):
        @ray.remote(concurrency_groups={"io": 0})
        class Bad:
            pass
    with pytest.raises(ValueError, match="must be a dict"):
        Threaded.options(concurrency_groups=["io"])
    assert ray.get(a.thread.remote(), timeout=30)   # the actor is unharmed


@ray.remote(concurrency_groups={"io": 2, "cpu": 1})
class Async:
    def __init__(self):
        self.active = {}
        self.peak = {}
        self.flag = threading.Event()

    async def _track(self, group, seconds):
        self.active[group] = self.active.get(group, 0) + 1   # one loop per group: no lock needed
        self.peak[group] = max(self.peak.get(group, 0), self.active[group])
        await asyncio.sleep(seconds)
        self.active[group] -= 1
        return threading.current_thread().name

    @ray.method(concurrency_group="io")
    async def io(self, seconds):
        return await self._track("io", seconds)

    async def default(self, seconds):
        return await self._track("default", seconds)

    @ray.method(concurrency_group="cpu")
    async def block(self):
        # Blocks its loop (no await): only the cpu group's loop stalls.
        return self.flag.wait(30)

    async def release(self):
        self.flag.set()
        return True

    @ray.method(concurrency_group="io")
    async def sleep_long(self):
        await asyncio.sleep(60)

    async def peaks(self):
        return dict(self.peak)


def test_async_groups_limits_and_own_loops():
    a = Async.remote()
    ray.get([a.io.remote(0.4) for _ in range(6)] + [a.default.remote(0.4) for _ in range(6)], timeout=60)
    peaks = ray.get(a.peaks.remote(), timeout=30)
    assert peaks["io"] == 2 and peaks["default"] == 6   # default: max_concurrency 1000
    assert ray.get(a.io.remote(0), timeout=30) != ray.get(a.default.remote(0), timeout=30)


def test_async_group_blocking_its_loop_leaves_others_running():
    a = Async.remote()
    blocked = a.block.remote()
    time.sleep(0.2)
    assert ray.get(a.release.remote(), timeout=30) is True
    assert ray.get(blocked, timeout=30) is True


def test_cancel_a_call_running_in_a_named_group():
    a = Async.remote()
    ref = a.sleep_long.remote()
    time.sleep(0.5)
    ray.cancel(ref)
    with pytest.raises((ray.exceptions.TaskCancelledError, ray.exceptions.RayTaskError)):
        ray.get(ref, timeout=30)
    assert ray.get(a.io.remote(0), timeout=30)
