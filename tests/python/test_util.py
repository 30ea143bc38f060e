"""lumos.util helpers."""
import threading

import pytest

import lumos as ray

pytestmark = pytest.mark.timeout(30)


def test_inspect_serializability_names_the_culprit(ray_start):
    lock = threading.Lock()

    def uses_lock():
        return lock
    ok, failures = ray.util.inspect_serializability(uses_lock, name="uses_lock")
    assert not ok
    assert ("lock", "lock") in failures
    assert ray.util.inspect_serializability({"a": [1, 2]}, name="d") == (True, set())


def test_list_named_actors(ray_start):
    @ray.remote
    class Named:
        def ping(self):
            return 1
    a = Named.options(name="util_test_actor").remote()
    ray.get(a.ping.remote())
    assert "util_test_actor" in ray.util.list_named_actors()
    ray.kill(a)


def test_placement_group_is_exported(ray_start):
    pg = ray.util.placement_group([{"CPU": 1}])
    assert pg.wait(30)
    ray.util.remove_placement_group(pg)
