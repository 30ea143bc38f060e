"""Semantics where lumos used to differ from Ray 2.60 (issue 11): nested
exception types, cancel, OwnerDiedError, wait() validation, actor retries
and exits, async __init__, unschedulable tasks, the exception classes and
`lumos status`."""
import asyncio
import os
import pickle
import re
import sys
import time

import numpy as np
import pytest

import lumos as ray
from lumos import exceptions
from lumos.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from conftest import run_cli


@pytest.fixture
def cluster(ray_start):
    """The module's shared 2-CPU cluster (restarted after tests that need
    their own, which ray_start_fn pauses it for)."""
    return ray_start


# ---------------------------------------------------------------- exceptions

def test_nested_exception_keeps_its_type(cluster):
    @ray.remote
    def inner():
        raise KeyError("deep")

    @ray.remote
    def middle():
        return ray.get(inner.remote())

    @ray.remote
    def outer():
        return ray.get(middle.remote())

    with pytest.raises(KeyError) as info:
        ray.get(outer.remote())
    err = info.value
    assert isinstance(err, exceptions.RayTaskError)
    assert type(err.cause) is KeyError and err.cause.args == ("deep",)
    # Every level's traceback is kept, the innermost last.
    text = str(err)
    assert text.index("outer") < text.index("middle") < text.index("inner")


class NeedsTwoArgs(Exception):
    def __init__(self, a, b):
        super().__init__("%s-%s" % (a, b))   # its pickle cannot be loaded again


def test_unpicklable_exception_becomes_unserializable_exception(cluster):
    @ray.remote
    def raises():
        raise NeedsTwoArgs(1, 2)

    with pytest.raises(exceptions.UnserializableException) as info:
        ray.get(raises.remote())
    assert isinstance(info.value, exceptions.RayTaskError)
    assert "NeedsTwoArgs: 1-2" in str(info.value)


def test_exception_classes_have_rays_bases():
    e = exceptions
    assert issubclass(e.ActorUnavailableError, e.RayActorError)
    assert issubclass(e.ActorAlreadyExistsError, e.RayError) and issubclass(e.ActorAlreadyExistsError, ValueError)
    assert issubclass(e.ObjectFetchTimedOutError, e.ObjectLostError)
    assert issubclass(e.ReferenceCountingAssertionError, e.ObjectLostError)
    assert issubclass(e.ReferenceCountingAssertionError, AssertionError)
    for name in ("ActorUnschedulableError", "TaskUnschedulableError", "ActorPlacementGroupRemoved",
                 "AsyncioActorExit", "LocalRayletDiedError", "ObjectRefStreamEndOfStreamError", "OutOfDiskError",
                 "RpcError", "UnserializableException", "AuthenticationError", "ActorHandleNotFoundError"):
        assert issubclass(getattr(e, name), e.RayError), name
        assert name in e.__all__
    err = pickle.loads(pickle.dumps(e.RpcError("no route", rpc_code=14)))
    assert err.rpc_code == 14 and str(err) == "no route"


def test_gcs_call_after_the_gcs_died_is_rpc_error(ray_start_fn):
    from lumos import _raylet
    from lumos._private import worker as _worker
    # A short reconnect window: the call waits that long for a GCS restart first.
    ctx = ray_start_fn(num_cpus=1, _system_config={"gcs_reconnect_timeout_s": 2})
    gcs = _raylet.GcsClient(ctx["gcs_address"], timeout_s=10)
    assert gcs.kv_get("compat", "missing") is None
    proc = _worker.global_state().node.procs["gcs_server"]   # this test's own GCS
    proc.kill()
    proc.wait(timeout=10)
    with pytest.raises(exceptions.RpcError) as info:
        gcs.kv_get("compat", "missing")
    assert info.value.rpc_code in (14, 4, None) and ctx["gcs_address"] in str(info.value)


def test_duplicate_actor_name_raises_actor_already_exists(cluster):
    @ray.remote
    class Named:
        def ping(self):
            return 1

    a = Named.options(name="compat-dup").remote()
    assert ray.get(a.ping.remote()) == 1
    with pytest.raises(exceptions.ActorAlreadyExistsError, match="compat-dup"):
        Named.options(name="compat-dup").remote()
    with pytest.raises(ValueError):   # what older code catches
        Named.options(name="compat-dup").remote()
    ray.kill(a)


def test_handle_from_an_earlier_session_is_not_found(ray_start_fn):
    ray_start_fn(num_cpus=1)

    @ray.remote
    class Old:
        def ping(self):
            return 1

    a = Old.remote()
    assert ray.get(a.ping.remote()) == 1
    ray_start_fn(num_cpus=1)   # shutdown() and a new cluster
    with pytest.raises(exceptions.ActorHandleNotFoundError, match="earlier lumos session"):
        a.ping.remote()
    with pytest.raises(ValueError, match="earlier lumos session"):   # also a ValueError
        ray.kill(a)
    b = Old.remote()   # a handle of this session works
    assert ray.get(b.ping.remote()) == 1


