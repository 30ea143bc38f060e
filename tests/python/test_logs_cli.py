"""`lumos logs` and `lumos stack` against a live cluster, from another process
(found by --address, authenticated with the cluster token), and the Python
API behind them (list_logs/get_log, get_stack): Ray's syntax, a task's own
lines cut from its worker's file, actor and pid lookups, tails, --follow,
stacks of a worker stuck in a known function, and bad input."""
import os
import subprocess
import sys
import time

import pytest

import lumos as ray
from lumos.util.state import list_logs, get_log, list_tasks
from lumos.util.state.stacks import get_stack

from conftest import env_with_lumos, run_cli, REPO

pytestmark = pytest.mark.timeout(180)


@ray.remote
def say(tag, n):
    for i in range(n):
        print("%s line %d" % (tag, i))
    print("%s to stderr" % tag, file=sys.stderr)
    return os.getpid()


@ray.remote
class Talker:
    def talk(self, word):
        print("talker says", word)
        return os.getpid()


def stuck_in_a_known_function(path):
    while not os.path.exists(path):
        time.sleep(0.02)
    return 1


@ray.remote
def stuck(path):
    return stuck_in_a_known_function(path)


def _env(ctx):
    with open(os.path.join(ctx["session_dir"], "auth_token")) as f:
        return env_with_lumos(LUMOS_AUTH_TOKEN=f.read().strip())


def _cli(ctx, *args, timeout=60):
    return run_cli(list(args) + ["--address", ctx["gcs_address"]], _env(ctx), timeout=timeout)


def _task_id(name):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = list_tasks(filters=[("name", "=", name), ("state", "=", "FINISHED")])
        if rows:
            return rows[0]["task_id"]
        time.sleep(0.05)
    raise AssertionError("task %s never finished in the state API" % name)


