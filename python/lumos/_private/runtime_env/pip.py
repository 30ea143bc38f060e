"""Virtual environments for runtime_env['pip'], one per distinct pip spec.

`ensure_venv(spec, session_dir)` returns the directory of a venv holding the
spec's packages, creating it on first use. It runs in a worker that was
started for the environment, before that worker registers; several may run
at once, so an flock on `<root>/lock` lets one install while the others
wait, and markers record the outcome: `ok`, or `error` (the message). An
error is remembered for failure_remembered_s() only (the workers started for
the same burst of tasks fail at once instead of each running pip again); a
worker that finds an older one runs pip again, so a failed install (a
network glitch, a wheel put in place since) is retried on the next request.

The venv is made with --system-site-packages and --without-pip (fast), and a
`.pth` file adds the creating interpreter's own site directories (when it
is itself a venv, its packages -- lumos, cloudpickle, numpy -- are not in the
base "system" site-packages). The venv's own site-packages come first, so a
package pinned by the spec wins over the cluster's copy. pip itself runs
from the cluster's installation, inside the venv's interpreter, so it
installs into the venv.
"""
import fcntl
import hashlib
import json
import os
import site
import subprocess
import sys
import time

DEFAULT_TIMEOUT_S = 600
_TAIL_LINES = 12
FAILURE_REMEMBERED_S = 10.0   # default of failure_remembered_s()


def failure_remembered_s():
    """How long a failed environment set-up is reused before one is tried
    again: $LUMOS_RUNTIME_ENV_FAILURE_REMEMBERED_S (seconds), else 10 s."""
    try:
        return max(0.0, float(os.environ.get("LUMOS_RUNTIME_ENV_FAILURE_REMEMBERED_S", FAILURE_REMEMBERED_S)))
    except ValueError:
        return FAILURE_REMEMBERED_S


class SetupError(Exception):
    """pip could not build the environment; the message says why."""


def venv_dir(spec, session_dir):
    # base_prefix, not the executable: it is the same in the venv's python,
    # which must find the same directory after the exec.
    key = json.dumps([spec, sys.version, os.path.realpath(sys.base_prefix)], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return os.path.join(session_dir, "runtime_resources", "pip", digest)


def python_of(venv):
    return os.path.join(venv, "venv", "bin", "python")


def _parent_site_dirs():
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
        dirs.append(site.getusersitepackages())
    base = os.path.realpath(sys.base_prefix)
    return [d for d in dirs if os.path.isdir(d) and not os.path.realpath(d).startswith(base + os.sep)]


def _tail(text, n=_TAIL_LINES):
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-n:])


def ensure_venv(spec, session_dir, timeout_s=DEFAULT_TIMEOUT_S):
    """The venv root for `spec` ({"packages": [...], ...}); raises SetupError."""
    root = venv_dir(spec, session_dir)
    os.makedirs(root, exist_ok=True)
    ok_marker = os.path.join(root, "ok")
    error_marker = os.path.join(root, "error")
    if os.path.exists(ok_marker):
        return root
    with open(os.path.join(root, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(ok_marker):
            return root
        if os.path.exists(error_marker):
            if time.time() - os.path.getmtime(error_marker) < failure_remembered_s():
                with open(error_marker) as f:
                    raise SetupError(f.read())
            os.unlink(error_marker)   # an old failure: this request tries again
        try:
            _build(spec, root, timeout_s)
        except SetupError as e:
            with open(error_marker, "w") as f:
                f.write(str(e))
            raise
        with open(ok_marker, "w") as f:
            f.write(time.strftime("%Y-%m-%d %H:%M:%S\n"))
    return root


def _build(spec, root, timeout_s):
    venv = os.path.join(root, "venv")
    packages = spec["packages"]
    deadline = None if timeout_s in (None, -1) else time.monotonic() + timeout_s

    def run(cmd, what):
        left = None if deadline is None else max(1.0, deadline - time.monotonic())
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        env.pop("PYTHONPATH", None)
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=left,
                               env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            out = e.output.decode() if isinstance(e.output, bytes) else (e.output or "")
            raise SetupError("%s for runtime_env pip %s did not finish within %ss (runtime_env['config']"
                             "['setup_timeout_seconds']); last output:\n%s" % (what, packages, timeout_s, _tail(out)))
        except OSError as e:
            raise SetupError("%s for runtime_env pip %s could not run: %s" % (what, packages, e))
        if p.returncode != 0:
            raise SetupError("%s for runtime_env pip %s failed (exit code %d):\n%s"
                             % (what, packages, p.returncode, _tail(p.stdout)))
        return p.stdout

    if os.path.isdir(venv):  # a half-built one from a worker that was killed
        import shutil
        shutil.rmtree(venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv], "creating the venv")
    lib = os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    with open(os.path.join(lib, "_lumos_parent_env.pth"), "w") as f:
        for d in _parent_site_dirs():
            f.write("import site; site.addsitedir(%r)\n" % d)
    py = python_of(root)
    cmd = [py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    cmd += spec.get("pip_install_options", [])
    cmd += packages
    log = run(cmd, "pip install")
    if spec.get("pip_check"):
        run([py, "-m", "pip", "check"], "pip check")
    with open(os.path.join(root, "pip-install.log"), "w") as f:
        f.write(log)
