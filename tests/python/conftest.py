"""Shared fixtures: one lumos cluster per test module, a fresh one per test
where a test needs its own shape, and a check that no process a test started
outlives its shutdown.

Temp dirs are short (/tmp/ltXXXX) so socket paths stay under 100 bytes.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import psutil
import pytest

import lumos

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON_DIR = os.path.join(REPO, "python")

SHARED_CPUS = 2


def run_cli(args, env, timeout=30):
    """Runs `lumos <args>` (python -m lumos.scripts.cli) in a subprocess."""
    return subprocess.run([sys.executable, "-m", "lumos.scripts.cli"] + args, capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=REPO)


def processes_under(root):
    """Live processes whose command line names `root` (a test's private tmp dir)."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(root in a for a in (p.info["cmdline"] or [])) and p.pid != os.getpid():
                if p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
        except psutil.Error:
            pass
    return found


def short_tmpdir():
    return tempfile.mkdtemp(prefix="lt", dir="/tmp")


def _alive(proc):
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_gone(procs, timeout=3.0):
    """The processes of `procs` (psutil.Process) still alive after `timeout` s."""
    deadline = time.monotonic() + timeout
    left = [p for p in procs if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if _alive(p)]
    return left


def describe(procs):
    out = []
    for p in procs:
        try:
            out.append("%d %s" % (p.pid, " ".join(p.cmdline())[:160]))
        except psutil.Error:
            out.append("%d <gone>" % p.pid)
    return out


def live_children():
    return [p for p in psutil.Process().children(recursive=True) if _alive(p)]


def stop_cluster(tmp_dir=None):
    """shutdown(), then check that every process the cluster had (gcs, raylet,
    and the workers the raylet started) is gone within ~3 s."""
    before = psutil.Process().children(recursive=True)
    lumos.shutdown()
    left = wait_gone(before, 3.0)
    if tmp_dir:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    assert not left, "processes outlived lumos.shutdown(): %s" % describe(left)


def start_cluster(**kwargs):
    tmp = short_tmpdir()
    try:
        ctx = lumos.init(_temp_dir=tmp, **kwargs)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ctx, tmp


def module_cluster(**kwargs):
    """Body of a module-scoped fixture with a cluster of its own (stopping
    any cluster still up first): `yield from module_cluster(num_cpus=4)`."""
    if lumos.is_initialized():
        lumos.shutdown()
    ctx, tmp = start_cluster(**kwargs)
    yield ctx
    stop_cluster(tmp)


def wait_until(pred, timeout=20.0, interval=0.02):
    """Polls `pred` until it is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return pred()


class _Shared:
    """The module's shared cluster; a function-scoped cluster pauses it."""
    ctx = None
    tmp = None
    active = False


def _shared_stop():
    if _Shared.active:
        _Shared.active = False
        stop_cluster(_Shared.tmp)


def _shared_start():
    ctx, tmp = start_cluster(num_cpus=SHARED_CPUS)
    if _Shared.ctx is None:
        _Shared.ctx = ctx
    else:  # keep the dict the module received up to date
        _Shared.ctx.clear()
        _Shared.ctx.update(ctx)
    _Shared.tmp = tmp
    _Shared.active = True


@pytest.fixture(scope="module")
def ray_start():
    """A 2-CPU cluster shared by the tests of one module; yields init()'s context."""
    if lumos.is_initialized():
        lumos.shutdown()
    _Shared.ctx = None
    _shared_start()
    yield _Shared.ctx
    _shared_stop()
    _Shared.ctx = None


@pytest.fixture
def ray_start_fn(request):
    """A fresh cluster for one test: `ctx = ray_start_fn(num_cpus=1, ...)`.
    A module's shared cluster is stopped for the test and restarted after."""
    paused = _Shared.active
    started = []

    def start(**kwargs):
        if lumos.is_initialized():
            if _Shared.active:
                _shared_stop()
            else:
                lumos.shutdown()
        ctx, tmp = start_cluster(**kwargs)
        started.append(tmp)
        return ctx

    yield start
    try:
        if started:
            stop_cluster(started[-1])
        for tmp in started:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if paused and not _Shared.active:
            _shared_start()


@pytest.fixture
def no_cluster(ray_start_fn):
    """No cluster connected during the test (a module's shared one is paused)."""
    if lumos.is_initialized():
        if _Shared.active:
            _shared_stop()
        else:
            lumos.shutdown()
    yield ray_start_fn


@pytest.fixture
def ray_start_1cpu(ray_start_fn):
    """A fresh 1-CPU cluster for one test."""
    return ray_start_fn(num_cpus=1)


@pytest.fixture(autouse=True)
def _no_leftover_processes():
    """When a test ends with no cluster connected, the test process has no
    live child left (within ~3 s)."""
    yield
    if lumos.is_initialized():
        return
    deadline = time.monotonic() + 3.0
    left = live_children()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = live_children()
    assert not left, "child processes outlived the test: %s" % describe(left)


# ---------------------------------------------------------------- subprocess helpers

def env_with_lumos(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    for k in ("LUMOS_ADDRESS", "RAY_ADDRESS"):
        env.pop(k, None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def tmp_short():
    d = short_tmpdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)