def test_cluster_listing_and_file(ray_start):
    ray.get(say.remote("warm", 1))
    logs = list_logs()
    assert "raylet.out" in logs["raylet"] and "gcs_server.err" in logs["gcs_server"]
    assert any(n.startswith("worker-") and n.endswith(".out") for n in logs["worker_out"])
    assert list_logs(glob_filter="raylet*") == {"raylet": ["raylet.err", "raylet.out"]}
    r = _cli(ray_start, "logs")
    assert r.returncode == 0, r.stderr
    assert "worker_out:" in r.stdout and "- raylet.out" in r.stdout
    r = _cli(ray_start, "logs", "cluster", "raylet.err", "--tail", "2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("--- Log has been truncated to last 2 lines.")
    body = r.stdout.split("---\n", 1)[1].strip("\n").splitlines()
    assert 1 <= len(body) <= 2
    # Ray's shorthand: a glob instead of the kind.
    r = _cli(ray_start, "logs", "gcs_server.er*", "--tail", "-1")
    assert r.returncode == 0 and not r.stdout.startswith("--- Log"), r.stderr


def test_task_logs_are_the_tasks_own_lines(ray_start):
    ray.get([say.options(name="say_a").remote("AAA", 3), say.options(name="say_b").remote("BBB", 2)])
    ray.get(say.options(name="say_c").remote("CCC", 1))
    tid = _task_id("say_a")
    text = "".join(get_log(task_id=tid))
    assert text == "AAA line 0\nAAA line 1\nAAA line 2\n", text
    assert "".join(get_log(task_id=tid, suffix="err")) == "AAA to stderr\n"
    assert "".join(get_log(task_id=tid, tail=1)) == "AAA line 2\n"
    r = _cli(ray_start, "logs", "task", "--id", _task_id("say_b"), "--err")
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip("\n").splitlines()[-1] == "BBB to stderr"
    assert "AAA" not in r.stdout and "lumos-task-id" not in r.stdout


def test_actor_and_worker_logs(ray_start):
    a = Talker.remote()
    pid = ray.get(a.talk.remote("hello-actor"))
    actor_id = a._actor_id.hex()
    deadline = time.monotonic() + 20
    while "talker says hello-actor" not in "".join(get_log(actor_id=actor_id)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r = _cli(ray_start, "logs", "actor", "--id", actor_id)
    assert r.returncode == 0, r.stderr
    assert "talker says hello-actor" in r.stdout and "lumos-task-id" not in r.stdout
    r = _cli(ray_start, "logs", "worker", "--pid", str(pid), "--tail", "-1")
    assert r.returncode == 0, r.stderr
    assert "talker says hello-actor" in r.stdout
    ray.kill(a)


def test_follow_prints_appended_lines(ray_start):
    a = Talker.remote()
    ray.get(a.talk.remote("first"))
    cmd = [sys.executable, "-m", "lumos.scripts.cli", "logs", "actor", "--id", a._actor_id.hex(), "--follow",
           "--interval", "0.1", "--address", ray_start["gcs_address"]]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(ray_start), cwd=REPO)
    try:
        ray.get(a.talk.remote("second"))
        deadline = time.monotonic() + 30
        seen = b""
        os.set_blocking(proc.stdout.fileno(), False)
        while b"talker says second" not in seen:
            assert time.monotonic() < deadline, seen
            assert proc.poll() is None, proc.stderr.read()
            try:
                seen += os.read(proc.stdout.fileno(), 65536)
            except BlockingIOError:
                pass
            time.sleep(0.05)
        seen = seen.decode()
        assert "talker says first" in seen
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ray.kill(a)


def test_stack_of_a_stuck_worker(ray_start, tmp_path):
    gate = str(tmp_path / "gate")
    ref = stuck.options(name="stuck_task").remote(gate)
    deadline = time.monotonic() + 30
    while True:
        rows = list_tasks(filters=[("name", "=", "stuck_task"), ("state", "=", "RUNNING")])
        if rows:
            break
        assert time.monotonic() < deadline, "the stuck task never ran"
        time.sleep(0.05)
    tid, pid = rows[0]["task_id"], rows[0]["worker_pid"]
    # RUNNING is reported as the task starts (its function may still be loading).
    deadline = time.monotonic() + 30
    while "stuck_in_a_known_function" not in get_stack(tid):
        assert time.monotonic() < deadline, "the task never reached its loop"
        time.sleep(0.1)
    text = get_stack(tid)
    assert "Python stacks of lumos worker pid %d" % pid in text
    assert "in stuck_in_a_known_function" in text and "time.sleep" in text
    r = _cli(ray_start, "stack", str(pid))
    assert r.returncode == 0, r.stderr
    assert "in stuck_in_a_known_function" in r.stdout
    r = _cli(ray_start, "stack", tid)
    assert r.returncode == 0 and "in stuck_in_a_known_function" in r.stdout, r.stderr
    open(gate, "w").close()
    assert ray.get(ref, timeout=30) == 1


def test_stack_of_an_actor(ray_start):
    a = Talker.remote()
    ray.get(a.talk.remote("x"))
    r = _cli(ray_start, "stack", a._actor_id.hex())
    assert r.returncode == 0, r.stderr
    assert "Thread MainThread" in r.stdout
    ray.kill(a)


def test_bad_input(ray_start):
    r = _cli(ray_start, "logs", "actor", "--id", "ab" * 16)
    assert r.returncode == 1 and "not found" in r.stderr
    r = _cli(ray_start, "logs", "task", "--id", "cd" * 16)
    assert r.returncode == 1 and "not found" in r.stderr
    r = _cli(ray_start, "logs", "actor")
    assert r.returncode == 1 and "--id" in r.stderr
    r = _cli(ray_start, "logs", "worker", "--pid", "1")
    assert r.returncode == 1 and "no worker with pid 1" in r.stderr
    r = _cli(ray_start, "logs", "cluster", "no_such_file.log")
    assert r.returncode == 0 and r.stdout.strip() == "{}"
    with pytest.raises(ValueError, match="not found"):
        "".join(get_log(filename="no_such_file.log"))
    with pytest.raises(ValueError, match="plain file name"):
        "".join(get_log(filename="../auth_token"))
    with pytest.raises(ValueError, match="no alive node"):
        list_logs(node_id="00" * 16)
    r = _cli(ray_start, "stack", "1")
    assert r.returncode == 1 and "no lumos worker with pid 1" in r.stderr
    r = _cli(ray_start, "stack", "not-an-id")
    assert r.returncode == 1 and "neither a pid" in r.stderr


def test_logs_and_stacks_of_another_node(no_cluster, tmp_path):
    """A second node (own raylet and session dir): its files are listed and
    read through its raylet, its actor's output and stacks found by id."""
    import shutil
    from lumos.cluster_utils import Cluster
    from lumos.util.state import list_nodes
    from conftest import short_tmpdir
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "temp_dir": tmp})
    try:
        side = c.add_node(num_cpus=1, resources={"side": 1}, temp_dir=tmp)
        c.wait_for_nodes()
        c.connect()
        a = Talker.options(resources={"side": 1}).remote()
        pid = ray.get(a.talk.remote("from the side node"))
        side_id = side.node_id
        assert any(n["node_id"] == side_id for n in list_nodes())
        logs = list_logs(node_id=side_id)
        assert "raylet.out" in logs["raylet"] and logs["worker_out"]
        head_logs = list_logs()
        assert not set(logs["worker_out"]) & set(head_logs.get("worker_out", []))
        deadline = time.monotonic() + 20
        while "talker says from the side node" not in "".join(get_log(actor_id=a._actor_id.hex())):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert "talker says from the side node" in "".join(get_log(pid=pid, node_id=side_id))
        assert "Thread MainThread" in get_stack(a._actor_id.hex())
        ray.kill(a)
    finally:
        ray.shutdown()
        c.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
