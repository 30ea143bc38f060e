"""The cluster around the API: init's context, the session dir, resources and
nodes, runtime context ids, clusters side by side, cleanup after a killed
driver, worker output at the driver, and the `lumos` CLI."""
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

import lumos as ray
from lumos._private.node import free_port

from conftest import REPO, describe, env_with_lumos, processes_under, run_cli, wait_gone
from conftest import wait_until as _wait_for

pytestmark = pytest.mark.timeout(30)


@ray.remote
def echo(x):
    return x


# ---------------------------------------------------------------- context, session dir

def test_init_context(ray_start):
    ctx = ray_start
    host, port = ctx["gcs_address"].rsplit(":", 1)
    assert host and 0 < int(port) < 65536
    assert os.path.isdir(ctx["session_dir"])
    assert ctx["node_id"]
    # attribute access too
    assert ctx.gcs_address == ctx["gcs_address"]
    assert ctx.session_dir == ctx["session_dir"]


def test_init_context_address_info(ray_start):
    """Ray programs read init()'s addresses from ctx.address_info."""
    info = ray_start.address_info
    assert info["gcs_address"] == ray_start["gcs_address"]
    assert info["session_dir"] == ray_start["session_dir"]
    assert info["node_id"] == ray_start["node_id"]


def test_init_ignore_reinit_returns_same_cluster(ray_start):
    ctx = ray.init(ignore_reinit_error=True)
    assert ctx["gcs_address"] == ray_start["gcs_address"]
    assert ctx["session_dir"] == ray_start["session_dir"]


def test_session_dir_mode_0700(ray_start):
    session = ray_start["session_dir"]
    mode = stat.S_IMODE(os.stat(session).st_mode)
    assert mode == 0o700, oct(mode)
    # owned by us, and the root above it is not world-writable
    assert os.stat(session).st_uid == os.getuid()
    root_mode = stat.S_IMODE(os.stat(os.path.dirname(session)).st_mode)
    assert not root_mode & 0o002, oct(root_mode)


def test_sockets_path_short(ray_start):
    for key in ("raylet_socket_name", "object_store_address"):
        value = ray_start.get(key)
        if value:
            assert len(value.split(":", 1)[-1]) < 108


# ---------------------------------------------------------------- resources, nodes


def test_cluster_resources(ray_start):
    res = ray.cluster_resources()
    assert res["CPU"] == 2
    assert res.get("object_store_memory", 0) > 0
    assert res.get("memory", 0) > 0
    assert "GPU" not in res or res["GPU"] == 0


def test_available_resources(ray_start):
    assert _wait_for(lambda: ray.available_resources().get("CPU") == 2)

    @ray.remote(num_cpus=1)
    def hold(seconds):
        time.sleep(seconds)
        return 1

    ref = hold.remote(3)
    assert _wait_for(lambda: ray.available_resources().get("CPU", 0) == 1, timeout=2.5), \
        ray.available_resources()
    assert ray.get(ref) == 1
    assert _wait_for(lambda: ray.available_resources().get("CPU") == 2)


def test_custom_resources(ray_start_fn):
    ray_start_fn(num_cpus=1, resources={"special": 2})
    assert ray.cluster_resources()["special"] == 2

    @ray.remote(resources={"special": 1})
    def uses_special():
        return "ok"

    assert ray.get([uses_special.remote() for _ in range(4)], timeout=20) == ["ok"] * 4
    assert _wait_for(lambda: ray.available_resources().get("special") == 2)


def test_fractional_cpus(ray_start_1cpu):
    @ray.remote(num_cpus=0.5)
    def half(seconds):
        time.sleep(seconds)
        return os.getpid()

    ray.get([half.remote(0) for _ in range(2)], timeout=20)
    t = time.monotonic()
    pids = ray.get([half.remote(1.5) for _ in range(2)], timeout=20)
    assert time.monotonic() - t < 2.6   # both ran at once on 1 CPU (one after the other: 3 s)
    assert len(set(pids)) == 2


def test_nodes(ray_start):
    nodes = ray.nodes()
    assert len(nodes) == 1
    node = nodes[0]
    assert node["Alive"] is True and node["alive"] is True
    assert node["NodeID"] == ray_start["node_id"]
    assert node["Resources"]["CPU"] == 2
    assert node["NodeManagerAddress"]


# ---------------------------------------------------------------- runtime context

def test_runtime_context_in_driver(ray_start):
    ctx = ray.get_runtime_context()
    assert ctx.get_job_id() == ray_start["job_id"]
    assert ctx.get_node_id() == ray_start["node_id"]
    assert ctx.get_task_id() is None
    assert ctx.get_worker_id()
    assert ctx.get_actor_id() is None
    assert ctx.job_id == ctx.get_job_id()


