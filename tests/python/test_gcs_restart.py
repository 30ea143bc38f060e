"""A GCS killed with SIGKILL and started again on the same storage and port:
raylets, workers and actors keep running; calls to actors go on during the
outage; GCS calls made meanwhile (actor creation, KV, placement groups) wait
and then succeed; a new driver finds the old detached actors; a GCS storage
file that cannot be used is a clear error; a raylet whose GCS never comes
back exits after gcs_reconnect_timeout_s naming it."""
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

import lumos
from lumos.cluster_utils import Cluster
from lumos.experimental import internal_kv
from lumos.util.placement_group import placement_group, placement_group_table

from conftest import short_tmpdir, wait_until

pytestmark = pytest.mark.timeout(120)


@lumos.remote
class Counter:
    def __init__(self):
        self.n = 0

    def inc(self):
        self.n += 1
        return self.n

    def pid(self):
        return os.getpid()


@pytest.fixture
def two_nodes(no_cluster):
    tmp = short_tmpdir()
    # Room for everything on either node: what the tests look at is the
    # restart, not where things fit.
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 4, "temp_dir": tmp})
    c.add_node(num_cpus=4, temp_dir=tmp)
    c.connect(namespace="svc")
    yield c
    lumos.shutdown()
    c.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


def test_gcs_sigkill_and_restart_keeps_the_cluster_going(two_nodes):
    c = two_nodes
    head = c.head_node
    actor = Counter.options(name="ctr", lifetime="detached").remote()
    assert lumos.get(actor.inc.remote()) == 1
    actor_pid = lumos.get(actor.pid.remote())
    pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="SPREAD")
    lumos.get(pg.ready(), timeout=20)
    internal_kv._internal_kv_put(b"before", b"1")
    raylet_pids = [n._node.procs["raylet"].pid for n in c.list_all_nodes()]

    head.kill_gcs_server()
    # Actor calls go worker to worker: they answer while the GCS is down.
    assert lumos.get(actor.inc.remote(), timeout=10) == 2

    done = {}

    def create_actor():
        b = Counter.remote()
        done["actor"] = lumos.get(b.inc.remote(), timeout=60)

    def put_kv():
        internal_kv._internal_kv_put(b"during", b"2")
        done["kv"] = True

    def create_pg():
        g = placement_group([{"CPU": 0.5}])
        done["pg"] = lumos.get(g.ready(), timeout=60) is not None

    threads = [threading.Thread(target=f) for f in (create_actor, put_kv, create_pg)]
    for t in threads:
        t.start()
    time.sleep(2)
    assert not done, "GCS calls finished while the GCS was down: %r" % done
    head.restart_gcs_server()
    for t in threads:
        t.join(60)
    assert done == {"actor": 1, "kv": True, "pg": True}

    # Nothing else died, state is intact.
    for pid in raylet_pids + [actor_pid]:
        os.kill(pid, 0)
    assert lumos.get(actor.inc.remote(), timeout=10) == 3
    assert lumos.get(actor.pid.remote()) == actor_pid
    assert internal_kv._internal_kv_get(b"before") == b"1"
    assert internal_kv._internal_kv_get(b"during") == b"2"
    assert placement_group_table(pg)["state"] == "CREATED"
    assert wait_until(lambda: sum(n["Alive"] for n in lumos.nodes()) == 2, timeout=10)
    assert lumos.get(lumos.get_actor("ctr").inc.remote(), timeout=10) == 4

    # A new driver (another process) finds the detached actor.
    root = os.path.dirname(head.session_dir)
    code = ("import lumos; lumos.init(address=%r, namespace='svc', _temp_dir=%r); "
            "print(lumos.get(lumos.get_actor('ctr').inc.remote(), timeout=20))" % (head.address, root))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "5"

    # A second restart, of a GCS that itself was restored, works the same way.
    head.kill_gcs_server()
    head.restart_gcs_server()
    assert lumos.get(lumos.get_actor("ctr").inc.remote(), timeout=20) == 6
    assert lumos.get(Counter.remote().inc.remote(), timeout=30) == 1


