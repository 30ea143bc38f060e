"""runtime_env: env_vars, working_dir, py_modules and pip, at job level and
per task/actor; workers never shared between environments; bad input gives
clear errors. pip tests install a wheel built here by hand (no network)."""
import base64
import hashlib
import os
import sys
import time
import zipfile

import pytest

import lumos
from lumos import exceptions
from lumos._private.runtime_env import packaging, validation

pytestmark = pytest.mark.timeout(90)


def make_wheel(directory, name="lumos_renv_probe", version="0.1"):
    """A minimal pure-Python wheel: the package, METADATA, WHEEL and RECORD."""
    dist = "%s-%s" % (name, version)
    files = {
        "%s/__init__.py" % name: "VERSION = %r\n" % version,
        "%s.dist-info/METADATA" % dist: "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version),
        "%s.dist-info/WHEEL" % dist: "Wheel-Version: 1.0\nGenerator: lumos-test\nRoot-Is-Purelib: true\n"
                                     "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
    record.append("%s.dist-info/RECORD,," % dist)
    files["%s.dist-info/RECORD" % dist] = "\n".join(record) + "\n"
    path = os.path.join(directory, "%s-py3-none-any.whl" % dist)
    with zipfile.ZipFile(path, "w") as z:
        for name_in_zip, text in files.items():
            z.writestr(name_in_zip, text)
    return path


@lumos.remote
def getenv(*names):
    return [os.environ.get(n) for n in names]


@lumos.remote
def whoami():
    return os.getpid(), os.environ.get("RENV_MARK")


# ---------------------------------------------------------------- bad input

def test_bad_input_is_rejected_clearly(no_cluster):
    with pytest.raises(TypeError, match="runtime_env must be a dict"):
        lumos.remote(runtime_env=["env_vars"])(lambda: 1)
    with pytest.raises(TypeError, match=r"env_vars.*'N' -> 1 is str -> int"):
        getenv.options(runtime_env={"env_vars": {"N": 1}})
    with pytest.raises(ValueError, match="unknown runtime_env field 'bogus'"):
        getenv.options(runtime_env={"bogus": 1})
    with pytest.raises(ValueError, match="field 'conda' is not built"):
        getenv.options(runtime_env={"conda": "myenv"})
    with pytest.raises(ValueError, match="not an existing local directory"):
        getenv.options(runtime_env={"working_dir": "/nonexistent/lumos/dir"})
    with pytest.raises(ValueError, match="remote URIs are not built"):
        getenv.options(runtime_env={"working_dir": "s3://bucket/x.zip"})
    with pytest.raises(TypeError, match="pip"):
        getenv.options(runtime_env={"pip": 3})

    @lumos.remote
    class A:
        pass
    with pytest.raises(ValueError, match="field 'container' is not built"):
        A.options(runtime_env={"container": {}})
    # init checks before it starts anything (the autouse fixture checks for leftovers).
    with pytest.raises(TypeError, match="runtime_env must be a dict"):
        lumos.init(runtime_env="pip")
    assert not lumos.is_initialized()
    with pytest.raises(TypeError):
        lumos.runtime_env.RuntimeEnv(env_vars={"A": 2})


def test_merge_and_snapshot_units(tmp_path, monkeypatch):
    parent = validation.validate({"env_vars": {"A": "1", "B": "1"}, "pip": ["x"]})
    child = validation.validate({"env_vars": {"B": "2"}, "py_modules": []})
    assert validation.merge(parent, child) == {"env_vars": {"A": "1", "B": "2"}, "pip": {"packages": ["x"]}}
    assert validation.validate({"env_vars": {}, "pip": []}) == {}
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.py").write_text("x = 1\n")
    (src / "sub" / "big.bin").write_bytes(b"0" * 5000)
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "a.pyc").write_bytes(b"junk")
    d1 = packaging.snapshot(str(src), str(tmp_path / "snap"), "working_dir", excludes=["*.bin"])
    assert sorted(os.listdir(d1)) == ["a.py"]
    assert packaging.snapshot(str(src), str(tmp_path / "snap"), "working_dir", excludes=["*.bin"]) == d1
    (src / "a.py").write_text("x = 2\n")
    d2 = packaging.snapshot(str(src), str(tmp_path / "snap"), "working_dir", excludes=["*.bin"])
    assert d2 != d1 and open(os.path.join(d1, "a.py")).read() == "x = 1\n"
    monkeypatch.setattr(packaging, "MAX_BYTES", 4096)
    with pytest.raises(ValueError, match="more than 0 MiB.*excludes"):
        packaging.snapshot(str(src), str(tmp_path / "snap"), "working_dir")
    assert not [n for n in os.listdir(tmp_path / "snap") if n.startswith(".tmp")]