def test_runtime_context_in_task(ray_start):
    @ray.remote
    def ids():
        c = ray.get_runtime_context()
        return c.get_job_id(), c.get_node_id(), c.get_task_id(), c.get_worker_id()

    driver = ray.get_runtime_context()
    job, node, task, worker = ray.get(ids.remote())
    assert job == driver.get_job_id()
    assert node == driver.get_node_id()
    assert task is not None
    assert worker != driver.get_worker_id()
    _, _, task2, _ = ray.get(ids.remote())
    assert task2 != task


def test_ref_task_id_matches_runtime_task_id(ray_start):
    @ray.remote
    def my_task_id():
        return ray.get_runtime_context().get_task_id()

    ref = my_task_id.remote()
    # ObjectRef.task_id() is a TaskID; its hex() is what the context reports
    assert ray.get(ref) == ref.task_id().hex()


# ---------------------------------------------------------------- re-init in one process

def test_shutdown_then_init_again(ray_start_fn):
    """A remote function defined once keeps working across shutdown/init."""
    ctx1 = ray_start_fn(num_cpus=1)
    assert ray.get(echo.remote(1), timeout=15) == 1
    ray.shutdown()
    assert not ray.is_initialized()
    ctx2 = ray_start_fn(num_cpus=1)
    assert ctx2["session_dir"] != ctx1["session_dir"]
    assert ray.get(echo.remote(2), timeout=15) == 2


def test_context_manager(no_cluster, tmp_short):
    with ray.init(num_cpus=1, _temp_dir=tmp_short):
        assert ray.get(ray.put(3)) == 3
    assert not ray.is_initialized()


def test_shutdown_when_not_initialized(no_cluster):
    ray.shutdown()
    ray.shutdown()
    assert not ray.is_initialized()


# ---------------------------------------------------------------- subprocess drivers

DRIVER = textwrap.dedent("""
    import os, sys, time, json
    import lumos as ray

    ctx = ray.init(num_cpus=1, _temp_dir=sys.argv[1])

    @ray.remote
    def square(x):
        return x * x

    result = sum(ray.get([square.remote(i) for i in range(20)]))
    print(json.dumps({"gcs": ctx["gcs_address"], "session": ctx["session_dir"], "result": result}),
          flush=True)
    ray.shutdown()
""")


