"""Job submission (Ray's ray.job_submission): run a shell command on the
cluster's head as a job, follow its state and logs, stop and delete it.

    from lumos.job_submission import JobSubmissionClient, JobStatus
    client = JobSubmissionClient("http://HEAD:8265")
    sid = client.submit_job(entrypoint="python script.py", runtime_env={"working_dir": "."})

Pieces: sdk (the client), rest (the dashboard's routes), manager and
supervisor (the server side, in the dashboard process), placed (entrypoints
that asked for resources), packages (working_dir upload), gcs_kv (the KV
over grpcio), common (states, records, checks), driver_env (what
lumos.init() in an entrypoint reads and writes).

Names load on first use: every lumos.init() imports driver_env from this
package, and must not pay for the SDK (asyncio, http.client) or the
records' dataclasses.
"""
__all__ = ["JobSubmissionClient", "JobStatus", "JobDetails", "JobInfo", "JobType", "DriverInfo"]


def __getattr__(name):
    if name == "JobSubmissionClient":
        from lumos.job_submission.sdk import JobSubmissionClient
        return JobSubmissionClient
    if name in __all__:
        from lumos.job_submission import common
        return getattr(common, name)
    raise AttributeError("module 'lumos.job_submission' has no attribute %r" % name)
