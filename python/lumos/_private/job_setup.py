"""What init() does with job_config= and logging_config=: before connecting,
resolve() folds them into init's own arguments (init's runtime_env and
namespace win, as in Ray) and checks them; after connecting, publish()
records the job's metadata and logging config in the job's GCS entry
(KV namespace "job", read by workers before their first task of the job)
and applies the logging config in the driver. Workers apply it in
FunctionLoader before their first task of the job.
"""
import json

from lumos._private import logging_config as _logging
from lumos._private.function_manager import JOB_NS
from lumos.job_config import JobConfig


def resolve(job_config, logging_config, runtime_env, namespace):
    """(runtime_env, namespace, extra job entry fields) for init()."""
    from lumos.job_submission import driver_env
    injected = driver_env.injected_runtime_env()
    if injected is not None:
        # A submitted job's runtime_env wins over init's own, as in Ray.
        if runtime_env:
            import warnings
            warnings.warn("this program runs as a submitted job: the job's runtime_env is used and "
                          "init(runtime_env=...) is ignored; give the runtime_env at submission instead")
        runtime_env = injected
    if job_config is not None and not isinstance(job_config, JobConfig):
        raise TypeError("job_config must be a lumos.job_config.JobConfig, got %r" % (job_config,))
    if logging_config is not None and not isinstance(logging_config, _logging.LoggingConfig):
        raise TypeError("logging_config must be a lumos.LoggingConfig, got %r" % (logging_config,))
    extra = {}
    if job_config is not None:
        if runtime_env is None:
            runtime_env = job_config.runtime_env
        if namespace is None:
            namespace = job_config.ray_namespace
        if job_config.metadata:
            extra["metadata"] = dict(job_config.metadata)
        if logging_config is None:
            logging_config = job_config.py_logging_config
    if logging_config is not None:
        extra["logging_config"] = logging_config.to_dict()
    return runtime_env, namespace, extra


def publish(gcs, job_id, extra):
    """Adds `extra` to the job's GCS entry and applies its logging config here."""
    from lumos.job_submission import driver_env
    driver_env.publish_driver(gcs, job_id.hex())
    if not extra:
        return
    raw = gcs.kv_get(JOB_NS, job_id)
    entry = json.loads(raw) if raw else {}
    entry.update(extra)
    gcs.kv_put(JOB_NS, job_id, json.dumps(entry).encode())
    if entry.get("logging_config"):
        _logging.apply(entry["logging_config"])