def _write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.mark.timeout(30)
def test_two_clusters_at_once_do_not_collide(tmp_short):
    """Two drivers starting clusters at the same moment under the same root."""
    script = _write(tmp_short, "driver.py", DRIVER)
    root = os.path.join(tmp_short, "r")
    env = env_with_lumos()
    procs = [subprocess.Popen([sys.executable, script, root], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=25)
        assert p.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert outs[0]["result"] == outs[1]["result"] == sum(i * i for i in range(20))
    assert outs[0]["gcs"] != outs[1]["gcs"]
    assert outs[0]["session"] != outs[1]["session"]


KILLED_DRIVER = textwrap.dedent("""
    import os, sys, time
    import lumos as ray

    ray.init(num_cpus=2, _temp_dir=sys.argv[1])

    @ray.remote
    def busy(i):
        time.sleep(60)
        return i

    @ray.remote
    def quick(i):
        return i

    assert ray.get([quick.remote(i) for i in range(4)]) == list(range(4))
    refs = [busy.remote(i) for i in range(2)]   # keep the workers busy
    time.sleep(0.5)
    print("READY", flush=True)
    time.sleep(60)
""")


def _descendants(pid):
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _names(procs):
    out = []
    for p in procs:
        try:
            out.append(" ".join(p.cmdline()))
        except psutil.Error:
            out.append("")
    return out


@pytest.mark.timeout(30)
def test_sigkill_driver_leaves_no_processes(tmp_short):
    script = _write(tmp_short, "killed.py", KILLED_DRIVER)
    proc = subprocess.Popen([sys.executable, script, os.path.join(tmp_short, "r")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env_with_lumos(), cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "READY", proc.stderr.read()[-3000:] if proc.poll() is not None else line
        # gcs_server, raylet and the workers the raylet started
        family = _descendants(proc.pid)
        names = " | ".join(_names(family))
        assert "gcs_server" in names and "raylet" in names, names
        assert "default_worker" in names, names
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        left = wait_gone(family, timeout=5.0)
        assert not left, "left behind after SIGKILL of the driver: %s" % describe(left)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in _descendants(proc.pid):
            try:
                p.kill()
            except psutil.Error:
                pass


PRINTING_DRIVER = textwrap.dedent("""
    import os, sys
    import lumos as ray

    ray.init(num_cpus=1, _temp_dir=sys.argv[1])

    @ray.remote
    def say_hello(i):
        print("hello from task", i)
        print("second line", i)
        return os.getpid()

    pid = ray.get(say_hello.remote(7))
    print("WORKER_PID", pid, flush=True)
    ray.shutdown()
""")


@pytest.mark.timeout(30)
def test_worker_print_reaches_driver_stdout(tmp_short):
    script = _write(tmp_short, "printer.py", PRINTING_DRIVER)
    p = subprocess.run([sys.executable, script, os.path.join(tmp_short, "r")], capture_output=True,
                       text=True, timeout=25, env=env_with_lumos(), cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    pid = None
    for line in p.stdout.splitlines():
        if line.startswith("WORKER_PID"):
            pid = int(line.split()[1])
    assert pid, p.stdout
    assert "(say_hello pid=%d) hello from task 7" % pid in p.stdout, p.stdout
    assert "(say_hello pid=%d) second line 7" % pid in p.stdout, p.stdout


# ---------------------------------------------------------------- CLI

def _recorded_pids(root):
    pids = []
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) == "pids":
            for name in files:
                try:
                    with open(os.path.join(dirpath, name)) as f:
                        pids.append(int(f.read().split()[0]))
                except (OSError, ValueError, IndexError):
                    pass
    return pids


AUTO_DRIVER = textwrap.dedent("""
    import json, os
    import lumos as ray

    ctx = ray.init(address="auto")

    @ray.remote
    def where():
        return os.getpid()

    pids = ray.get([where.remote() for _ in range(3)])
    print(json.dumps({"gcs": ctx["gcs_address"], "node": ctx["node_id"],
                      "cpu": ray.cluster_resources().get("CPU")}), flush=True)
    ray.shutdown()
""")


@pytest.mark.timeout(30)
def test_cli_start_status_stop(ray_start, tmp_short):
    root = os.path.join(tmp_short, "cli")
    os.makedirs(root)
    env = env_with_lumos(LUMOS_TMPDIR=root)
    port = free_port()
    started = []
    try:
        r = run_cli(["start", "--head", "--port=%d" % port, "--num-cpus=1"], env)
        assert r.returncode == 0, "lumos start failed:\n%s\n%s" % (r.stdout, r.stderr[-3000:])
        started = processes_under(root)
        names = " | ".join(_names(started))
        assert "gcs_server" in names and "raylet" in names, names
        gcs = [p for p in started if "gcs_server" in " ".join(p.cmdline())][0]
        assert "--port=%d" % port in " ".join(gcs.cmdline()) or \
            any(c.laddr.port == port for c in gcs.net_connections(kind="tcp") if c.laddr)

        script = _write(tmp_short, "auto.py", AUTO_DRIVER)
        d = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=25,
                           env=env, cwd=REPO)
        assert d.returncode == 0, d.stderr[-3000:]
        info = json.loads(d.stdout.strip().splitlines()[-1])
        assert info["gcs"].endswith(":%d" % port), info
        assert info["cpu"] == 1

        s = run_cli(["status"], env)
        assert s.returncode == 0, s.stderr[-3000:]
        assert info["node"] in s.stdout, s.stdout            # the node
        assert re.search(r"\b1(\.0+)?\s*CPU", s.stdout), s.stdout  # its 1 CPU

        # stop ends that cluster only: this test's own cluster keeps working
        mine = [p for p in psutil.Process().children(recursive=True)]
        st = run_cli(["stop"], env)
        assert st.returncode == 0, st.stderr[-3000:]
        left = wait_gone(started + [psutil.Process(pid) for pid in _recorded_pids(root)
                                    if psutil.pid_exists(pid)], timeout=5.0)
        assert not left, "left after lumos stop: %s" % describe(left)
        assert not processes_under(root)
        assert all(p.is_running() for p in mine), "lumos stop ended processes of another cluster"
        assert ray.get(echo.remote("alive"), timeout=15) == "alive"
    finally:
        for p in processes_under(root):
            try:
                p.kill()
            except psutil.Error:
                pass


def test_cli_stop_with_nothing_running(tmp_short):
    env = env_with_lumos(LUMOS_TMPDIR=os.path.join(tmp_short, "none"))
    r = run_cli(["stop"], env)
    assert r.returncode == 0, r.stderr[-3000:]


def test_init_auto_without_cluster_fails_clearly(no_cluster, tmp_short):
    os.environ["LUMOS_TMPDIR"] = os.path.join(tmp_short, "empty")
    try:
        with pytest.raises(ConnectionError):
            ray.init(address="auto")
    finally:
        del os.environ["LUMOS_TMPDIR"]
    assert not ray.is_initialized()