def test_hard_affinity_to_missing_node_is_unschedulable(cluster):
    @ray.remote
    def f():
        return 1

    strategy = NodeAffinitySchedulingStrategy("cd" * 16, soft=False)
    ref = f.options(scheduling_strategy=strategy).remote()   # like Ray: no error yet
    with pytest.raises(exceptions.TaskUnschedulableError, match="not in the cluster"):
        ray.get(ref, timeout=10)
    a, b = f.options(scheduling_strategy=strategy, num_returns=2).remote()
    for r in (a, b):
        with pytest.raises(exceptions.TaskUnschedulableError):
            ray.get(r, timeout=10)

    @ray.remote
    class A:
        def ping(self):
            return 1

    a = A.options(scheduling_strategy=strategy).remote()   # like Ray: a handle, no error yet
    with pytest.raises(exceptions.ActorUnschedulableError, match="not in the cluster"):
        ray.get(a.ping.remote(), timeout=10)
    ray.kill(a)   # nothing to kill, no error


# ---------------------------------------------------------------- cancel

def test_cancel_task_waiting_for_an_argument(cluster):
    @ray.remote
    def slow(t):
        time.sleep(t)
        return t

    @ray.remote
    def consume(x):
        return x + 1

    dep = slow.remote(1.5)
    waiting = consume.remote(dep)
    ray.cancel(waiting)
    start = time.time()
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(waiting, timeout=10)
    assert time.time() - start < 1.0   # at once, not when the argument arrives
    assert ray.get(dep, timeout=20) == 1.5   # the argument arriving later harms nothing
    time.sleep(0.2)
    assert ray.get(consume.remote(dep)) == 2.5
    from lumos.util.state import list_tasks
    rows = [t for t in list_tasks() if t.task_id == waiting.task_id().hex()]
    assert [(t.state, t.error_type) for t in rows] == [("FAILED", "TASK_CANCELLED")]


def test_force_cancel_of_any_actor_call_is_value_error(cluster):
    @ray.remote
    class Sync:
        def run(self, t):
            time.sleep(t)
            return "ran"

    @ray.remote
    class Async:
        async def run(self, t):
            await asyncio.sleep(t)
            return "ran"

    for cls in (Sync, Async):
        a = cls.remote()
        running, queued = a.run.remote(0.5), a.run.remote(0.1)
        for ref in (running, queued):
            with pytest.raises(ValueError, match="force=True is not supported for actor calls"):
                ray.cancel(ref, force=True)
        assert ray.get([running, queued], timeout=30) == ["ran", "ran"]   # nothing was cancelled
        ray.kill(a)


def test_cancelled_async_actor_call_is_task_error_and_cancelled(cluster):
    @ray.remote
    class Sleeper:
        async def nap(self):
            await asyncio.sleep(60)

        async def ping(self):
            return "pong"

    s = Sleeper.remote()
    assert ray.get(s.ping.remote()) == "pong"
    ref = s.nap.remote()
    time.sleep(0.3)
    ray.cancel(ref)
    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(ref, timeout=20)
    assert isinstance(info.value, exceptions.TaskCancelledError)
    assert ray.get(s.ping.remote()) == "pong"   # the actor lives on
    ray.kill(s)


def test_cancelled_async_call_that_swallows_the_cancel_is_still_cancelled(cluster):
    # Ray's documented example: the coroutine catches CancelledError, yet get raises.
    @ray.remote
    class Swallower:
        def __init__(self):
            self.saw = False
            self.started = False

        async def f(self):
            self.started = True
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.saw = True
            return "returned normally"

        async def saw_cancel(self):
            return self.saw

        async def is_started(self):
            return self.started

    a = Swallower.remote()
    ref = a.f.remote()
    deadline = time.monotonic() + 30  # cancel it while it runs, not while it is queued
    while not ray.get(a.is_started.remote()) and time.monotonic() < deadline:
        time.sleep(0.02)
    ray.cancel(ref)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(ref, timeout=20)
    assert ray.get(a.saw_cancel.remote()) is True

    @ray.remote(max_concurrency=1)
    class Busy:
        async def hold(self):
            await asyncio.sleep(2)
            return "held"

        async def queued(self):
            return "ran"

    b = Busy.remote()
    first = b.hold.remote()
    time.sleep(0.3)
    waiting = b.queued.remote()   # waits for the actor's only slot
    time.sleep(0.3)
    ray.cancel(waiting)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(waiting, timeout=20)
    assert ray.get(first, timeout=20) == "held"