# ---------------------------------------------------------------- env_vars

def test_env_vars_job_level_and_per_task_override(ray_start_fn):
    ray_start_fn(num_cpus=2, runtime_env={"env_vars": {"RENV_A": "job", "RENV_B": "job"}})
    assert os.environ.get("RENV_A") is None  # the driver's own environment is untouched
    assert lumos.get_runtime_context().runtime_env == {"env_vars": {"RENV_A": "job", "RENV_B": "job"}}
    assert lumos.get(getenv.remote("RENV_A", "RENV_B")) == ["job", "job"]
    over = getenv.options(runtime_env={"env_vars": {"RENV_B": "task", "RENV_C": "c"}})
    assert lumos.get(over.remote("RENV_A", "RENV_B", "RENV_C")) == ["job", "task", "c"]
    as_object = getenv.options(runtime_env=lumos.runtime_env.RuntimeEnv(env_vars={"RENV_B": "object"}))
    assert lumos.get(as_object.remote("RENV_A", "RENV_B")) == ["job", "object"]
    # Ray's ${VAR}: expanded against the worker's own environment.
    expanded = getenv.options(runtime_env={"env_vars": {"RENV_D": "${HOME}/x:${RENV_UNSET_VAR}"}})
    assert lumos.get(expanded.remote("RENV_D")) == [os.environ.get("HOME", "") + "/x:"]

    @lumos.remote(runtime_env={"env_vars": {"RENV_A": "decorated"}})
    def ctx():
        return dict(lumos.get_runtime_context().runtime_env), os.environ["RENV_A"]
    env, a = lumos.get(ctx.remote())
    assert a == "decorated" and env == {"env_vars": {"RENV_A": "decorated", "RENV_B": "job"}}

    @lumos.remote
    def cmdline():
        with open("/proc/self/cmdline", "rb") as f:
            return f.read()
    # The environment reaches the worker in a session file, not on its command
    # line (where ps would show secrets passed as env_vars).
    line = lumos.get(cmdline.remote())
    assert b"--runtime-env-file=" in line and b"RENV_A" not in line


def test_workers_are_not_shared_between_envs(ray_start_fn):
    ray_start_fn(num_cpus=2)
    plain_pid, plain_mark = lumos.get(whoami.remote())
    assert plain_mark is None
    a = whoami.options(runtime_env={"env_vars": {"RENV_MARK": "a"}})
    b = whoami.options(runtime_env={"env_vars": {"RENV_MARK": "b"}})
    seen = {None: {plain_pid}}
    for _ in range(3):  # interleaved: each env keeps getting its own workers
        for opt, mark in ((a, "a"), (b, "b"), (whoami, None)):
            pid, got = lumos.get(opt.remote())
            assert got == mark
            seen.setdefault(mark, set()).add(pid)
    assert not (seen["a"] & seen["b"]) and not (seen["a"] & seen[None]) and not (seen["b"] & seen[None])

    @lumos.remote
    def parent():
        # A child submitted without runtime_env inherits the parent's.
        return os.getpid(), lumos.get(whoami.remote())
    ppid, (cpid, mark) = lumos.get(parent.options(runtime_env={"env_vars": {"RENV_MARK": "p"}}).remote())
    assert mark == "p" and cpid not in seen[None]


def test_actor_env_vars_and_context(ray_start_fn):
    ray_start_fn(num_cpus=2, runtime_env={"env_vars": {"RENV_A": "job"}})

    @lumos.remote
    class Probe:
        def get(self, name):
            return os.environ.get(name)

        def env(self):
            return lumos.get_runtime_context().runtime_env

    p = Probe.options(runtime_env={"env_vars": {"RENV_B": "actor"}}).remote()
    assert lumos.get([p.get.remote("RENV_A"), p.get.remote("RENV_B")]) == ["job", "actor"]
    assert lumos.get(p.env.remote())["env_vars"] == {"RENV_A": "job", "RENV_B": "actor"}
    q = Probe.remote()
    assert lumos.get(q.get.remote("RENV_B")) is None


# ---------------------------------------------------------------- working_dir and py_modules

