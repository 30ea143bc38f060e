"""GPUs without a GPU: detection through a fake NVML library (answers from
FAKE_NVML_* env vars), CUDA_VISIBLE_DEVICES masking, per-task and per-actor
GPU ids, fractional packing, blocked GPU tasks, bad input.

The fake library is the one `make build` puts in build/py/tests/cpp; when no
build tree has it, it is compiled here from tests/cpp/fake_nvml.cc.
"""
import glob
import logging
import os
import shutil
import subprocess
import tempfile
import time

import psutil
import pytest

import lumos
from lumos._private import accelerators

from conftest import REPO, env_with_lumos, run_cli, start_cluster, stop_cluster

FAKE_ENV = ("LUMOS_NVML_LIBRARY", "FAKE_NVML_COUNT", "FAKE_NVML_NAME", "FAKE_NVML_INIT_FAIL",
            "CUDA_VISIBLE_DEVICES")


@pytest.fixture(scope="module")
def fake_nvml():
    """Path of the fake libnvidia-ml."""
    found = sorted(glob.glob(os.path.join(REPO, "build", "*", "tests", "cpp", "libfake_nvml.so")),
                   key=os.path.getmtime, reverse=True)
    if found:
        yield found[0]
        return
    compiler = shutil.which("c++") or shutil.which("g++")
    if not compiler:
        pytest.skip("no built libfake_nvml.so and no C++ compiler to build it")
    d = tempfile.mkdtemp(prefix="lumos-fake-nvml-")
    out = os.path.join(d, "libfake_nvml.so")
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", out,
                    os.path.join(REPO, "tests", "cpp", "fake_nvml.cc")], check=True, timeout=120)
    yield out
    shutil.rmtree(d, ignore_errors=True)


class _Env:
    """Sets env vars for a block (module fixtures cannot use monkeypatch)."""

    def __init__(self, **values):
        self.values = values
        self.saved = {}

    def __enter__(self):
        for k in FAKE_ENV:
            self.saved[k] = os.environ.pop(k, None)
        for k, v in self.values.items():
            os.environ[k] = str(v)
        return self

    def __exit__(self, *exc):
        for k in FAKE_ENV:
            os.environ.pop(k, None)
            if self.saved.get(k) is not None:
                os.environ[k] = self.saved[k]


def _detect(fake_nvml, **env):
    from lumos import _accelerators
    with _Env(LUMOS_NVML_LIBRARY=fake_nvml, **env):
        return _accelerators.detect_gpus()


# ---------------------------------------------------------------- detection (no cluster)

def test_detect_zero_one_eight_gpus(fake_nvml):
    info = _detect(fake_nvml, FAKE_NVML_COUNT=0)
    assert info["nvml_loaded"] and info["num_gpus"] == 0 and info["accelerator_type"] is None
    info = _detect(fake_nvml, FAKE_NVML_COUNT=1, FAKE_NVML_NAME="Tesla V100-SXM2-16GB")
    assert info["num_gpus"] == 1
    assert info["visible"][0]["name"] == "Tesla V100-SXM2-16GB"
    assert info["visible"][0]["uuid"] == "GPU-fake-0000"
    assert info["visible"][0]["memory_bytes"] == 40960 << 20
    assert info["accelerator_type"] == "V100"
    info = _detect(fake_nvml, FAKE_NVML_COUNT=8)
    assert info["num_gpus"] == 8 and len(info["devices"]) == 8
    assert info["accelerator_type"] == "A100"
    assert [d["index"] for d in info["visible"]] == list(range(8))


def test_cuda_visible_devices_masks_detected_gpus(fake_nvml):
    assert _detect(fake_nvml, FAKE_NVML_COUNT=4, CUDA_VISIBLE_DEVICES="1,3")["num_gpus"] == 2
    info = _detect(fake_nvml, FAKE_NVML_COUNT=4, CUDA_VISIBLE_DEVICES="3,GPU-fake-0000")
    assert [d["index"] for d in info["visible"]] == [3, 0]
    for none in ("", "NoDevFiles", "-1"):
        assert _detect(fake_nvml, FAKE_NVML_COUNT=4, CUDA_VISIBLE_DEVICES=none)["num_gpus"] == 0, none
    # The smaller of detected and visible: NVML reports 2 of the 2 listed.
    assert _detect(fake_nvml, FAKE_NVML_COUNT=2, CUDA_VISIBLE_DEVICES="0,1")["num_gpus"] == 2