# ---------------------------------------------------------------- objects

def test_owner_died_even_with_a_cached_copy(cluster):
    @ray.remote
    class Owner:
        def make(self, big):
            return [ray.put(np.ones(200_000) if big else "small")]

    for big in (False, True):
        owner = Owner.remote()
        [inner] = ray.get(owner.make.remote(big))
        ray.get(inner)   # a copy is now cached in this process / the local store
        ray.kill(owner)
        deadline = time.time() + 20
        while True:
            try:
                ray.get(inner, timeout=10)
            except exceptions.OwnerDiedError:
                break
            assert time.time() < deadline, "get kept returning the cached value after the owner died"
            time.sleep(0.05)


def test_wait_validation(cluster):
    x = ray.put(1)
    assert ray.wait([]) == ([], [])
    assert ray.wait([], num_returns=3, timeout=0) == ([], [])
    with pytest.raises(ValueError, match="unique"):
        ray.wait([x, x])
    with pytest.raises(ValueError):
        ray.wait([x], num_returns=2)
    with pytest.raises(ValueError):
        ray.wait([x], num_returns=0)
    with pytest.raises(TypeError):
        ray.wait(x)
    with pytest.raises(TypeError):
        ray.wait([x, 1])
    with pytest.raises(TypeError):
        ray.wait("not a list")
    with pytest.raises(TypeError, match="list"):
        ray.wait((x,))   # Ray takes a list only
    assert ray.wait([x]) == ([x], [])


def test_put_on_a_full_spill_disk_is_out_of_disk(ray_start_fn):
    """A 4 MiB tmpfs as the spill directory (root only; skipped elsewhere)."""
    import subprocess
    import tempfile
    mnt = tempfile.mkdtemp(prefix="ltdisk", dir="/tmp")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], capture_output=True).returncode:
        os.rmdir(mnt)
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        mb = 1 << 20
        ray_start_fn(num_cpus=1, object_store_memory=100 * mb,
                     object_spill_config={"type": "filesystem", "params": {"directory_path": mnt}})
        keep = [ray.put(np.full(40 * mb, i, dtype=np.uint8)) for i in range(2)]
        with pytest.raises(exceptions.OutOfDiskError, match="No space left on device"):
            ray.put(np.zeros(40 * mb, dtype=np.uint8))   # needs a 40 MiB spill: the disk has 4
        assert [ray.get(r)[0] for r in keep] == [0, 1]
        del keep
        ray.shutdown()
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        os.rmdir(mnt)


# ---------------------------------------------------------------- actors

def test_max_task_retries_minus_one_retries_a_call_whose_process_died(cluster):
    @ray.remote(max_restarts=-1, max_task_retries=-1)
    class Victim:
        def pid(self):
            return os.getpid()

        def slow(self, t):
            time.sleep(t)
            return "finished"

    v = Victim.remote()
    for _ in range(2):   # twice: -1 is not a count that runs out
        pid = ray.get(v.pid.remote(), timeout=30)
        ref = v.slow.remote(2)
        time.sleep(0.5)
        os.kill(pid, 9)
        assert ray.get(ref, timeout=60) == "finished"
    ray.kill(v)


def test_call_running_when_a_restartable_actor_died_is_unavailable(cluster):
    @ray.remote(max_restarts=1)
    class Fragile:
        def pid(self):
            return os.getpid()

        def slow(self):
            time.sleep(30)

    f = Fragile.remote()
    pid = ray.get(f.pid.remote())
    ref = f.slow.remote()
    time.sleep(0.5)
    os.kill(pid, 9)
    # Like Ray: the actor may come back (it restarts), the call may or may not have run.
    with pytest.raises(exceptions.ActorUnavailableError, match="restarting"):
        ray.get(ref, timeout=30)
    assert ray.get(f.pid.remote(), timeout=30) != pid
    ray.kill(f)


def test_error_objects_map_to_rays_classes():
    from lumos._private import serialization as ser
    owner_freed = ser.error_from(ser.META_OBJECT_LOST, b"object ab is lost: its owner has already freed it")
    assert isinstance(owner_freed, exceptions.ReferenceCountingAssertionError)
    fetch = ser.error_from(ser.META_OBJECT_LOST, b"fetching object ab from node cd failed: timed out while "
                                                   b"reading a frame")
    assert isinstance(fetch, exceptions.ObjectFetchTimedOutError)
    raylet_gone = ser.error_from(ser.META_SYSTEM_ERROR, b"the local raylet is gone (connection reset)")
    assert isinstance(raylet_gone, exceptions.LocalRayletDiedError)
    group_removed = ser.error_from(ser.META_ACTOR_DIED, b"The actor A died: its placement group 0f was removed")
    assert isinstance(group_removed, exceptions.ActorPlacementGroupRemoved)
    assert isinstance(group_removed, exceptions.ActorDiedError)
    assert isinstance(ser.error_from(ser.META_ACTOR_UNAVAILABLE, b"restarting"), exceptions.ActorUnavailableError)
    disk = exceptions.store_full_error("cannot spill x: write failed: No space left on device")
    assert isinstance(disk, exceptions.OutOfDiskError) and isinstance(disk, exceptions.ObjectStoreFullError)
    full = exceptions.store_full_error("the object store cannot hold 5 bytes")
    assert type(full) is exceptions.ObjectStoreFullError