def test_working_dir_import_cwd_and_snapshot(ray_start_fn, tmp_path):
    wd = tmp_path / "proj"
    wd.mkdir()
    (wd / "renv_wd_mod.py").write_text("WHAT = 'first'\n")
    (wd / "data.txt").write_text("hello")
    ray_start_fn(num_cpus=2, runtime_env={"working_dir": str(wd)})

    @lumos.remote
    def use():
        import renv_wd_mod
        with open("data.txt") as f:
            return renv_wd_mod.WHAT, f.read(), os.getcwd(), sys.path[0]
    what, data, cwd, first = lumos.get(use.remote())
    assert (what, data) == ("first", "hello")
    assert cwd == first and cwd != str(wd) and "runtime_resources" in cwd
    assert lumos.get_runtime_context().runtime_env["working_dir"] == cwd
    # Edits after the job started do not reach it (the snapshot is taken once).
    (wd / "renv_wd_mod.py").write_text("WHAT = 'second'\n")
    assert lumos.get(use.remote())[0] == "first"
    # A per-task working_dir is snapshotted when first used: it has the edit.
    assert lumos.get(use.options(runtime_env={"working_dir": str(wd)}).remote())[0] == "second"
    other = tmp_path / "other"
    other.mkdir()
    (other / "renv_wd_mod.py").write_text("WHAT = 'other'\n")
    (other / "data.txt").write_text("x")
    assert lumos.get(use.options(runtime_env={"working_dir": str(other)}).remote())[:2] == ("other", "x")


def test_py_modules(ray_start_fn, tmp_path):
    pkg = tmp_path / "renv_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("NAME = 'pkg'\n")
    single = tmp_path / "renv_single.py"
    single.write_text("NAME = 'single'\n")
    ray_start_fn(num_cpus=2)

    @lumos.remote(runtime_env={"py_modules": [str(pkg), str(single)]})
    def use():
        import renv_pkg
        import renv_single
        return renv_pkg.NAME, renv_single.NAME
    assert lumos.get(use.remote()) == ("pkg", "single")

    @lumos.remote
    def plain():
        try:
            import renv_pkg  # noqa: F401
        except ImportError:
            return "absent"
        return "present"
    assert lumos.get(plain.remote()) == "absent"


# ---------------------------------------------------------------- pip

def test_pip_local_wheel(ray_start_fn, tmp_path):
    wheel = make_wheel(str(tmp_path))
    ray_start_fn(num_cpus=2)

    @lumos.remote
    def use():
        import lumos_renv_probe
        import numpy
        return lumos_renv_probe.VERSION, sys.prefix, os.environ.get("RENV_A"), int(numpy.arange(3).sum())
    env = {"pip": {"packages": [wheel], "pip_install_options": ["--no-index"]}, "env_vars": {"RENV_A": "x"}}
    start = time.monotonic()
    version, prefix, a, total = lumos.get(use.options(runtime_env=env).remote(), timeout=60)
    assert (version, a, total) == ("0.1", "x", 3)
    assert "runtime_resources" in prefix and prefix != sys.prefix
    # The venv is cached: a second environment with the same pip spec (other
    # env_vars, so new workers) starts without installing again.
    env2 = dict(env, env_vars={"RENV_A": "y"})
    first = time.monotonic() - start
    start = time.monotonic()
    assert lumos.get(use.options(runtime_env=env2).remote(), timeout=60)[:3] == ("0.1", prefix, "y")
    assert time.monotonic() - start < max(first, 5)
    with pytest.raises(ImportError):
        import lumos_renv_probe  # noqa: F401  (only the environment has it)


def test_pip_bad_requirement_fails_fast(ray_start_fn, tmp_path):
    ray_start_fn(num_cpus=2)
    missing = str(tmp_path / "nope" / "lumos_renv_missing-0.1-py3-none-any.whl")
    bad = getenv.options(runtime_env={"pip": [missing]})
    start = time.monotonic()
    with pytest.raises(exceptions.RuntimeEnvSetupError, match="lumos_renv_missing") as info:
        lumos.get(bad.remote("HOME"), timeout=60)
    assert "pip install" in str(info.value)
    assert time.monotonic() - start < 60
    # Again: the failure is remembered, not retried; other tasks are unaffected.
    with pytest.raises(exceptions.RuntimeEnvSetupError):
        lumos.get(bad.remote("HOME"), timeout=30)
    assert lumos.get(getenv.remote("RENV_NONE")) == [None]

    @lumos.remote
    class Needs:
        def ping(self):
            return 1
    actor = Needs.options(runtime_env={"pip": [missing]}).remote()
    with pytest.raises(exceptions.RayActorError, match="runtime_env"):
        lumos.get(actor.ping.remote(), timeout=30)
