"""`lumos list|get|summary|timeline` against a live cluster, from another
process (found by --address, authenticated with the cluster token): Ray's
syntax and output shapes, bad input, and running tasks found among many
finished ones (filters before the limit)."""
import json
import os
import time

import pytest

import lumos as ray
from lumos.util import state

from conftest import env_with_lumos, run_cli

pytestmark = pytest.mark.timeout(180)


@ray.remote
def echo(x):
    return x


@ray.remote
def wait_file(path):
    while not os.path.exists(path):
        time.sleep(0.01)
    return 1


@ray.remote
class Worker:
    def ping(self):
        return "pong"


def _cli(ctx, *args, timeout=60):
    """Runs `lumos <args> --address <gcs>` with the cluster's token in the environment."""
    with open(os.path.join(ctx["session_dir"], "auth_token")) as f:
        token = f.read().strip()
    env = env_with_lumos(LUMOS_AUTH_TOKEN=token)
    return run_cli(list(args) + ["--address", ctx["gcs_address"]], env, timeout=timeout)


def _wait(fn, timeout=20):
    deadline = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_list_table_json_yaml_and_filters(ray_start):
    refs = [echo.options(name="cli_echo").remote(i) for i in range(6)]
    ray.get(refs)
    _wait(lambda: state.list_tasks(filters=[("name", "=", "cli_echo"), ("state", "=", "FINISHED")]).total == 6)
    r = _cli(ray_start, "list", "tasks", "-f", "name=CLI_ECHO", "-f", "state=finished")
    assert r.returncode == 0, r.stderr
    assert "Total: 6" in r.stdout
    header = [l for l in r.stdout.splitlines() if "TASK_ID" in l][0]
    for col in ("TASK_ID", "ATTEMPT_NUMBER", "NAME", "STATE", "FUNC_OR_CLASS_NAME", "WORKER_PID", "ERROR_TYPE"):
        assert col in header
    r = _cli(ray_start, "list", "tasks", "-f", "name=cli_echo", "--format", "json", "--limit", "4")
    rows = json.loads(r.stdout)
    assert len(rows) == 4 and {x["state"] for x in rows} == {"FINISHED"}
    assert "showing 4 of 6" in r.stderr
    r = _cli(ray_start, "list", "tasks", "-f", "name=cli_echo", "-f", "state!=FINISHED", "--format", "json")
    assert json.loads(r.stdout) == []
    r = _cli(ray_start, "list", "tasks", "-f", "name=cli_echo", "--limit", "1", "--detail")
    assert r.returncode == 0 and "events:" in r.stdout and "start_time_ms:" in r.stdout
    r = _cli(ray_start, "list", "nodes", "--format", "yaml")
    assert r.returncode == 0 and "- node_id: " in r.stdout and "state: ALIVE" in r.stdout


def test_list_every_resource(ray_start):
    a = Worker.remote()
    ray.get(a.ping.remote())
    keep = ray.put(list(range(10)))
    for resource, column in [("actors", "ACTOR_ID"), ("nodes", "NODE_ID"), ("workers", "WORKER_ID"),
                             ("jobs", "JOB_ID"), ("placement_groups", "PLACEMENT_GROUP_ID"),
                             ("objects", "OBJECT_ID"), ("tasks", "TASK_ID")]:
        r = _cli(ray_start, "list", resource, "--format", "table")
        assert r.returncode == 0, (resource, r.stderr)
        assert r.stdout.splitlines()[0].split()[0] == column, (resource, r.stdout)
    r = _cli(ray_start, "list", "actors", "-f", "class_name=worker", "-f", "state=ALIVE", "--format", "json")
    assert [x["actor_id"] for x in json.loads(r.stdout)] == [a._actor_id.hex()]
    r = _cli(ray_start, "list", "objects", "-f", "object_id=" + keep.hex(), "--format", "json")
    assert [x["reference_type"] for x in json.loads(r.stdout)] == ["LOCAL_REFERENCE"]
    r = _cli(ray_start, "list", "workers", "-f", "worker_type=DRIVER", "--format", "json")
    assert [x["pid"] for x in json.loads(r.stdout)] == [os.getpid()]
    ray.kill(a)


def test_get_prints_yaml_and_missing_ids_are_not_found(ray_start):
    a = Worker.remote()
    ray.get(a.ping.remote())
    r = _cli(ray_start, "get", "actors", a._actor_id.hex())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "actor_id: " + a._actor_id.hex() in lines and "class_name: Worker" in lines and "state: ALIVE" in lines
    ref = echo.remote(1)
    ray.get(ref)
    _wait(lambda: state.get_task(ref.task_id().hex()) is not None)
    r = _cli(ray_start, "get", "tasks", ref.task_id().hex())
    assert r.returncode == 0 and "task_id: " + ref.task_id().hex() in r.stdout
    for resource in ("actors", "tasks", "nodes", "workers", "placement_groups"):
        r = _cli(ray_start, "get", resource, "ab" * 16)
        assert r.returncode != 0 and "not found" in r.stderr, (resource, r.stderr)
    ray.kill(a)


