"""Top-level ids, lumos.cloudpickle, lumos.util.accelerators,
register_serializer, internal_kv, LoggingConfig / JobConfig at init, and
runtime_env's worker_process_setup_hook."""
import json
import logging
import os
import pickle
import threading

import pytest

import lumos as ray
from lumos.experimental import internal_kv as kv
from lumos.job_config import JobConfig
from lumos.util import accelerators

from conftest import PYTHON_DIR


# ---------------------------------------------------------------- ids

@pytest.mark.parametrize("cls,size", [(ray.JobID, 4), (ray.TaskID, 16), (ray.ActorID, 16), (ray.NodeID, 16),
                                      (ray.WorkerID, 16), (ray.PlacementGroupID, 16)])
def test_id_classes(cls, size):
    i = cls.from_random()
    assert cls.size() == size and len(i.binary()) == size
    assert cls.from_hex(i.hex()) == i and cls.from_binary(i.binary()) == i
    assert hash(cls.from_hex(i.hex())) == hash(i)
    assert pickle.loads(pickle.dumps(i)) == i
    assert cls.nil().is_nil() and not i.is_nil() or i.binary() == b"\0" * size
    assert cls.nil() != i and repr(i) == "%s(%s)" % (cls.__name__, i.hex())
    with pytest.raises(ValueError, match="bytes"):
        cls(b"\1" * (size + 1))
    with pytest.raises(TypeError, match="from_hex"):
        cls(i.hex())
    with pytest.raises(ValueError, match="hex string"):
        cls.from_hex("zz")


def test_ids_of_different_kinds_never_compare_equal():
    raw = b"\7" * 16
    assert ray.ActorID(raw) != ray.NodeID(raw)
    assert len({ray.ActorID(raw), ray.NodeID(raw), ray.TaskID(raw)}) == 3
    assert ray.JobID.from_int(7).int() == 7 and ray.JobID.from_int(7).hex() == "00000007"


def test_object_refs_and_generator_at_top_level_and_in_raylet(ray_start_1cpu):
    from lumos import _raylet
    assert ray.ObjectID is ray.ObjectRef is _raylet.ObjectID
    assert _raylet.ObjectRefGenerator is ray.ObjectRefGenerator
    assert _raylet.TaskID is ray.TaskID and _raylet.JobID is ray.JobID
    nil = ray.ObjectRef.nil()
    assert nil.is_nil() and nil.hex() == "0" * 40
    ref = ray.put(5)
    assert not ref.is_nil()
    assert ray.ObjectRef.from_hex(ref.hex()) == ref and ray.ObjectRef.from_binary(ref.binary()) == ref
    assert isinstance(ref.task_id(), ray.TaskID)

    @ray.remote
    def gen():
        yield 1

    g = gen.remote()
    assert isinstance(g, _raylet.ObjectRefGenerator)
    assert ray.get(next(g)) == 1


# ---------------------------------------------------------------- cloudpickle, accelerators

def test_cloudpickle_is_the_serializer_lumos_uses():
    scale = 3
    fn = lambda x: x * scale  # noqa: E731  (by value: a closure)
    data = ray.cloudpickle.dumps(fn)
    assert ray.cloudpickle.loads(data)(2) == 6
    assert pickle.loads(data)(2) == 6
    code = ray.cloudpickle.loads(ray.cloudpickle.dumps(test_cloudpickle_is_the_serializer_lumos_uses.__code__))
    assert code.co_filename == __file__  # lumos keeps code objects whole (file names kept)
    assert issubclass(ray.cloudpickle.Pickler, __import__("cloudpickle").Pickler)


def test_accelerator_constants_schedule_on_a_node_that_has_them(ray_start_fn):
    assert accelerators.NVIDIA_TESLA_V100 == "V100" and accelerators.NVIDIA_A100 == "A100"
    ray_start_fn(num_cpus=1, resources={"accelerator_type:V100": 1})

    @ray.remote(accelerator_type=accelerators.NVIDIA_TESLA_V100)
    def on_v100():
        return "ran"

    assert ray.get(on_v100.remote(), timeout=30) == "ran"
    ready, _ = ray.wait([on_v100.options(accelerator_type=accelerators.NVIDIA_H100).remote()], timeout=0.5)
    assert not ready  # no H100 here: stays pending, as in Ray


