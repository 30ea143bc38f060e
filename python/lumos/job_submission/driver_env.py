"""What a job's entrypoint process and lumos.init() in it share with the
jobs manager: the environment variables the manager sets, and the record
the driver leaves in the GCS KV. Kept apart from common.py so lumos.init()
reads them without loading the jobs code (it runs in every driver).
"""
import json
import os

JOBS_NS = b"lumos_job_submission"      # the jobs' GCS KV namespace
DRIVER_KEY_PREFIX = b"driver/"         # driver/<submission id> -> the driver's job id, node, pid

# Set in the entrypoint's environment by the manager, read by lumos.init().
SUBMISSION_ID_ENV = "LUMOS_JOB_SUBMISSION_ID"
JOB_RUNTIME_ENV_ENV = "LUMOS_JOB_RUNTIME_ENV"
DRIVER_NODE_IP_ENV = "LUMOS_JOB_DRIVER_NODE_IP"


def publish_driver(gcs, job_id_hex):
    """Called by lumos.init() in a process started as a job's entrypoint:
    records which lumos job (driver) it is, for JobDetails.job_id."""
    sid = os.environ.get(SUBMISSION_ID_ENV)
    if not sid:
        return
    info = {"id": job_id_hex, "node_ip_address": os.environ.get(DRIVER_NODE_IP_ENV, ""), "pid": str(os.getpid())}
    gcs.kv_put(JOBS_NS, DRIVER_KEY_PREFIX + sid.encode(), json.dumps(info).encode(), False)


def injected_runtime_env():
    """The runtime_env a job's entrypoint was started with, or None."""
    raw = os.environ.get(JOB_RUNTIME_ENV_ENV)
    return json.loads(raw) if raw else None
