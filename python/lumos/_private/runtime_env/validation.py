"""Checks a user's runtime_env and brings it to one normal form.

`validate(env)` returns a plain dict holding only the built fields, each in
one canonical shape, or raises TypeError/ValueError naming the field, what
was wrong and the fix. It touches no files except a pip requirements file
(read here so the environment's identity is its packages, not a path).
`merge(parent, child)` is Ray's inheritance rule: the child's fields replace
the parent's, except env_vars, which are merged key by key.
"""
import os
import re
import types

BUILT_FIELDS = ("env_vars", "working_dir", "py_modules", "pip", "excludes", "config", "worker_process_setup_hook")
# Ray fields lumos knows of but has not built: a clear error, never a silent ignore.
NOT_BUILT_FIELDS = ("conda", "container", "image_uri", "uv", "java_jars", "nsight", "rocprof_sys",
                    "mpi", "_inject_current_ray")
_PIP_KEYS = ("packages", "pip_install_options", "pip_check", "pip_version")
_CONFIG_KEYS = ("setup_timeout_seconds", "eager_install")


def validate(env):
    """The normal form of `env` (None or {} -> {})."""
    if env is None:
        return {}
    if not isinstance(env, dict):
        raise TypeError("runtime_env must be a dict (or lumos.runtime_env.RuntimeEnv), got %s %r"
                        % (type(env).__name__, env))
    out = {}
    for key, value in env.items():
        if not isinstance(key, str):
            raise TypeError("runtime_env keys must be strings, got %r" % (key,))
        if key in NOT_BUILT_FIELDS:
            raise ValueError("runtime_env field %r is not built in lumos yet (built: %s); drop it, or install "
                             "what it provides into the cluster's Python environment"
                             % (key, ", ".join(BUILT_FIELDS)))
        if key not in BUILT_FIELDS:
            raise ValueError("unknown runtime_env field %r; valid fields are: %s" % (key, ", ".join(BUILT_FIELDS)))
        if value is None:
            continue
        normal = _VALIDATORS[key](value)
        if normal not in (None, {}, []):
            out[key] = normal
    return out


def merge(parent, child):
    """`child` over `parent` (both normal forms): fields replace, env_vars merge."""
    if not child:
        return parent
    if not parent:
        return child
    out = dict(parent)
    for key, value in child.items():
        if key == "env_vars":
            merged = dict(parent.get("env_vars", {}))
            merged.update(value)
            out[key] = merged
        else:
            out[key] = value
    return out


def _env_vars(value):
    if not isinstance(value, dict):
        raise TypeError("runtime_env['env_vars'] must be a dict of str -> str, got %s %r"
                        % (type(value).__name__, value))
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("runtime_env['env_vars'] must map str to str, but %r -> %r is %s -> %s; convert "
                            "the value with str()" % (k, v, type(k).__name__, type(v).__name__))
        if not k or "=" in k or "\0" in k or "\0" in v:
            raise ValueError("runtime_env['env_vars'] has an invalid variable name or value: %r -> %r" % (k, v))
    return dict(value)


def _local_path(field, value):
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError("runtime_env[%r] must be a local path (str), got %s %r" % (field, type(value).__name__, value))
    value = os.fspath(value)
    if "://" in value:
        raise ValueError("runtime_env[%r]=%r: remote URIs are not built in lumos yet; give a local path"
                         % (field, value))
    return os.path.abspath(os.path.expanduser(value))


def _working_dir(value):
    path = _local_path("working_dir", value)
    if not os.path.isdir(path):
        raise ValueError("runtime_env['working_dir']=%r is not an existing local directory (zip files and "
                         "remote URIs are not built in lumos yet)" % (value,))
    return path


