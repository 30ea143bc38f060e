"""Ray's `ray.runtime_env` module: RuntimeEnv and RuntimeEnvConfig.

Both are plain dicts (so they pass wherever a runtime_env dict does); the
constructors only drop the fields left at None and check the rest at once,
so a mistake shows where the environment is written. Built fields: env_vars,
working_dir, py_modules, pip, excludes, config (see docs/ARCHITECTURE.md,
"Runtime environments").
"""
from lumos._private.runtime_env import validation as _validation


class RuntimeEnvConfig(dict):
    """runtime_env['config']: setup_timeout_seconds (pip), eager_install (accepted)."""

    def __init__(self, setup_timeout_seconds=600, eager_install=True):
        super().__init__(setup_timeout_seconds=setup_timeout_seconds, eager_install=eager_install)
        _validation.validate({"config": dict(self)})


class RuntimeEnv(dict):
    """A runtime environment for a job (`init(runtime_env=...)`), a task or an actor."""

    def __init__(self, *, py_modules=None, working_dir=None, pip=None, env_vars=None, config=None,
                 excludes=None, **kwargs):
        fields = dict(py_modules=py_modules, working_dir=working_dir, pip=pip, env_vars=env_vars, config=config,
                      excludes=excludes, **kwargs)
        super().__init__({k: v for k, v in fields.items() if v is not None})
        _validation.validate(dict(self))

    def to_dict(self):
        return dict(self)


__all__ = ["RuntimeEnv", "RuntimeEnvConfig"]
