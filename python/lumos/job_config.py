"""lumos.job_config.JobConfig (Ray's ray.job_config.JobConfig): settings of
a driver's job, given to init(job_config=...).

Acted on: runtime_env (the job's environment, as init(runtime_env=...);
init's own runtime_env wins when both are given), metadata (str -> str,
recorded with the job in the GCS: the job's entry in the KV namespace "job"),
ray_namespace (the job's namespace; init's namespace= wins), and
py_logging_config (a LoggingConfig, like init(logging_config=...)).
Not built (a clear ValueError): Java options (jvm_options,
code_search_path) and default_actor_lifetime="detached".
"""
from lumos._private.logging_config import LoggingConfig
from lumos._private.runtime_env import validation as _env_validation


class JobConfig:
    def __init__(self, jvm_options=None, code_search_path=None, runtime_env=None, _client_job=False,
                 metadata=None, ray_namespace=None, default_actor_lifetime="non_detached",
                 _py_driver_sys_path=None, py_logging_config=None):
        if jvm_options or code_search_path:
            raise ValueError("JobConfig(jvm_options=..., code_search_path=...): lumos runs Python only; drop them")
        self.runtime_env = None
        self.metadata = {}
        self.ray_namespace = None
        self.default_actor_lifetime = "non_detached"
        self.py_driver_sys_path = list(_py_driver_sys_path or [])
        self.py_logging_config = None
        if runtime_env is not None:
            self.set_runtime_env(runtime_env)
        for k, v in (metadata or {}).items():
            self.set_metadata(k, v)
        if ray_namespace is not None:
            self.set_ray_namespace(ray_namespace)
        self.set_default_actor_lifetime(default_actor_lifetime)
        if py_logging_config is not None:
            self.set_py_logging_config(py_logging_config)

    def set_metadata(self, key, value):
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("job metadata maps str to str, got %r -> %r" % (key, value))
        self.metadata[key] = value

    def set_runtime_env(self, runtime_env, validate=False):
        _env_validation.validate(runtime_env)  # always: a mistake shows here, not at init
        self.runtime_env = None if runtime_env is None else dict(runtime_env)

    def set_ray_namespace(self, ray_namespace):
        if not isinstance(ray_namespace, str):
            raise TypeError("ray_namespace must be a string, got %r" % (ray_namespace,))
        self.ray_namespace = ray_namespace

    def set_default_actor_lifetime(self, default_actor_lifetime):
        if default_actor_lifetime == "detached":
            raise ValueError("JobConfig(default_actor_lifetime='detached') is not built in lumos yet; create "
                             "actors with .options(lifetime='detached')")
        if default_actor_lifetime not in ("non_detached", None):
            raise ValueError("default_actor_lifetime must be 'detached' or 'non_detached', got %r"
                             % (default_actor_lifetime,))
        self.default_actor_lifetime = "non_detached"

    def set_py_logging_config(self, logging_config):
        if logging_config is not None and not isinstance(logging_config, LoggingConfig):
            raise TypeError("py_logging_config must be a lumos.LoggingConfig, got %r" % (logging_config,))
        self.py_logging_config = logging_config

    def to_dict(self):
        return {"runtime_env": self.runtime_env, "metadata": dict(self.metadata),
                "ray_namespace": self.ray_namespace, "default_actor_lifetime": self.default_actor_lifetime,
                "py_logging_config": self.py_logging_config.to_dict() if self.py_logging_config else None}

    @classmethod
    def from_json(cls, job_config_json):
        """A JobConfig from its dict form (to_dict(), or Ray's JSON keys)."""
        d = dict(job_config_json)
        logging_config = d.pop("py_logging_config", None)
        config = cls(runtime_env=d.get("runtime_env"), metadata=d.get("metadata"),
                     ray_namespace=d.get("ray_namespace"),
                     default_actor_lifetime=d.get("default_actor_lifetime") or "non_detached")
        if logging_config:
            config.set_py_logging_config(LoggingConfig.from_dict(logging_config))
        return config

    def __repr__(self):
        return "JobConfig(%r)" % (self.to_dict(),)