def _py_modules(value):
    if not isinstance(value, (list, tuple)):
        raise TypeError("runtime_env['py_modules'] must be a list of local paths or modules, got %s %r"
                        % (type(value).__name__, value))
    out = []
    for m in value:
        if isinstance(m, types.ModuleType):
            f = getattr(m, "__file__", None)
            if not f:
                raise ValueError("runtime_env['py_modules']: module %r has no __file__ to ship" % (m.__name__,))
            path = os.path.dirname(f) if os.path.basename(f) == "__init__.py" else f
        else:
            path = _local_path("py_modules", m)
        if path.endswith(".whl"):
            raise ValueError("runtime_env['py_modules']=%r: wheels are not built there in lumos; list the wheel "
                             "under 'pip' instead" % (m,))
        if not (os.path.isdir(path) or (os.path.isfile(path) and path.endswith(".py"))):
            raise ValueError("runtime_env['py_modules'] entry %r is not an existing local directory or .py file"
                             % (m,))
        out.append(path)
    return out


def _str_list(field, value):
    if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) for x in value):
        raise TypeError("runtime_env[%r] must be a list of strings, got %r" % (field, value))
    return [x.strip() for x in value if x.strip()]


def _pip(value):
    if isinstance(value, (str, os.PathLike)):
        path = os.path.abspath(os.path.expanduser(os.fspath(value)))
        if not os.path.isfile(path):
            raise ValueError("runtime_env['pip']=%r: a string must be the path of a requirements file, and none "
                             "exists there; give a list of requirements instead" % (value,))
        with open(path) as f:
            lines = [line.split(" #")[0].strip() for line in f]
        value = [line for line in lines if line and not line.startswith("#")]
    if isinstance(value, (list, tuple)):
        value = {"packages": list(value)}
    if not isinstance(value, dict):
        raise TypeError("runtime_env['pip'] must be a list of requirements, a requirements file path or a dict "
                        "with 'packages', got %s %r" % (type(value).__name__, value))
    for k in value:
        if k not in _PIP_KEYS:
            raise ValueError("unknown key %r in runtime_env['pip']; valid keys: %s" % (k, ", ".join(_PIP_KEYS)))
    if value.get("pip_version"):
        raise ValueError("runtime_env['pip']['pip_version'] is not built in lumos yet: environments use the "
                         "cluster's pip")
    packages = _str_list("pip.packages", value.get("packages", []))
    if not packages:
        return None
    out = {"packages": packages}
    options = _str_list("pip.pip_install_options", value.get("pip_install_options", []))
    if options:
        out["pip_install_options"] = options
    if value.get("pip_check"):
        out["pip_check"] = True
    return out


def _excludes(value):
    return _str_list("excludes", value)


def _config(value):
    if not isinstance(value, dict):
        raise TypeError("runtime_env['config'] must be a dict, got %r" % (value,))
    out = {}
    for k, v in value.items():
        if k not in _CONFIG_KEYS:
            raise ValueError("unknown key %r in runtime_env['config']; valid keys: %s" % (k, ", ".join(_CONFIG_KEYS)))
        if k == "setup_timeout_seconds":
            if isinstance(v, bool) or not isinstance(v, int) or (v <= 0 and v != -1):
                raise ValueError("runtime_env['config']['setup_timeout_seconds'] must be a positive int or -1 "
                                 "(no limit), got %r" % (v,))
            out[k] = v
        elif not isinstance(v, bool):
            raise TypeError("runtime_env['config']['eager_install'] must be a bool, got %r" % (v,))
        # eager_install is accepted and has no effect: environments are set
        # up when the first worker for them starts.
    return out


_HOOK_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def _setup_hook(value):
    """A callable (exported through the GCS when the env is resolved) or the
    import path "module.function" of one; the worker calls it once, before
    its first task."""
    if callable(value):
        return value
    if isinstance(value, str) and (_HOOK_PATH.match(value) or value.startswith(SETUP_HOOK_EXPORTED)):
        return value
    raise TypeError("runtime_env['worker_process_setup_hook'] must be a callable or an import path such as "
                    "'mypackage.setup.configure', got %s %r" % (type(value).__name__, value))


# Prefix of a hook exported to the GCS KV (namespace SETUP_HOOK_NS, key: what follows).
SETUP_HOOK_EXPORTED = "gcs-kv:"
SETUP_HOOK_NS = b"setup_hook"

_VALIDATORS = {"env_vars": _env_vars, "working_dir": _working_dir, "py_modules": _py_modules, "pip": _pip,
               "excludes": _excludes, "config": _config, "worker_process_setup_hook": _setup_hook}