# ---------------------------------------------------------------- register_serializer

class Unpicklable:
    def __init__(self, value):
        self.value = value
        self.lock = threading.Lock()


def test_register_serializer_applies_to_put_and_task_arguments(ray_start_1cpu):
    with pytest.raises(TypeError):
        ray.put(Unpicklable(1))
    ray.util.register_serializer(Unpicklable, serializer=lambda o: o.value,
                                 deserializer=lambda v: Unpicklable(v * 10))
    try:
        assert ray.get(ray.put(Unpicklable(2))).value == 20
        assert ray.get(ray.put([{"k": Unpicklable(3)}]))[0]["k"].value == 30  # nested too

        @ray.remote
        def read(obj):
            return obj.value

        assert ray.get(read.remote(Unpicklable(4))) == 40  # the worker needs no registration
    finally:
        ray.util.deregister_serializer(Unpicklable)
    with pytest.raises(TypeError):
        ray.put(Unpicklable(1))
    ray.util.deregister_serializer(Unpicklable)  # nothing registered: nothing happens
    with pytest.raises(TypeError, match="wrap them"):
        ray.util.register_serializer(int, serializer=str, deserializer=int)


# ---------------------------------------------------------------- internal_kv

def test_internal_kv(ray_start_1cpu):
    assert kv._internal_kv_initialized()
    assert kv._internal_kv_put("k1", "v1", namespace="t") is False  # new key
    assert kv._internal_kv_put(b"k1", b"v2", overwrite=False, namespace="t") is True
    assert kv._internal_kv_get("k1", namespace="t") == b"v1"
    assert kv._internal_kv_get("k1") is None  # another namespace
    assert kv._internal_kv_exists("k1", namespace="t") and not kv._internal_kv_exists("nope", namespace="t")
    kv._internal_kv_put("k2", "x", namespace="t")
    assert sorted(kv._internal_kv_list("k", namespace="t")) == [b"k1", b"k2"]
    assert kv._internal_kv_del("k", del_by_prefix=True, namespace="t") == 2
    assert kv._internal_kv_list("k", namespace="t") == []
    with pytest.raises(TypeError, match="str or bytes"):
        kv._internal_kv_put("k", 5)

    @ray.remote
    def from_worker():
        from lumos.experimental import internal_kv
        internal_kv._internal_kv_put("w", "from a task", namespace="t")
        return internal_kv._internal_kv_get("w", namespace="t")

    assert ray.get(from_worker.remote()) == b"from a task"
    assert kv._internal_kv_get("w", namespace="t") == b"from a task"


def test_internal_kv_without_a_cluster(no_cluster):
    assert not kv._internal_kv_initialized()
    with pytest.raises(RuntimeError, match="lumos.init"):
        kv._internal_kv_get("x")


# ---------------------------------------------------------------- JobConfig / LoggingConfig

@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_job_config_runtime_env_metadata_namespace(ray_start_fn):
    config = JobConfig(runtime_env={"env_vars": {"JOB_CFG_VAR": "yes"}}, metadata={"team": "lumos"},
                       ray_namespace="job-cfg-ns")
    ctx = ray_start_fn(num_cpus=1, job_config=config)
    assert ctx.namespace == "job-cfg-ns"

    @ray.remote
    def env():
        return os.environ.get("JOB_CFG_VAR")

    assert ray.get(env.remote(), timeout=60) == "yes"
    entry = json.loads(kv._internal_kv_get(bytes.fromhex(ray.get_runtime_context().get_job_id()), namespace="job"))
    assert entry["metadata"] == {"team": "lumos"}


def test_init_arguments_win_over_job_config(ray_start_fn):
    config = JobConfig(runtime_env={"env_vars": {"A": "job"}}, ray_namespace="from-job")
    ctx = ray_start_fn(num_cpus=1, job_config=config, namespace="from-init", runtime_env={"env_vars": {"A": "init"}})
    assert ctx.namespace == "from-init"

    @ray.remote
    def env():
        return os.environ.get("A")

    assert ray.get(env.remote(), timeout=60) == "init"