def test_summaries(ray_start):
    ray.get([echo.options(name="summed").remote(i) for i in range(6)])
    actors = [Worker.remote() for _ in range(2)]
    ray.get([x.ping.remote() for x in actors])
    _wait(lambda: state.list_tasks(filters=[("name", "=", "summed"), ("state", "=", "FINISHED")]).total == 6)
    r = _cli(ray_start, "summary", "tasks")
    assert r.returncode == 0, r.stderr
    assert "Table (group by func_name):" in r.stdout
    line = [l for l in r.stdout.splitlines() if " echo " in l + " "][0]
    assert "FINISHED: " in line and "NORMAL_TASK" in line
    r = _cli(ray_start, "summary", "actors")
    line = [l for l in r.stdout.splitlines() if " Worker " in l + " "][0]
    assert "ALIVE: 2" in line
    keep = ray.put(b"y" * 500_000)
    r = _cli(ray_start, "summary", "objects")
    assert r.returncode == 0 and "total_objects: " in r.stdout and "total_size_mb: " in r.stdout
    for x in actors:
        ray.kill(x)
    del keep


def test_timeline_writes_a_chrome_trace(ray_start, tmp_path):
    ref = echo.options(name="traced").remote(1)
    ray.get(ref)
    _wait(lambda: (state.get_task(ref.task_id().hex()) or {}).get("worker_pid"))
    out = tmp_path / "t.json"
    r = _cli(ray_start, "timeline", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out.resolve())
    events = json.load(open(out))
    mine = [e for e in events if e["ph"] == "X" and e["args"]["task_id"] == ref.task_id().hex()]
    assert len(mine) == 1 and mine[0]["name"] == "traced" and mine[0]["dur"] >= 0


def test_bad_input_exits_non_zero_naming_it(ray_start):
    r = _cli(ray_start, "list", "gpus")
    assert r.returncode != 0 and "unknown resource 'gpus'" in r.stderr and "placement_groups" in r.stderr
    r = _cli(ray_start, "list", "tasks", "-f", "colour=red")
    assert r.returncode != 0 and "'colour'" in r.stderr and "func_or_class_name" in r.stderr
    r = _cli(ray_start, "list", "actors", "-f", "state")
    assert r.returncode != 0 and "'state' has no operator" in r.stderr
    r = _cli(ray_start, "list", "actors", "--format", "xml")
    assert r.returncode != 0 and "invalid choice" in r.stderr
    env = env_with_lumos(LUMOS_AUTH_TOKEN="0" * 64)
    r = run_cli(["list", "nodes", "--address", ray_start["gcs_address"]], env)
    assert r.returncode != 0 and "token" in r.stderr


def _running_among_finished(ctx, tmp_path, num_finished, batch):
    """`lumos list tasks -f state=RUNNING` finds exactly the 10 running tasks
    among `num_finished` finished ones (the cluster needs 12 CPUs: 10 held by
    the running tasks, 2 for the finished ones)."""
    go = str(tmp_path / "go")
    running = [wait_file.remote(go) for _ in range(10)]
    ids = {r.task_id().hex() for r in running}
    # Running first: a GCS full of attempts none of which has finished drops the oldest.
    _wait(lambda: {t.task_id for t in state.list_tasks(filters=[("state", "=", "RUNNING")])} == ids, timeout=60)
    for start in range(0, num_finished, batch):
        ray.get([echo.remote(i) for i in range(start, min(num_finished, start + batch))])
    _wait(lambda: state.list_tasks(filters=[("state", "!=", "RUNNING")], limit=1).total >= num_finished * 0.6)
    r = _cli(ctx, "list", "tasks", "-f", "state=RUNNING", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert {x["task_id"] for x in rows} == ids and len(rows) == 10
    assert all(x["name"] == "wait_file" for x in rows)
    listed = state.list_tasks(limit=100)
    assert listed.truncated and listed.total > num_finished // 2
    open(go, "w").close()
    ray.get(running)


def test_running_tasks_found_among_finished_ones_at_the_bound(ray_start_fn, tmp_path):
    """The GCS keeps 2,000 attempts here: 3,000 finished tasks overflow it
    (the oldest finished ones are dropped, and counted), the 10 running stay."""
    ctx = ray_start_fn(num_cpus=12, _system_config={"task_events_max_num_task_in_gcs": 2000})
    _running_among_finished(ctx, tmp_path, 3000, batch=1000)
    _wait(lambda: state.list_tasks(limit=1).num_dropped >= 1000)
    r = _cli(ctx, "list", "tasks", "--limit", "5")
    assert "dropped" in r.stderr and "showing 5 of" in r.stderr


def test_hundred_thousand_finished_plus_ten_running(ray_start_fn, tmp_path):
    """The issue's size (about 20 s here, most of it running the 100k tasks)."""
    ctx = ray_start_fn(num_cpus=12)
    _running_among_finished(ctx, tmp_path, 100_000, batch=10_000)
