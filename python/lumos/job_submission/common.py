"""What the jobs server, the SDK and the CLI share: the job states, the
record kept per job (JobDetails, Ray's field names), the KV layout, and the
checks of a submission. No I/O here.

A job record lives in the GCS internal KV, namespace JOBS_NS, key
"job/<submission_id>", as JSON; the GCS makes it durable. Only the jobs
manager (in the dashboard process) writes "job/" keys. The driver an
entrypoint starts writes "driver/<submission_id>" once it has connected
(driver_env.publish_driver), which fills JobDetails.job_id and driver_info.
"""
import enum
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, Optional

from lumos.job_submission.driver_env import (DRIVER_KEY_PREFIX, DRIVER_NODE_IP_ENV, JOB_RUNTIME_ENV_ENV,  # noqa: F401
                                             JOBS_NS, SUBMISSION_ID_ENV)

JOB_KEY_PREFIX = b"job/"

# A submission id names a log file and a URL path segment: keep it to
# characters that are safe in both.
_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
ID_PREFIX = "lumossubmit_"

# Ray's status messages, word for word (scripts grep for them).
MSG_PENDING = ("Job has not started yet. It may be waiting for resources (CPUs, GPUs, memory, custom "
               "resources) to become available. It may be waiting for the runtime environment to be set up.")
MSG_RUNNING = "Job is currently running."
MSG_SUCCEEDED = "Job finished successfully."
MSG_STOPPED = "Job was intentionally stopped."
LOG_TAIL_CHARS = 20000
# The REST API's version (GET /api/version); the SDK refuses a server
# whose version differs, naming both lumos versions.
API_VERSION = "4"


class JobStatus(str, enum.Enum):
    """A job's state: PENDING -> RUNNING -> SUCCEEDED | FAILED | STOPPED
    (PENDING may go straight to FAILED or STOPPED)."""
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    def __str__(self):
        return self.value

    def is_terminal(self) -> bool:
        return self in (JobStatus.STOPPED, JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobType(str, enum.Enum):
    SUBMISSION = "SUBMISSION"
    DRIVER = "DRIVER"

    def __str__(self):
        return self.value


@dataclass
class DriverInfo:
    id: str
    node_ip_address: str
    pid: str


@dataclass
class JobDetails:
    """One submitted job, as GET /api/jobs/{id} returns it (Ray's fields).
    Times are milliseconds since the epoch; end_time is None until the job
    is terminal."""
    submission_id: str
    entrypoint: str
    status: JobStatus = JobStatus.PENDING
    type: JobType = JobType.SUBMISSION
    job_id: Optional[str] = None
    driver_info: Optional[DriverInfo] = None
    message: Optional[str] = None
    error_type: Optional[str] = None
    start_time: Optional[int] = None
    end_time: Optional[int] = None
    metadata: Dict[str, str] = field(default_factory=dict)
    runtime_env: Dict[str, Any] = field(default_factory=dict)
    driver_agent_http_address: Optional[str] = None
    driver_node_id: Optional[str] = None
    driver_exit_code: Optional[int] = None
    entrypoint_num_cpus: Optional[float] = None
    entrypoint_num_gpus: Optional[float] = None
    entrypoint_memory: Optional[int] = None
    entrypoint_resources: Optional[Dict[str, float]] = None

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["type"] = self.type.value
        return d

    @staticmethod
    def from_dict(d: Dict[str, Any]) -> "JobDetails":
        known = {f.name for f in fields(JobDetails)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["status"] = JobStatus(kw.get("status", "PENDING"))
        kw["type"] = JobType(kw.get("type", "SUBMISSION"))
        if isinstance(kw.get("driver_info"), dict):
            kw["driver_info"] = DriverInfo(**kw["driver_info"])
        return JobDetails(**kw)


JobInfo = JobDetails  # Ray's older name for the same record


def new_submission_id() -> str:
    import secrets
    import string
    alphabet = string.ascii_letters + string.digits
    return ID_PREFIX + "".join(secrets.choice(alphabet) for _ in range(16))


def check_submission_id(sid: Any) -> str:
    if not isinstance(sid, str) or not _ID_RE.match(sid):
        raise ValueError("submission_id %r is not valid: use 1-128 letters, digits, '_', '-' or '.'" % (sid,))
    return sid


def _number(name: str, v: Any, integer: bool = False) -> Any:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ValueError("%s must be a non-negative number, got %r" % (name, v))
    if integer and int(v) != v:
        raise ValueError("%s must be a whole number of bytes, got %r" % (name, v))
    return int(v) if integer else v


def check_submit_request(body: Any) -> Dict[str, Any]:
    """The POST /api/jobs/ body in normal form; ValueError naming the field."""
    if not isinstance(body, dict):
        raise ValueError("the submit request must be a JSON object with at least 'entrypoint'")
    allowed = {"entrypoint", "submission_id", "job_id", "runtime_env", "metadata", "entrypoint_num_cpus",
               "entrypoint_num_gpus", "entrypoint_memory", "entrypoint_resources", "entrypoint_label_selector"}
    unknown = set(body) - allowed
    if unknown:
        raise ValueError("unknown field(s) in the submit request: %s (known: %s)"
                         % (", ".join(sorted(unknown)), ", ".join(sorted(allowed))))
    entrypoint = body.get("entrypoint")
    if not isinstance(entrypoint, str) or not entrypoint.strip():
        raise ValueError("'entrypoint' must be a non-empty shell command, e.g. 'python script.py'")
    sid = body.get("submission_id") or body.get("job_id")
    sid = check_submission_id(sid) if sid is not None else None
    runtime_env = body.get("runtime_env") or {}
    if not isinstance(runtime_env, dict):
        raise ValueError("'runtime_env' must be a JSON object, got %r" % (runtime_env,))
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise ValueError("'metadata' must map strings to strings, got %r" % (metadata,))
    resources = body.get("entrypoint_resources")
    if resources is not None:
        if not isinstance(resources, dict):
            raise ValueError("'entrypoint_resources' must be a JSON object like {\"custom\": 1}")
        for k, v in resources.items():
            if k in ("CPU", "GPU", "memory"):
                raise ValueError("give %s with entrypoint_num_cpus/entrypoint_num_gpus/entrypoint_memory, "
                                 "not in entrypoint_resources" % k)
            _number("entrypoint_resources[%r]" % k, v)
    if body.get("entrypoint_label_selector"):
        raise ValueError("entrypoint_label_selector is not built in lumos yet; use entrypoint_resources")
    return {
        "entrypoint": entrypoint, "submission_id": sid, "runtime_env": runtime_env, "metadata": metadata,
        "entrypoint_num_cpus": _number("entrypoint_num_cpus", body.get("entrypoint_num_cpus")),
        "entrypoint_num_gpus": _number("entrypoint_num_gpus", body.get("entrypoint_num_gpus")),
        "entrypoint_memory": _number("entrypoint_memory", body.get("entrypoint_memory"), integer=True),
        "entrypoint_resources": dict(resources) if resources else None,
    }


def needs_placement(details: JobDetails) -> bool:
    """True when the entrypoint asked for resources (it then runs inside an
    actor holding them, on whichever node has them)."""
    return bool(details.entrypoint_num_cpus or details.entrypoint_num_gpus or details.entrypoint_memory
                or details.entrypoint_resources)


def log_file_name(submission_id: str) -> str:
    return "job-driver-%s.log" % submission_id
