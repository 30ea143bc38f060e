"""Job submission (Ray's ray.job_submission): run a shell command on the
cluster's head as a job, follow its state and logs, stop and delete it.

    from lumos.job_submission import JobSubmissionClient, JobStatus
    client = JobSubmissionClient("http://HEAD:8265")
    sid = client.submit_job(entrypoint="python script.py", runtime_env={"working_dir": "."})

Pieces: sdk (the client), rest (the dashboard's routes), manager and
supervisor (the server side, in the dashboard process), placed (entrypoints
that asked for resources), packages (working_dir upload), common (states,
records, checks).
"""
from lumos.job_submission.common import DriverInfo, JobDetails, JobInfo, JobStatus, JobType
from lumos.job_submission.sdk import JobSubmissionClient

__all__ = ["JobSubmissionClient", "JobStatus", "JobDetails", "JobInfo", "JobType", "DriverInfo"]
