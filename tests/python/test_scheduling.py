"""Infeasible requests: fail_on_infeasible makes get raise at once (tasks and
actors); the driver warns once per shape; `lumos status` lists pending (and
infeasible) placement groups."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

import lumos as ray
from conftest import REPO, env_with_lumos, run_cli

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def reset_fail_on_infeasible():
    yield
    # _system_config is process-wide and outlives shutdown(): put it back.
    ray._raylet.set_system_config("fail_on_infeasible", "0")


def test_fail_on_infeasible_raises_at_once(ray_start_fn, reset_fail_on_infeasible):
    ray_start_fn(num_cpus=1, _system_config={"fail_on_infeasible": True})

    @ray.remote(num_cpus=4)
    def big():
        return 1

    start = time.time()
    with pytest.raises(ray.exceptions.RayError, match=r"infeasible.*'CPU': 4.0.*'CPU': 1.0"):
        ray.get(big.remote(), timeout=20)
    assert time.time() - start < 5
    # Feasible work is unaffected, and the same shape fails again.
    @ray.remote(num_cpus=1)
    def small():
        return 2
    assert ray.get(small.remote()) == 2
    with pytest.raises(ray.exceptions.RayError, match="infeasible"):
        ray.get([big.remote(), big.remote()], timeout=20)


def test_fail_on_infeasible_fails_actors_at_once(ray_start_fn, reset_fail_on_infeasible):
    ray_start_fn(num_cpus=1, _system_config={"fail_on_infeasible": True})

    @ray.remote
    class Big:
        def ping(self):
            return "pong"

    start = time.time()
    big = Big.options(num_cpus=4).remote()
    with pytest.raises(ray.exceptions.RayActorError,
                       match=r"actor Big is infeasible: it needs \{CPU: 4\} but the largest node .* has "
                             r"\{CPU: 1\} in total"):
        ray.get(big.ping.remote(), timeout=20)
    assert time.time() - start < 5
    # A custom resource no node has is infeasible too; feasible actors still run.
    with pytest.raises(ray.exceptions.ActorDiedError, match=r"needs \{.*gpu_like: 1.*\}.*gpu_like: 0"):
        ray.get(Big.options(num_cpus=0, resources={"gpu_like": 1}).remote().ping.remote(), timeout=20)
    assert ray.get(Big.options(num_cpus=1).remote().ping.remote(), timeout=20) == "pong"


def test_per_actor_fail_on_infeasible(ray_start_fn):
    ray_start_fn(num_cpus=1)

    @ray.remote
    class Big:
        def ping(self):
            return "pong"

    waiting = Big.options(num_cpus=4).remote()
    start = time.time()
    failing = Big.options(num_cpus=4, _fail_on_infeasible=True).remote()
    with pytest.raises(ray.exceptions.ActorDiedError, match=r"infeasible.*\{CPU: 4\}.*\{CPU: 1\}"):
        ray.get(failing.ping.remote(), timeout=20)
    assert time.time() - start < 5
    ready, _ = ray.wait([waiting.ping.remote()], timeout=0.5)
    assert not ready  # without the option it waits
    ray.kill(waiting)
    assert ray.get(Big.options(num_cpus=1, _fail_on_infeasible=True).remote().ping.remote(), timeout=20) == "pong"
    with pytest.raises(ValueError, match="_fail_on_infeasible must be True or False"):
        Big.options(_fail_on_infeasible=1)


WARN_ONCE_DRIVER = textwrap.dedent("""
    import sys, time
    import lumos as ray

    ray.init(num_cpus=1, _temp_dir=sys.argv[1])

    @ray.remote(num_cpus=4)
    def big():
        return 1

    @ray.remote
    class Big:
        def ping(self):
            return 1

    refs = [big.remote() for _ in range(4)]
    actors = [Big.options(num_cpus=5).remote() for _ in range(4)]
    other = Big.options(num_cpus=6).remote()
    time.sleep(2.5)
    sys.stderr.write("STDERR-MARK\\n")
    sys.stderr.flush()
    ray.shutdown()
