"""runtime_env set-up at the worker's start: env_vars are in place when the
worker's interpreter starts (variables Python reads at start-up take
effect, as in Ray), and a failed pip install is remembered only briefly: a
later request runs pip again."""
import os
import shutil
import subprocess
import sys
import time

import pytest

import lumos
from lumos import exceptions

from test_runtime_env import make_wheel

pytestmark = pytest.mark.timeout(120)


@lumos.remote
def startup_view():
    return hash("lumos"), sys.dont_write_bytecode, os.environ.get("RENV_X"), os.environ.get("LUMOS_RUNTIME_ENV_EXECED")


def test_env_vars_are_set_before_the_interpreter_starts(ray_start_fn):
    ray_start_fn(num_cpus=2)
    expected = int(subprocess.run([sys.executable, "-c", "print(hash('lumos'))"], capture_output=True, text=True,
                                  env=dict(os.environ, PYTHONHASHSEED="123"), timeout=60).stdout)
    env = {"env_vars": {"PYTHONHASHSEED": "123", "PYTHONDONTWRITEBYTECODE": "1", "RENV_X": "${HOME}/x"}}
    h, no_bytecode, x, marker = lumos.get(startup_view.options(runtime_env=env).remote(), timeout=60)
    assert h == expected and no_bytecode is True
    assert x == os.environ.get("HOME", "") + "/x"   # ${VAR} expanded once, not again after the exec
    assert marker is None                            # the exec's marker is not left to the task
    # Another environment with the same seed (new workers): the same hash.
    env2 = {"env_vars": {"PYTHONHASHSEED": "123", "RENV_X": "y"}}
    assert lumos.get(startup_view.options(runtime_env=env2).remote(), timeout=60)[:3:2] == (expected, "y")


@lumos.remote
def probe_version():
    import lumos_renv_probe
    return lumos_renv_probe.VERSION


def test_failed_pip_install_is_retried_on_a_later_request(ray_start_fn, tmp_path, monkeypatch):
    # Workers inherit the variable from the raylet, which inherits it from here.
    monkeypatch.setenv("LUMOS_RUNTIME_ENV_FAILURE_REMEMBERED_S", "1")
    ray_start_fn(num_cpus=2)
    built = make_wheel(str(tmp_path))
    wheel = str(tmp_path / "later" / os.path.basename(built))
    env = {"pip": {"packages": [wheel], "pip_install_options": ["--no-index"]}}
    with pytest.raises(exceptions.RuntimeEnvSetupError, match="pip install"):
        lumos.get(probe_version.options(runtime_env=env).remote(), timeout=60)
    os.makedirs(os.path.dirname(wheel))
    shutil.copy(built, wheel)          # the cause is fixed meanwhile
    time.sleep(1.5)                    # past the time a failure is remembered
    assert lumos.get(probe_version.options(runtime_env=env).remote(), timeout=90) == "0.1"