def test_job_config_checks():
    with pytest.raises(ValueError, match="Python only"):
        JobConfig(jvm_options=["-Xmx1g"])
    with pytest.raises(ValueError, match="not built"):
        JobConfig(default_actor_lifetime="detached")
    with pytest.raises(TypeError, match="str to str"):
        JobConfig(metadata={"a": 1})
    with pytest.raises(ValueError, match="unknown runtime_env field"):
        JobConfig(runtime_env={"bogus": 1})
    c = JobConfig.from_json({"metadata": {"a": "b"}, "py_logging_config": {"encoding": "JSON"}})
    assert c.metadata == {"a": "b"} and c.py_logging_config.encoding == "JSON"
    with pytest.raises(ValueError, match="Invalid encoding"):
        ray.LoggingConfig(encoding="XML")
    with pytest.raises(ValueError, match="log_level"):
        ray.LoggingConfig(log_level="LOUD")
    with pytest.raises(ValueError, match="not LogRecord attributes"):
        ray.LoggingConfig(additional_log_standard_attrs=["nope"])


def test_logging_config_json_in_driver_and_workers(ray_start_fn, restore_root_logger, capfd):
    ray_start_fn(num_cpus=1, logging_config=ray.LoggingConfig(encoding="JSON", log_level="DEBUG",
                                                              additional_log_standard_attrs=["name"]))
    root = logging.getLogger()
    assert root.level == logging.DEBUG

    @ray.remote
    def log_something():
        logging.getLogger("user.task").debug("hello from a task")
        root = logging.getLogger()
        return root.level, [type(h.formatter).__name__ for h in root.handlers]

    level, formatters = ray.get(log_something.remote(), timeout=60)
    assert level == logging.DEBUG and "_Formatter" in formatters
    logging.getLogger("user.driver").debug("hello from the driver")
    lines = []
    deadline = __import__("time").monotonic() + 10
    while __import__("time").monotonic() < deadline:
        lines += capfd.readouterr().err.splitlines()
        if any("hello from a task" in line for line in lines) and any("hello from the driver" in l for l in lines):
            break
    records = [json.loads(line[line.index("{"):]) for line in lines if "hello from" in line and "{" in line]
    task_rec = next(r for r in records if r["message"] == "hello from a task")
    driver_rec = next(r for r in records if r["message"] == "hello from the driver")
    assert task_rec["levelname"] == "DEBUG" and task_rec["name"] == "user.task" and "task_id" in task_rec
    assert driver_rec["job_id"] == ray.get_runtime_context().get_job_id() and "task_id" not in driver_rec


# ---------------------------------------------------------------- worker_process_setup_hook

def _setup_marker():
    os.environ["SETUP_HOOK_RAN"] = "callable"


def test_setup_hook_callable_runs_once_per_worker_before_tasks(ray_start_fn):
    ray_start_fn(num_cpus=1, runtime_env={"worker_process_setup_hook": _setup_marker})

    @ray.remote
    def marker():
        return os.environ.get("SETUP_HOOK_RAN")

    assert ray.get(marker.remote(), timeout=60) == "callable"


def test_setup_hook_import_path_and_failure(ray_start_fn, tmp_path):
    mod = tmp_path / "hookmod_lumos_test.py"
    mod.write_text("import os\n\ndef setup():\n    os.environ['SETUP_HOOK_RAN'] = 'path'\n\n"
                   "def broken():\n    raise RuntimeError('hook exploded')\n")
    ray_start_fn(num_cpus=1, runtime_env={"py_modules": [str(mod)]})

    @ray.remote
    def marker():
        return os.environ.get("SETUP_HOOK_RAN")

    ok = marker.options(runtime_env={"worker_process_setup_hook": "hookmod_lumos_test.setup"})
    assert ray.get(ok.remote(), timeout=60) == "path"
    bad = marker.options(runtime_env={"worker_process_setup_hook": "hookmod_lumos_test.broken"})
    with pytest.raises(ray.exceptions.RuntimeEnvSetupError, match="hook exploded"):
        ray.get(bad.remote(), timeout=60)
    with pytest.raises(TypeError, match="import path"):
        marker.options(runtime_env={"worker_process_setup_hook": "not a path"})
    assert PYTHON_DIR  # the workers import lumos from this tree