""")


@pytest.mark.timeout(40)
def test_driver_warns_once_per_shape(tmp_short):
    script = os.path.join(tmp_short, "warn_once.py")
    with open(script, "w") as fh:
        fh.write(WARN_ONCE_DRIVER)
    p = subprocess.run([sys.executable, script, os.path.join(tmp_short, "r")], capture_output=True, text=True,
                       timeout=35, env=env_with_lumos(), cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    err = p.stderr.split("STDERR-MARK")[0]
    task_lines = [l for l in err.splitlines() if "task 'big' asks for" in l]
    actor5 = [l for l in err.splitlines() if "actor Big cannot be scheduled: it needs {CPU: 5}" in l]
    actor6 = [l for l in err.splitlines() if "actor Big cannot be scheduled: it needs {CPU: 6}" in l]
    assert (len(task_lines), len(actor5), len(actor6)) == (1, 1, 1), err[-3000:]


def test_infeasible_task_waits_without_the_flag(ray_start_fn):
    ray_start_fn(num_cpus=1)

    @ray.remote(num_cpus=4)
    def big():
        return 1
    ready, _ = ray.wait([big.remote()], timeout=0.5)
    assert not ready


def test_status_lists_pending_placement_groups(ray_start_fn):
    ctx = ray_start_fn(num_cpus=1)
    pg = ray.util.placement_group([{"CPU": 16}], name="too_big")
    ok = ray.util.placement_group([{"CPU": 1}])
    assert ok.wait(10)

    @ray.remote(num_cpus=3, resources={"nothing": 1})
    def never():
        return 0
    refs = [never.remote(), never.remote()]
    time.sleep(0.5)  # let the GCS try the big group and the raylet report the tasks
    # LUMOS_TMPDIR: where the CLI finds this cluster's session (and its token).
    out = run_cli(["status", "--address", ctx["gcs_address"]],
                  env_with_lumos(LUMOS_TMPDIR=os.path.dirname(ctx["session_dir"])))
    assert out.returncode == 0, out.stderr
    demands = out.stdout.split("Demands:")[1].split("Placement groups")[0]
    assert demands.count("infeasible") == 1, out.stdout   # one line per shape
    assert "task 'never': {'CPU': 3.0, 'nothing': 1.0}" in demands, out.stdout
    for r in refs:
        ray.cancel(r)
    assert "Placement groups: 1 created, 1 pending" in out.stdout, out.stdout
    assert "too_big" in out.stdout and "INFEASIBLE" in out.stdout
    assert "_group_" not in out.stdout.split("Placement groups")[0]
    ray.util.remove_placement_group(pg)
    ray.util.remove_placement_group(ok)


def test_per_task_fail_on_infeasible(ray_start_fn):
    ray_start_fn(num_cpus=1)

    @ray.remote(num_cpus=4)
    def big():
        return 1

    # The same shape without the option waits; with it, get raises at once.
    # Both are queued together: they must not share a lease request.
    waiting = big.remote()
    start = time.time()
    with pytest.raises(ray.exceptions.RayError, match=r"infeasible.*'CPU': 4.0.*'CPU': 1.0"):
        ray.get(big.options(_fail_on_infeasible=True).remote(), timeout=20)
    assert time.time() - start < 5
    ready, _ = ray.wait([waiting], timeout=0.5)
    assert not ready
    ray.cancel(waiting)
    with pytest.raises(ray.exceptions.RayError, match="infeasible"):
        ray.get([big.options(_fail_on_infeasible=True).remote() for _ in range(3)], timeout=20)
    # Feasible work with the option runs as usual.
    assert ray.get(big.options(num_cpus=1, _fail_on_infeasible=True).remote(), timeout=20) == 1
    with pytest.raises(ValueError, match="_fail_on_infeasible must be True or False"):
        big.options(_fail_on_infeasible="yes")


def test_node_labels_from_init(ray_start_fn):
    from lumos.util.scheduling_strategies import In, NotIn, NodeLabelSchedulingStrategy
    ray_start_fn(num_cpus=1, labels={"zone": "us-east", "disk": "ssd"})

    @ray.remote
    def where():
        return ray.get_runtime_context().get_node_id()

    node = ray.get_runtime_context().get_node_id()
    assert ray.get(where.options(scheduling_strategy=NodeLabelSchedulingStrategy(
        {"zone": In("us-east", "us-west"), "disk": NotIn("hdd")})).remote()) == node
    assert ray.get(where.options(scheduling_strategy=NodeLabelSchedulingStrategy(
        {"ray.io/node_id": In(node)})).remote()) == node
    with pytest.raises(ValueError, match="no alive node matches.*us-east"):
        where.options(scheduling_strategy=NodeLabelSchedulingStrategy({"zone": In("eu")})).remote()


def test_bad_labels(ray_start_fn):
    for bad, match in (({"zone": 1}, "string value"), ({"ray.io/x": "y"}, "reserved"), ("zone=a", "dict")):
        with pytest.raises(ValueError, match=match):
            ray.init(num_cpus=1, labels=bad)
    assert not ray.is_initialized()


def test_lumos_start_labels(tmp_short):
    env = env_with_lumos(LUMOS_TMPDIR=tmp_short)
    r = run_cli(["start", "--head", "--num-cpus", "1", "--temp-dir", tmp_short, "--labels", "not json"], env)
    assert r.returncode != 0 and "--labels" in r.stderr
    r = run_cli(["start", "--head", "--num-cpus", "1", "--temp-dir", tmp_short, "--labels", '{"zone": "b"}'], env)
    assert r.returncode == 0, r.stderr
    try:
        code = ("import lumos as ray\n"
                "from lumos.util.scheduling_strategies import In, NodeLabelSchedulingStrategy\n"
                "ray.init(address='auto')\n"
                "f = ray.remote(lambda: 7)\n"
                "print(ray.get(f.options(scheduling_strategy=NodeLabelSchedulingStrategy("
                "{'zone': In('b')})).remote()))\n")
        import subprocess
        import sys
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == "7", out.stderr
    finally:
        run_cli(["stop", "--temp-dir", tmp_short], env)