def test_an_actor_that_died_during_the_outage_restarts(two_nodes):
    c = two_nodes
    head = c.head_node
    actor = Counter.options(name="phoenix", lifetime="detached", max_restarts=1).remote()
    pid = lumos.get(actor.pid.remote())
    head.kill_gcs_server()
    os.kill(pid, 9)
    time.sleep(0.5)
    head.restart_gcs_server()
    # The restored GCS cannot reach the worker: the actor restarts elsewhere.
    assert wait_until(lambda: _answers(actor), timeout=30)
    assert lumos.get(actor.pid.remote()) != pid


def _answers(actor):
    try:
        return lumos.get(actor.inc.remote(), timeout=5) >= 1
    except Exception:
        return False


def _gcs_server_bin():
    from lumos._private.node import bin_dir
    return os.path.join(bin_dir(), "gcs_server")


def test_unusable_storage_is_a_clear_error(tmp_path):
    token = tmp_path / "token"
    token.write_text("ab" * 32)
    corrupt = tmp_path / "gcs.db"
    corrupt.write_bytes(b"x" * 8192)
    out = subprocess.run([_gcs_server_bin(), "--port=0", "--auth-token-file=%s" % token,
                          "--gcs-storage=%s" % corrupt], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "is not a usable lumos GCS database" in out.stderr, out.stderr
    assert corrupt.read_bytes() == b"x" * 8192  # never reset


def test_raylet_exits_when_the_gcs_never_comes_back(no_cluster):
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "temp_dir": tmp, "_system_config": {"gcs_reconnect_timeout_s": 2}})
    try:
        raylet = c.head_node._node.procs["raylet"]
        c.head_node.kill_gcs_server()
        raylet.wait(timeout=30)
        log = c.head_node._node.read_log("raylet", tail=200000)
        assert "has not answered for" in log and c.head_node.address in log, log
    finally:
        c.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def test_lumos_start_head_restarts_only_a_dead_gcs(no_cluster, monkeypatch):
    import json
    from conftest import env_with_lumos, run_cli
    monkeypatch.delenv("LUMOS_AUTH_TOKEN", raising=False)
    tmp = short_tmpdir()
    env = env_with_lumos()
    r = run_cli(["start", "--head", "--num-cpus", "1", "--temp-dir", tmp], env)
    assert r.returncode == 0, r.stderr
    try:
        with open(os.path.join(tmp, "lumos_current_cluster")) as f:
            info = json.load(f)
        session = info["session_dir"]
        assert os.path.exists(os.path.join(session, "gcs.db"))

        def pid_of(name):
            with open(os.path.join(session, "pids", name + ".pid")) as f:
                return int(f.read().split()[0])
        code = """
import lumos
lumos.init(address=%r, namespace="cli", _temp_dir=%r)
@lumos.remote
class A:
    def ping(self):
        return "pong"
a = A.options(name="a", lifetime="detached").remote()
print(lumos.get(a.ping.remote()))
""" % (info["gcs_address"], tmp)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
        assert out.stdout.strip().endswith("pong"), out.stderr
        raylet = pid_of("raylet")
        os.kill(pid_of("gcs_server"), 9)  # started by this test's `lumos start`
        r = run_cli(["start", "--head", "--temp-dir", tmp], env)
        assert r.returncode == 0, r.stderr
        assert "Restarted the GCS" in r.stdout
        os.kill(raylet, 0)  # the same raylet goes on
        code = """
import lumos
lumos.init(address=%r, namespace="cli", _temp_dir=%r)
print(lumos.get(lumos.get_actor("a").ping.remote(), timeout=20))
""" % (info["gcs_address"], tmp)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
        assert out.stdout.strip().endswith("pong"), out.stderr
    finally:
        run_cli(["stop", "--temp-dir", tmp], env)
        shutil.rmtree(tmp, ignore_errors=True)
