"""lumos.util.state over the whole cluster: every list_/get_/summarize_
call, filters before the limit with exact totals, the timeline as a Chrome
trace, the GCS's bound on task attempts, and bad inputs."""
import os
import time
import warnings

import pytest

import lumos as ray
from lumos.util import state
from lumos.util.placement_group import placement_group, remove_placement_group

pytestmark = pytest.mark.timeout(120)


def wait_for(fn, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@ray.remote
def echo(x):
    return x


@ray.remote
def nap(s):
    time.sleep(s)
    return s


@ray.remote
def wait_file(path):
    while not os.path.exists(path):
        time.sleep(0.01)
    return 1


@ray.remote
class Counter:
    def __init__(self):
        self.n = 0

    def incr(self):
        self.n += 1
        return self.n


def test_list_tasks_sees_every_task_with_ray_fields(ray_start):
    refs = [echo.remote(i) for i in range(6)]
    assert ray.get(refs) == list(range(6))
    ids = {r.task_id().hex() for r in refs}
    def finished():
        return [t for t in state.list_tasks(filters=[("state", "=", "FINISHED")], limit=None)
                if t.task_id in ids and t.worker_pid]
    # The owner reports its tasks' ends in batches (~100 ms apart): wait for all six.
    assert wait_for(lambda: len(finished()) == 6)
    rows = finished()
    t = rows[0]
    assert set(t) == set(state.common.RESOURCES["tasks"].columns)
    assert (t.name, t.func_or_class_name, t.type, t.attempt_number) == ("echo", "echo", "NORMAL_TASK", 0)
    assert t.job_id == ray.get_runtime_context().get_job_id()
    assert t.node_id == ray.get_runtime_context().get_node_id()
    assert t.worker_pid != os.getpid() and len(t.worker_id) == 32
    detail = state.get_task(refs[0].task_id().hex())
    assert detail["start_time_ms"] <= detail["end_time_ms"]
    assert [e["state"] for e in detail["events"]][-1] == "FINISHED"
    assert state.get_task(refs[0]).task_id == refs[0].task_id().hex()  # an ObjectRef names its task


def test_tasks_submitted_by_a_worker_are_listed_too(ray_start):
    @ray.remote
    def outer():
        return ray.get(echo.options(name="inner").remote(5))

    assert ray.get(outer.remote()) == 5
    rows = wait_for(lambda: state.list_tasks(filters=[("name", "=", "inner"), ("state", "=", "FINISHED")]))
    assert len(rows) >= 1 and rows[0].parent_task_id != ray.get_runtime_context().get_task_id()


def test_filters_run_before_the_limit_with_exact_totals(ray_start):
    ray.get([echo.options(name="many").remote(i) for i in range(30)])
    wait_for(lambda: state.list_tasks(filters=[("name", "=", "many"), ("state", "=", "FINISHED")],
                                      limit=None).total == 30)
    with pytest.warns(UserWarning, match="cut at the limit"):
        rows = state.list_tasks(filters=[("name", "=", "MANY")], limit=5)
    assert len(rows) == 5 and rows.total == 30 and rows.truncated
    rows = state.list_tasks(filters=[("name", "=", "many"), ("state", "!=", "finished")], limit=5)
    assert len(rows) == 0 and rows.total == 0 and not rows.truncated
    # A detail-only key is filtered after the GCS answers, still before the limit.
    rows = state.list_tasks(filters=[("name", "=", "many"), ("language", "=", "python"),
                                     ("error_message", "=", "")], limit=3, detail=True)
    assert rows.total == 30 and len(rows) == 3 and "events" in rows[0]


def test_failed_and_retried_attempts(ray_start):
    @ray.remote(max_retries=0)
    def boom():
        raise KeyError("x")

    ref = boom.remote()
    with pytest.raises(KeyError):
        ray.get(ref)
    row = wait_for(lambda: (lambda r: r if r and r.state == "FAILED" else None)(state.get_task(ref.task_id().hex())))
    assert row.error_type == "TASK_EXECUTION_EXCEPTION"

    marker = "/tmp/lumos-state-retry-%d" % os.getpid()

    @ray.remote(max_retries=1, retry_exceptions=True)
    def flaky():
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("first attempt")
        os.unlink(marker)
        return 1

    ref = flaky.remote()
    assert ray.get(ref) == 1
    rows = wait_for(lambda: (lambda r: r if len(r) == 2 and r[1].state == "FINISHED" else None)(
        state.list_tasks(filters=[("task_id", "=", ref.task_id().hex())])))
    assert [(r.attempt_number, r.state, r.error_type) for r in rows] == [
        (0, "FAILED", "TASK_EXECUTION_EXCEPTION"), (1, "FINISHED", None)]
    assert state.get_task(ref.task_id().hex()).attempt_number == 1  # the latest attempt


def test_actors_list_get_and_summary(ray_start):
    a, b = Counter.remote(), Counter.options(name="named_counter").remote()
    assert ray.get([a.incr.remote(), b.incr.remote()]) == [1, 1]
    ray.kill(a)
    aid = a._actor_id.hex()
    dead = wait_for(lambda: state.list_actors(filters=[("actor_id", "=", aid), ("state", "=", "DEAD")]))
    assert dead[0].class_name == "Counter"
    alive = state.list_actors(filters=[("class_name", "=", "Counter"), ("state", "=", "ALIVE")])
    assert [r.name for r in alive] == ["named_counter"]
    got = state.get_actor(b._actor_id.hex())
    assert (got.state, got.name, got.class_name) == ("ALIVE", "named_counter", "Counter")
    assert state.get_actor("00" * 16) is None
    s = state.summarize_actors()["cluster"]
    assert s["summary"]["Counter"]["state_counts"].get("DEAD", 0) >= 1
    assert s["summary"]["Counter"]["state_counts"].get("ALIVE", 0) >= 1
    calls = wait_for(lambda: state.list_tasks(filters=[("actor_id", "=", b._actor_id.hex()),
                                                       ("type", "=", "ACTOR_TASK")]))
    assert calls[0].func_or_class_name == "Counter.incr"
    ray.kill(b)


def test_summarize_tasks_groups_by_function(ray_start):
    ray.get([nap.remote(0) for _ in range(4)])
    s = wait_for(lambda: (lambda c: c if c["summary"].get("nap", {}).get("state_counts", {}).get("FINISHED", 0) >= 4
                          else None)(state.summarize_tasks()["cluster"]))
    assert s["summary"]["nap"]["type"] == "NORMAL_TASK"
    assert s["total_tasks"] >= 4 and s["summary_by"] == "func_name"


def test_nodes_workers_jobs(ray_start):
    nodes = state.list_nodes()
    assert len(nodes) == 1 and nodes[0].state == "ALIVE" and nodes[0].is_head_node
    assert nodes[0].resources_total["CPU"] == 2.0
    assert state.get_node(nodes[0].node_id).node_ip == nodes[0].node_ip
    workers = state.list_workers()
    drivers = [w for w in workers if w.worker_type == "DRIVER"]
    assert [w.pid for w in drivers] == [os.getpid()]
    assert all(w.is_alive and w.node_id == nodes[0].node_id for w in workers)
    assert state.get_worker(drivers[0].worker_id).pid == os.getpid()
    assert len(state.list_workers(filters=[("worker_type", "=", "worker")], limit=None)) == len(workers) - 1
    jobs = state.list_jobs()
    mine = [j for j in jobs if j.job_id == ray.get_runtime_context().get_job_id()]
    assert mine[0].status == "RUNNING" and mine[0].driver_info["pid"] == str(os.getpid())


def test_objects_list_and_summary(ray_start):
    small = ray.put("hello")
    big_task = echo.remote(b"x" * 300_000)
    ray.get(big_task)
    rows = state.list_objects(filters=[("object_id", "=", small.hex())])
    assert [(r.reference_type, r.type, r.pid) for r in rows] == [("LOCAL_REFERENCE", "DRIVER", os.getpid())]
    assert rows[0].object_size > 0
    rows = state.get_objects(big_task.hex())
    assert rows and rows[0]["object_size"] >= 300_000 and rows[0]["location"] == "object store"
    s = state.summarize_objects()["cluster"]
    assert s["total_objects"] >= 2 and s["total_size_mb"] >= 300_000 / 2**20
    del small, big_task


def test_placement_groups(ray_start):
    pg = placement_group([{"CPU": 1}], name="pg_state")
    ray.get(pg.ready(), timeout=20)
    rows = state.list_placement_groups(filters=[("name", "=", "pg_state")], detail=True)
    assert rows[0].state == "CREATED" and rows[0].bundles[0]["unit_resources"] == {"CPU": 1.0}
    assert state.get_placement_group(rows[0].placement_group_id).name == "pg_state"
    remove_placement_group(pg)
    assert wait_for(lambda: state.get_placement_group(rows[0].placement_group_id).state == "REMOVED")


def _check_chrome_trace(events):
    """The Trace Event Format's rules for the events we write."""
    assert isinstance(events, list) and events
    for e in events:
        assert isinstance(e["name"], str) and e["ph"] in ("X", "M")
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] == "X":
            assert isinstance(e["ts"], int) and isinstance(e["dur"], int) and e["dur"] >= 0
            assert isinstance(e["cat"], str) and isinstance(e["args"], dict)
        else:
            assert e["name"] in ("process_name", "thread_name") and isinstance(e["args"]["name"], str)


