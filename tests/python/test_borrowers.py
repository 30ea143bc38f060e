"""Distributed reference counting: refs that leave their owner inside task
arguments, objects and return values stay alive while any process holds them
(borrowers), and are freed once the last holder anywhere drops them."""
import os
import signal
import time

import numpy as np
import pytest

import lumos as ray
from lumos import exceptions
from lumos._private import worker as _worker

pytestmark = pytest.mark.timeout(60)


def _owned_row(ref):
    for row in _worker.core_worker().reference_table():
        if row["object_id"] == ref.binary():
            return row
    return None


def _wait_freed(oid, timeout=10.0):
    """Polls the driver's reference table until the object `oid` is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(r["object_id"] == oid for r in _worker.core_worker().reference_table()):
            return True
        time.sleep(0.05)
    return False


@ray.remote
class Holder:
    def __init__(self):
        self.kept = []

    def keep(self, refs):
        self.kept.extend(refs)
        return len(self.kept)

    def read_sum(self):
        return float(sum(ray.get(r).sum() for r in self.kept))

    def drop(self):
        self.kept.clear()
        return True

    def pid(self):
        return os.getpid()

    def make(self, n):
        return [ray.put(np.full(n, 2.0))]

    def echo_nested(self, refs):
        return refs


@ray.remote
def pass_on(refs, holder):
    return ray.get(holder.keep.remote(refs))


@ray.remote
def pass_on_twice(refs, holder):
    return ray.get(pass_on.remote(refs, holder))


def test_ref_stored_by_actor_outlives_driver_ref(ray_start):
    holder = Holder.remote()
    ref = ray.put(np.ones(200_000))
    oid = ref.binary()
    assert ray.get(holder.keep.remote([ref])) == 1
    del ref
    time.sleep(0.2)
    assert _wait_freed(oid, timeout=0.3) is False  # the actor still borrows it
    assert ray.get(holder.read_sum.remote()) == 200_000.0
    assert ray.get(holder.drop.remote())
    assert _wait_freed(oid)
    ray.kill(holder)


def test_ref_passed_through_three_workers(ray_start):
    holder = Holder.remote()
    ref = ray.put(np.ones(1000))
    oid = ref.binary()
    assert ray.get(pass_on_twice.remote([ref], holder)) == 1
    del ref
    time.sleep(0.2)
    assert _wait_freed(oid, timeout=0.3) is False
    assert ray.get(holder.read_sum.remote()) == 1000.0
    ray.get(holder.drop.remote())
    assert _wait_freed(oid)
    ray.kill(holder)


def test_ref_owned_by_actor_returned_in_a_list(ray_start):
    holder = Holder.remote()
    inner = ray.get(holder.make.remote(50_000))[0]
    # The actor's own ref went out of scope when make() returned; the driver's
    # registration keeps the object.
    time.sleep(0.2)
    assert float(ray.get(inner).sum()) == 100_000.0
    row = _owned_row(inner)
    assert row is not None and not row["owned"]
    ray.kill(holder)


def test_caller_owned_ref_returned_by_borrower(ray_start):
    holder = Holder.remote()
    ref = ray.put("payload")
    oid = ref.binary()
    ray.get(holder.keep.remote([ref]))
    back = ray.get(holder.echo_nested.remote([ref]))
    del ref
    ray.get(holder.drop.remote())
    assert ray.get(back[0]) == "payload"
    del back
    assert _wait_freed(oid)
    ray.kill(holder)


def test_borrower_death_releases_its_refs(ray_start):
    holder = Holder.remote()
    ref = ray.put(np.ones(1000))
    oid = ref.binary()
    ray.get(holder.keep.remote([ref]))
    del ref
    pid = ray.get(holder.pid.remote())
    os.kill(pid, signal.SIGKILL)
    assert _wait_freed(oid)


def test_owner_death_raises_owner_died_error(ray_start):
    holder = Holder.remote()
    inner = ray.get(holder.make.remote(10))[0]
    ray.kill(holder)
    time.sleep(0.3)
    with pytest.raises(exceptions.OwnerDiedError) as info:
        ray.get(inner, timeout=10)
    assert isinstance(info.value, exceptions.ObjectLostError)
    assert "owner" in str(info.value)


def test_out_of_band_pickle_pins_the_object(ray_start):
    import pickle
    ref = ray.put(123)
    data = pickle.dumps(ref)
    assert _owned_row(ref)["pinned_forever"]
    again = pickle.loads(data)
    assert ray.get(again) == 123


def _wait_pid_gone(pid, timeout=10.0):
    import psutil
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@ray.remote
def call_pid(handle):
    return ray.get(handle.pid.remote())


def test_actor_lent_to_a_task_ends_with_its_last_handle(ray_start):
    # The seeds' f.remote(counter) pattern: the task's borrowed handle is gone
    # when it returns, so dropping the driver's handle ends the actor.
    h = Holder.remote()
    pid = ray.get(h.pid.remote())
    assert ray.get(call_pid.remote(h)) == pid
    del h
    assert _wait_pid_gone(pid)


def test_actor_handle_kept_by_another_actor_keeps_it_alive(ray_start):
    keeper = Holder.remote()
    target = Holder.remote()
    pid = ray.get(target.pid.remote())
    ray.get(keeper.keep.remote([target]))
    del target
    time.sleep(0.5)
    assert not _wait_pid_gone(pid, timeout=0.2)
    ray.get(keeper.drop.remote())
    assert _wait_pid_gone(pid)
    ray.kill(keeper)
