"""Object store under user mistakes and crashes: a value that cannot be
pickled leaves nothing in the store; a reader that dies while it maps an
object releases its pin, so the object is freed when its owner drops it."""
import os
import threading
import time

import numpy as np
import pytest

import lumos as ray
from lumos._private import worker as _worker

pytestmark = pytest.mark.timeout(60)


def _stats(objects=False):
    return _worker.core_worker().store_stats(include_objects=objects)


def test_unpicklable_put_leaves_nothing_in_the_store(ray_start):
    before = _stats()
    value = {"big": np.zeros(1_000_000), "lock": threading.Lock()}
    with pytest.raises(TypeError, match="lock"):
        ray.put(value)
    after = _stats()
    assert after["num_objects"] == before["num_objects"]
    assert after["used"] == before["used"]
    assert ray.get(ray.put(np.ones(10)))[0] == 1.0  # the store still works


@ray.remote
class Reader:
    def hold_and_die(self, refs):
        self.view = ray.get(refs[0])  # a zero-copy view: pins the object
        os._exit(1)

    def pid(self):
        return os.getpid()


def test_reader_crash_releases_its_pin(ray_start):
    ref = ray.put(np.ones(500_000))
    oid = ref.hex()
    reader = Reader.remote()
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(reader.hold_and_die.remote([ref]))

    def pins():
        for o in _stats(objects=True)["objects"]:
            if o["object_id"] == oid:
                return o["pins"]
        return None

    deadline = time.monotonic() + 10
    while pins() not in (0, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pins() == 0
    del ref
    deadline = time.monotonic() + 10
    while pins() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pins() is None  # freed
