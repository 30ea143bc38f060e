"""Applies a runtime environment inside a worker started for it, before the
worker imports any user code or registers with the raylet.

Order: env_vars are set first, before any user code or library is imported
(so variables read at import time take effect). When one of them is read by
the interpreter, the dynamic loader or libc as the process starts
(_AT_START: PYTHONHASHSEED, PYTHONPATH and the other PYTHON* ones, LD_*,
MALLOC_*, locale, TZ) and changes the environment, the process exec's itself
(same pid, so the raylet still knows it) so that it is in place at start, as
Ray's are; other variables cost no exec. A pip environment's exec into its
venv's python is that same exec. Then the cwd moves to working_dir, and
working_dir and py_modules go to the front of sys.path.

Failures do not end the process (the raylet would only start another one
that fails the same way): `apply` returns the message, and the worker serves
its tasks by failing each with RuntimeEnvSetupError.
"""
import json
import os
import re
import sys

from lumos._private.runtime_env import pip as _pip

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EXECED = "LUMOS_RUNTIME_ENV_EXECED"
# Variables the process reads as it starts: changing one needs a new interpreter.
_AT_START = re.compile(r"^(PYTHON.*|LD_.*|MALLOC_.*|GLIBC_TUNABLES|LANG|LANGUAGE|LC_.*|TZ)$")


def _expand(value):
    """Ray's ${VAR} references to the worker's existing environment."""
    return _VAR.sub(lambda m: os.environ.get(m.group(1), ""), value)


def _exec(python, module, marker):
    """Replaces this process by `python -m module` with the same arguments;
    `marker` tells the new interpreter which exec it came from."""
    os.environ[_EXECED] = marker
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, [python, "-m", module] + sys.argv[1:])


def apply(env_json, session_dir, module="lumos._private.workers.default_worker"):
    """Sets the process up for `env_json`. Returns (env dict, error message or None).
    May not return: exec's the venv's python for a pip environment."""
    try:
        env = json.loads(env_json)
    except ValueError as e:
        return {}, "the runtime_env the worker was started with is not valid JSON: %s" % e
    pip_spec = env.get("pip")
    # Set by this function before its exec; popped so the worker's own
    # children do not inherit it.
    execed = os.environ.pop(_EXECED, "")
    # After the exec below the variables are already set (and inherited):
    # expanding "${PATH}:/x" again would repeat the addition.
    in_venv = bool(pip_spec) and os.path.realpath(sys.prefix) == os.path.realpath(
        os.path.join(_pip.venv_dir(pip_spec, session_dir), "venv"))
    changed = False
    if not in_venv and not execed:
        for k, v in env.get("env_vars", {}).items():
            value = _expand(v)
            changed = changed or (os.environ.get(k) != value and bool(_AT_START.match(k)))
            os.environ[k] = value
    if changed and not pip_spec:
        # The interpreter read its start-up variables already: start it again.
        _exec(sys.executable, module, "env_vars")
    if pip_spec and not in_venv:
        timeout = env.get("config", {}).get("setup_timeout_seconds", _pip.DEFAULT_TIMEOUT_S)
        try:
            root = _pip.ensure_venv(pip_spec, session_dir, timeout)
        except _pip.SetupError as e:
            return env, "runtime_env setup failed: %s" % e
        except OSError as e:
            return env, "runtime_env setup failed: cannot prepare the pip environment: %s" % e
        python = _pip.python_of(root)
        if execed == root:  # never an exec loop
            return env, "runtime_env setup failed: %s does not run inside its venv (sys.prefix=%s)" % (
                python, sys.prefix)
        _exec(python, module, root)
    front = []
    wd = env.get("working_dir")
    if wd:
        try:
            os.chdir(wd)
        except OSError as e:
            return env, "runtime_env setup failed: cannot enter working_dir %s: %s" % (wd, e)
        front.append(wd)
    front.extend(env.get("py_modules", []))
    for p in front:
        if not os.path.isdir(p):
            return env, "runtime_env setup failed: %s is gone (the session's runtime_resources were removed?)" % p
    sys.path[0:0] = front
    return env, None


def run_setup_hook(hook, gcs):
    """Runs runtime_env['worker_process_setup_hook'] (an import path, or a
    callable exported to the GCS KV) once, in a connected worker before its
    first task. Returns None, or the error message (with the traceback)
    every task of this worker then fails with."""
    import importlib
    import traceback
    from lumos._private.runtime_env import validation
    try:
        if hook.startswith(validation.SETUP_HOOK_EXPORTED):
            pickled = gcs.kv_get(validation.SETUP_HOOK_NS, hook[len(validation.SETUP_HOOK_EXPORTED):])
            if pickled is None:
                return "runtime_env setup failed: the worker_process_setup_hook was not found in the GCS"
            import pickle
            paths, pickled = pickle.loads(pickled)
            sys.path.extend(p for p in paths if p not in sys.path)  # behind working_dir/py_modules
            fn = pickle.loads(pickled)
        else:
            module, _, name = hook.rpartition(".")
            fn = getattr(importlib.import_module(module), name)
        fn()
    except BaseException:
        return "runtime_env setup failed: worker_process_setup_hook %s raised:\n%s" % (
            hook, traceback.format_exc())
    return None
