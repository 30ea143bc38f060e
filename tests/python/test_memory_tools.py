"""Memory tooling: memory_summary()/`lumos memory` list every reference on
the node with size, owner, holder, reference type and location;
get_object_locations; the seeds' examples for them."""
import numpy as np
import pytest

import lumos as ray
from lumos._private import internal_api

pytestmark = pytest.mark.timeout(60)


@ray.remote
class Keeper:
    def __init__(self):
        self.refs = None

    def keep(self, refs):
        self.refs = refs
        return True


@ray.remote
def make_list():
    return [1, 2, 3]


def _rows_for(rows, ref):
    return [r for r in rows if r["object_id"] == ref.hex()]


def test_memory_table_reference_types(ray_start):
    big = ray.put(np.zeros(300_000))            # object store, local ref
    small = ray.put("tiny")                     # owner memory
    outer = ray.put([small])                    # small captured in outer
    keeper = Keeper.remote()
    ray.get(keeper.keep.remote([big]))          # the actor borrows big
    rows, store = internal_api.memory_table()
    big_rows = _rows_for(rows, big)
    kinds = {(r["process"], r["reference_type"]) for r in big_rows}
    assert ("driver", "LOCAL_REFERENCE") in kinds
    assert ("worker", "BORROWED") in kinds
    assert all(r["size"] >= 300_000 * 8 and r["location"] == "object store" for r in big_rows)
    assert {r["reference_type"] for r in _rows_for(rows, small)} >= {"LOCAL_REFERENCE", "CAPTURED_IN_OBJECT"}
    assert _rows_for(rows, small)[0]["location"] == "owner memory"
    assert store["capacity"] > 0 and store["used"] >= 300_000 * 8
    text = internal_api.memory_summary()
    assert big.hex() in text and "BORROWED" in text and "Object store:" in text
    assert "Object ID" not in internal_api.memory_summary(stats_only=True)
    ray.kill(keeper)
    del outer


def test_seed_memory_summary_and_locations(ray_start):
    # The seeds' "内存监控" and "对象位置" examples.
    refs = [make_list.remote() for _ in range(3)]
    print(f"Memory usage: {ray._private.internal_api.memory_summary()}")
    ray.get(refs)
    locations = ray.experimental.get_object_locations(refs)
    print(f"Object locations: {locations}")
    node = ray.get_runtime_context().get_node_id()
    assert all(loc["node_ids"] == [node] and loc["object_size"] > 0 for loc in locations.values())
    big = ray.put(np.zeros(200_000))
    loc = ray.experimental.get_object_locations([big])[big]
    assert loc["node_ids"] == [node] and loc["object_size"] >= 1_600_000
    with pytest.raises(TypeError):
        ray.experimental.get_object_locations(big)


def test_call_sites_recorded_when_asked(ray_start, monkeypatch):
    from lumos._private import worker
    monkeypatch.setattr(worker, "RECORD_CALL_SITES", True)
    ref = ray.put(12345)
    rows, _ = internal_api.memory_table()
    (row,) = [r for r in _rows_for(rows, ref) if r["process"] == "driver"]
    assert row["call_site"].endswith("test_memory_tools.py:%d" % (test_call_sites_recorded_when_asked.__code__.co_firstlineno + 3))


def test_lumos_memory_cli(tmp_short):
    from conftest import env_with_lumos, run_cli
    env = env_with_lumos(LUMOS_TMPDIR=tmp_short)
    r = run_cli(["start", "--head", "--num-cpus", "1", "--temp-dir", tmp_short], env)
    assert r.returncode == 0, r.stderr
    try:
        r = run_cli(["memory", "--temp-dir", tmp_short], env)
        assert r.returncode == 0, r.stderr
        assert "Object store:" in r.stdout and "Object ID" in r.stdout
        r = run_cli(["memory", "--temp-dir", tmp_short, "--stats-only"], env)
        assert r.returncode == 0 and "References by type" in r.stdout
    finally:
        run_cli(["stop", "--temp-dir", tmp_short], env)