def test_nvml_load_failure_means_zero_gpus_and_a_debug_log(fake_nvml, caplog):
    with caplog.at_level(logging.DEBUG, logger="lumos"):
        with _Env(LUMOS_NVML_LIBRARY="/nonexistent/libnvidia-ml.so.1", FAKE_NVML_COUNT=4):
            info = accelerators.detect()
            assert accelerators.node_gpus(None) == (0, None)
    assert not info["nvml_loaded"] and info["num_gpus"] == 0
    assert "cannot load NVML" in info["nvml_error"]
    assert any("no GPU detected" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    # A driver whose nvmlInit fails: the same, no crash.
    with _Env(LUMOS_NVML_LIBRARY=fake_nvml, FAKE_NVML_COUNT=4, FAKE_NVML_INIT_FAIL=1):
        info = accelerators.detect()
    assert info["num_gpus"] == 0 and "Driver Not Loaded" in info["nvml_error"]


def test_node_gpus_rules(fake_nvml):
    with _Env(LUMOS_NVML_LIBRARY=fake_nvml, FAKE_NVML_COUNT=2, FAKE_NVML_NAME="NVIDIA L4"):
        assert accelerators.node_gpus(None) == (2, "L4")
        assert accelerators.node_gpus(1) == (1, "L4")
        assert accelerators.node_gpus(0) == (0, None)
        with pytest.raises(ValueError, match=r"num_gpus=3 .*2 GPU"):
            accelerators.node_gpus(3)
    # No GPU detected: num_gpus declares logical GPUs (ids 0..n-1).
    with _Env(LUMOS_NVML_LIBRARY="/nonexistent/libnvidia-ml.so.1"):
        assert accelerators.node_gpus(4) == (4, None)


def test_worker_maps_ids_through_the_nodes_list(monkeypatch):
    """Ids index the node's CUDA_VISIBLE_DEVICES (indices or UUIDs)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "unchanged")
    monkeypatch.setattr(accelerators, "_node_visible", "GPU-aaa,GPU-bbb,5")
    monkeypatch.setattr(accelerators, "_env_value", None)
    try:
        accelerators.assign_gpus([2, 0])
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,GPU-aaa"
        accelerators.assign_gpus([])
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
        monkeypatch.setattr(accelerators, "_node_visible", None)
        accelerators.assign_gpus([1])
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    finally:
        accelerators._assigned = []


# ---------------------------------------------------------------- bad input (no cluster)

@pytest.mark.parametrize("opts, needle", [
    ({"num_gpus": 0.00001}, r"num_gpus=1e-05 has more than 4 decimal places"),
    ({"num_cpus": 0.12345}, r"num_cpus=0.12345 has more than 4 decimal places"),
    ({"resources": {"x": 1e-7}}, r"resources\['x'\]=1e-07 has more than 4 decimal places"),
    ({"num_gpus": -1}, r"num_gpus must be non-negative, got -1"),
    ({"num_gpus": 1.5}, r"num_gpus=1.5: a request above 1 GPU must be a whole number"),
    ({"accelerator_type": 3}, r"accelerator_type must be a GPU model name"),
])
def test_bad_task_options(opts, needle):
    with pytest.raises(ValueError, match=needle):
        lumos.remote(**opts)(lambda: 1)
    with pytest.raises(ValueError, match=needle):
        @lumos.remote(**opts)
        class A:
            pass


def test_fine_amounts_are_accepted():
    lumos.remote(num_gpus=0.0001, num_cpus=0.25, resources={"x": 0.1})(lambda: 1)
    lumos.remote(num_gpus=3)(lambda: 1)


def test_init_rejects_bad_gpu_setups(fake_nvml, no_cluster):
    with _Env(LUMOS_NVML_LIBRARY=fake_nvml, FAKE_NVML_COUNT=2, CUDA_VISIBLE_DEVICES="7"):
        with pytest.raises(ValueError, match=r"CUDA_VISIBLE_DEVICES entry '7' names no GPU .*2 detected"):
            lumos.init(num_cpus=1)
    with _Env(LUMOS_NVML_LIBRARY=fake_nvml, FAKE_NVML_COUNT=4, CUDA_VISIBLE_DEVICES="0,1"):
        with pytest.raises(ValueError, match=r"num_gpus=3 but CUDA_VISIBLE_DEVICES='0,1' makes only 2"):
            lumos.init(num_cpus=1, num_gpus=3)
    with pytest.raises(ValueError, match=r"num_gpus=1e-05 has more than 4 decimal places"):
        lumos.init(num_cpus=1, num_gpus=0.00001)
    with pytest.raises(ValueError, match=r"num_gpus=1.5: a node has a whole number of GPUs"):
        lumos.init(num_cpus=1, num_gpus=1.5)
    assert not lumos.is_initialized()


def test_cli_start_rejects_more_gpus_than_visible(fake_nvml, tmp_short):
    env = env_with_lumos(LUMOS_NVML_LIBRARY=fake_nvml, FAKE_NVML_COUNT=4, CUDA_VISIBLE_DEVICES="0,1")
    r = run_cli(["start", "--head", "--num-gpus", "3", "--temp-dir", tmp_short], env)
    assert r.returncode != 0
    assert "lumos start: num_gpus=3 but CUDA_VISIBLE_DEVICES='0,1' makes only 2 GPU(s) visible" in r.stderr, r.stderr


# ---------------------------------------------------------------- a cluster with 2 fake A100s

@pytest.fixture(scope="module")
def gpu_cluster(fake_nvml):
    if lumos.is_initialized():
        lumos.shutdown()
    with _Env(LUMOS_NVML_LIBRARY=fake_nvml, FAKE_NVML_COUNT=2):
        ctx, tmp = start_cluster(num_cpus=4)
        try:
            yield ctx
        finally:
            stop_cluster(tmp)


def _barrier(path, n, timeout=30):
    """Each caller adds a file under `path` and waits until there are n."""
    open(os.path.join(path, "%d" % os.getpid()), "w").close()
    deadline = time.time() + timeout
    while len(os.listdir(path)) < n:
        if time.time() > deadline:
            raise TimeoutError("barrier: %d of %d arrived" % (len(os.listdir(path)), n))
        time.sleep(0.02)


@lumos.remote
def _whoami():
    return os.getpid(), lumos.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")


def test_node_resources_from_detection(gpu_cluster):
    res = lumos.cluster_resources()
    assert res["GPU"] == 2.0
    assert res["accelerator_type:A100"] == 1.0
    assert lumos.get_gpu_ids() == []  # the driver is not assigned GPUs


def test_gpu_task_gets_its_ids_and_cuda_visible_devices(gpu_cluster):
    pid, ids, cvd = lumos.get(_whoami.options(num_gpus=1).remote(), timeout=60)
    assert len(ids) == 1 and ids[0] in (0, 1)
    assert cvd == str(ids[0])
    _, ids, cvd = lumos.get(_whoami.options(num_gpus=2).remote(), timeout=60)
    assert sorted(ids) == [0, 1] and sorted(cvd.split(",")) == ["0", "1"]
    # A task without GPUs sees none.
    _, ids, cvd = lumos.get(_whoami.remote(), timeout=60)
    assert ids == [] and cvd == ""


def test_concurrent_gpu_tasks_get_distinct_gpus(gpu_cluster, tmp_path):
    @lumos.remote(num_gpus=1)
    def hold(path):
        _barrier(path, 2)
        return lumos.get_gpu_ids()

    got = lumos.get([hold.remote(str(tmp_path)) for _ in range(2)], timeout=60)
    assert sorted(i for ids in got for i in ids) == [0, 1]


def test_fractional_gpus_pack_onto_one_gpu(gpu_cluster, tmp_path):
    @lumos.remote(num_gpus=0.5, num_cpus=0.5)
    def hold(path):
        _barrier(path, 4)
        return lumos.get_gpu_ids(), lumos.get_runtime_context().get_accelerator_ids()

    got = lumos.get([hold.remote(str(tmp_path)) for _ in range(4)], timeout=90)
    ids = sorted(r[0][0] for r in got)
    assert ids == [0, 0, 1, 1]  # two halves fill GPU 0 before GPU 1 opens
    assert all(r[1] == {"GPU": [str(r[0][0])]} for r in got)


def test_gpu_workers_are_not_reused(gpu_cluster):
    # Two functions (two leases; tasks of one function may share a lease and
    # so its GPUs), all GPUs each: the second lease waits for the first to be
    # returned, and a pooled worker would be the warmest idle one.
    @lumos.remote(num_gpus=2)
    def whoami_too():
        return os.getpid()

    first = lumos.get(_whoami.options(num_gpus=2).remote(), timeout=60)[0]
    second = lumos.get(whoami_too.remote(), timeout=60)
    assert first != second
    deadline = time.time() + 10
    while not _gone(first):
        assert time.time() < deadline, "the GPU worker %d outlived its lease" % first
        time.sleep(0.05)


def _gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_actor_keeps_its_gpus(gpu_cluster):
    @lumos.remote(num_gpus=1)
    class Trainer:
        def ids(self):
            return lumos.get_gpu_ids(), os.environ["CUDA_VISIBLE_DEVICES"]

    a, b = Trainer.remote(), Trainer.remote()
    try:
        ida = lumos.get(a.ids.remote(), timeout=60)
        idb = lumos.get(b.ids.remote(), timeout=60)
        assert sorted(ida[0] + idb[0]) == [0, 1]
        assert ida[1] == ",".join(str(i) for i in ida[0])
        assert lumos.get(a.ids.remote(), timeout=60) == ida  # stable across calls
    finally:  # free the GPUs for the next tests
        lumos.kill(a)
        lumos.kill(b)


def test_accelerator_type_option(gpu_cluster):
    ref = _whoami.options(num_gpus=1, accelerator_type="A100").remote()
    assert len(lumos.get(ref, timeout=60)[1]) == 1
    @lumos.remote(num_gpus=0.5, accelerator_type="A100")
    class OnA100:
        def ids(self):
            return lumos.get_gpu_ids()

    actor = OnA100.remote()
    try:
        assert len(lumos.get(actor.ids.remote(), timeout=60)) == 1
    finally:
        lumos.kill(actor)
    missing = _whoami.options(accelerator_type="V100").remote()
    ready, _ = lumos.wait([missing], timeout=1.0)
    assert ready == []  # no V100 node: it stays pending
    lumos.cancel(missing)


def test_blocked_gpu_task_lends_cpus_not_gpus(gpu_cluster, tmp_path):
    @lumos.remote(num_cpus=4)
    def child():
        start = time.time()
        time.sleep(1.0)
        return start, time.time()

    @lumos.remote(num_gpus=2, num_cpus=4)
    def parent():
        # The child needs all 4 CPUs: it runs only because this task, blocked
        # in get(), lends its CPUs back.
        times = lumos.get(child.remote())
        return times, time.time()

    @lumos.remote(num_gpus=1, num_cpus=0)
    def other():
        return time.time()

    p = parent.remote()
    time.sleep(0.3)
    o = other.remote()
    (child_start, child_end), parent_end = lumos.get(p, timeout=60)
    other_start = lumos.get(o, timeout=60)
    # The GPUs stayed with the blocked parent: `other` started after it ended.
    assert other_start >= parent_end - 0.05, (child_start, child_end, parent_end, other_start)


def test_gpu_bundle_tasks_and_actors_get_ids(gpu_cluster, tmp_path):
    from lumos.util.placement_group import placement_group, remove_placement_group
    from lumos.util.scheduling_strategies import PlacementGroupSchedulingStrategy
    pg = placement_group([{"GPU": 1, "CPU": 1}, {"GPU": 1, "CPU": 1}])
    assert pg.wait(30)
    try:
        @lumos.remote(num_gpus=1, num_cpus=1)
        def hold(path):
            _barrier(path, 2)
            return lumos.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")
        # One task per bundle at once: each gets its own GPU id.
        got = lumos.get([hold.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, i)).remote(
            str(tmp_path)) for i in (0, 1)], timeout=60)
        assert sorted(ids[0] for ids, _ in got) == [0, 1]
        assert all(cvd == str(ids[0]) for ids, cvd in got)
        # Any bundle (index -1), a fraction, and an actor.
        ids, cvd = lumos.get(_whoami.options(num_gpus=0.5, scheduling_strategy=PlacementGroupSchedulingStrategy(
            pg, -1)).remote(), timeout=60)[1:]
        assert len(ids) == 1 and cvd == str(ids[0])

        @lumos.remote(num_gpus=1)
        class G:
            def ids(self):
                return lumos.get_gpu_ids()
        a = G.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 1)).remote()
        assert len(lumos.get(a.ids.remote(), timeout=60)) == 1
        lumos.kill(a)
    finally:
        remove_placement_group(pg)


# ---------------------------------------------------------------- CUDA_VISIBLE_DEVICES end to end

def test_cuda_visible_devices_maps_ids(fake_nvml, ray_start_fn):
    with _Env(LUMOS_NVML_LIBRARY=fake_nvml, FAKE_NVML_COUNT=4, CUDA_VISIBLE_DEVICES="3,1"):
        ray_start_fn(num_cpus=2)
    assert lumos.cluster_resources()["GPU"] == 2.0
    _, ids, cvd = lumos.get(_whoami.options(num_gpus=2).remote(), timeout=60)
    assert sorted(ids) == [1, 3]  # the node's device names, not 0 and 1
    assert sorted(cvd.split(",")) == ["1", "3"]