def test_timeline_is_a_chrome_trace(ray_start, tmp_path):
    refs = [nap.options(name="napper").remote(0.05) for _ in range(3)]
    ray.get(refs)
    ids = {r.task_id().hex() for r in refs}
    wait_for(lambda: len([e for e in ray.timeline() if e.get("args", {}).get("task_id") in ids]) == 3)
    path = ray.timeline(str(tmp_path / "trace.json"))
    assert os.path.isabs(path)
    import json
    events = json.load(open(path))
    _check_chrome_trace(events)
    mine = [e for e in events if e["ph"] == "X" and e["args"]["task_id"] in ids]
    assert len(mine) == 3
    for e in mine:
        assert e["name"] == "napper" and e["args"]["func_or_class_name"] == "nap"
        assert e["args"]["attempt_number"] == 0
        assert 50_000 <= e["dur"] < 5_000_000  # µs: the 50 ms sleep
        assert abs(e["ts"] / 1e6 - time.time()) < 600
    named = {(e["pid"], e["tid"]) for e in events if e["name"] == "thread_name"}
    assert all((e["pid"], e["tid"]) in named for e in mine)


def test_bad_inputs(ray_start):
    with pytest.raises(ValueError, match="valid keys are: .*state"):
        state.list_tasks(filters=[("colour", "=", "red")])
    with pytest.raises(ValueError, match="valid keys are: actor_id"):
        state.list_actors(filters=[("colour", "=", "red")])
    with pytest.raises(ValueError, match="predicate"):
        state.list_nodes(filters=[("state", "~", "ALIVE")])
    with pytest.raises(ValueError, match="key, predicate, value"):
        state.list_workers(filters=["state=ALIVE"])
    with pytest.raises(ValueError, match="limit"):
        state.list_jobs(limit=-3)
    with pytest.raises(ValueError, match="unknown resource 'gpus'"):
        state.api.get("gpus", "00")
    assert state.get_task("ab" * 16) is None
    assert state.get_worker("ab" * 16) is None
    assert state.get_placement_group("ab" * 16) is None
    assert state.get_node("ab" * 16) is None


def test_unreachable_gcs_is_a_clear_error(ray_start, monkeypatch):
    monkeypatch.setenv("LUMOS_AUTH_TOKEN", "x" * 64)
    with pytest.raises(state.StateSourceError, match="127.0.0.1:1 did not answer"):
        state.list_nodes(address="127.0.0.1:1", timeout=2)


def test_task_events_off(ray_start_fn):
    from lumos import _raylet
    try:
        ray_start_fn(num_cpus=1, _system_config={"task_events_enabled": 0})
        ray.get(echo.remote(1))
        time.sleep(0.4)
        assert state.list_tasks(limit=None).total == 0
    finally:
        # _system_config knobs stay set in this process after shutdown.
        _raylet.set_system_config("task_events_enabled", "1")