def test_sys_exit_in_method_restarts_and_retries(cluster, tmp_path):
    @ray.remote(max_restarts=1, max_task_retries=1)
    class Quitter:
        def pid(self):
            return os.getpid()

        def quit_once(self, marker):
            if not os.path.exists(marker):
                open(marker, "w").close()
                sys.exit(3)
            return ray.get_runtime_context().was_current_actor_reconstructed

    q = Quitter.remote()
    pid = ray.get(q.pid.remote())
    # The first attempt exits the process; the call runs again on the restarted actor.
    assert ray.get(q.quit_once.remote(str(tmp_path / "marker")), timeout=60) is True
    assert ray.get(q.pid.remote()) != pid
    ray.kill(q)


def test_exit_actor_stays_intentional(cluster):
    @ray.remote(max_restarts=2)
    class Leaver:
        def leave(self):
            ray.actor.exit_actor()

        def ping(self):
            return 1

    @ray.remote(max_restarts=2)
    class AsyncLeaver:
        async def leave(self):
            try:
                ray.actor.exit_actor()
            except exceptions.AsyncioActorExit:
                raise   # in an async actor exit_actor() raises AsyncioActorExit, as in Ray

        async def ping(self):
            return 1

    for cls in (Leaver, AsyncLeaver):
        a = cls.remote()
        assert ray.get(a.ping.remote()) == 1
        with pytest.raises(exceptions.RayActorError):
            ray.get(a.leave.remote(), timeout=20)
        with pytest.raises(exceptions.RayActorError):   # not restarted despite max_restarts
            ray.get(a.ping.remote(), timeout=20)


def test_async_init(cluster):
    @ray.remote
    class AsyncInit:
        async def __init__(self, value):
            await asyncio.sleep(0.01)
            self.loop = asyncio.get_running_loop()
            self.value = value

        async def get(self):
            return self.value, asyncio.get_running_loop() is self.loop

    a = AsyncInit.remote(42)
    assert ray.get(a.get.remote(), timeout=20) == (42, True)   # __init__ ran on the actor's loop

    @ray.remote
    class AsyncInitFails:
        async def __init__(self):
            raise ValueError("bad init")

        async def get(self):
            return 1

    b = AsyncInitFails.remote()
    with pytest.raises(exceptions.ActorDiedError, match="bad init"):
        ray.get(b.get.remote(), timeout=20)
    ray.kill(a)


# ---------------------------------------------------------------- lumos status

def test_status_prints_usage_like_ray_status(cluster):
    from lumos.scripts.cli import format_memory, format_usage
    assert format_memory(0) == "0B"
    assert format_memory(512) == "512B"
    assert format_memory(17727463424) == "16.51GiB"
    assert format_memory(3 * 2**20) == "3.00MiB"
    assert format_usage("CPU", 0, 1) == " 0.0/1.0 CPU"
    assert format_usage("CPU", 0.5, 4) == " 0.5/4.0 CPU"
    assert format_usage("memory", 0, 17727463424) == " 0B/16.51GiB memory"
    assert format_usage("CPU", 2, 4, 1, 2) == " 2.0/4.0 CPU (1.0 used of 2.0 reserved in placement groups)"

    env = dict(os.environ)
    env.setdefault("LUMOS_AUTH_TOKEN", _cluster_token(cluster["session_dir"]))
    out = run_cli(["status", "--address", cluster["gcs_address"]], env)
    assert out.returncode == 0, out.stderr
    usage = out.stdout.split("Usage:")[1].split("Demands:")[0]
    assert re.search(r"^ \d+\.\d+/2\.0 CPU$", usage, re.M), out.stdout
    assert re.search(r"^ \S+B/\d+\.\d\dGiB memory$", usage, re.M), out.stdout
    assert re.search(r"^ \S+B/\S+B object_store_memory$", usage, re.M), out.stdout


def _cluster_token(session_dir):
    """The token the CLI presents to the GCS (the session's auth_token file), or ""."""
    try:
        with open(os.path.join(session_dir, "auth_token")) as f:
            return f.read().strip()
    except OSError:
        return ""
