"""The jobs manager: the one writer of job records, living in the
dashboard process on the head.

Records are kept in memory (reads never wait on the GCS) and written to
the GCS internal KV (common.JOBS_NS), which is durable, by one writer
thread: a GCS restart loses nothing, and a write that fails while the GCS
is away is retried until it lands. Submitting (the record must be in the
GCS before the job starts) and deleting wait for the GCS; nothing else does. Each job that is not terminal has a JobSupervisor
thread. A dashboard that starts and finds non-terminal jobs of an earlier
dashboard process cannot follow them (their supervisor died with it): it
stops what is left of their entrypoints and fails them, naming why.

Thread safety: every public method may be called from any request thread.
"""
import json
import os
import signal
import threading
import time

from lumos.job_submission import common, supervisor
from lumos.job_submission.common import JobDetails, JobStatus


class JobNotFound(KeyError):
    def __init__(self, sid):
        super().__init__(sid)
        self.message = "Job %s does not exist" % sid


def _now_ms():
    return int(time.time() * 1000)


def _pid_start(pid):
    from lumos._private.node import process_start_time
    return process_start_time(pid)


class JobManager:
    """Submits, follows, stops and deletes the cluster's submitted jobs."""

    def __init__(self, gcs, session_dir, gcs_address, node_ip=""):
        self._gcs = gcs
        self.session_dir = session_dir
        self.gcs_address = gcs_address
        self.node_ip = node_ip
        self._lock = threading.Lock()
        self._jobs = {}         # submission id -> JobDetails
        self._internal = {}     # submission id -> {"pid", "pid_start", "dashboard_pid"}
        self._supervisors = {}  # submission id -> JobSupervisor (non-terminal jobs)
        self._dirty = set()     # submission ids whose record the writer must write
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._writing = False
        self._changed = threading.Condition(self._lock)
        self._load()
        threading.Thread(target=self._writer_loop, name="jobs-kv-writer", daemon=True).start()

    # ------------------------------------------------------------ storage
    def _load(self):
        for key in self._gcs.kv_keys(common.JOBS_NS, common.JOB_KEY_PREFIX):
            raw = self._gcs.kv_get(common.JOBS_NS, key)
            if raw is None:
                continue
            entry = json.loads(raw)
            details = JobDetails.from_dict(entry["details"])
            self._jobs[details.submission_id] = details
            self._internal[details.submission_id] = entry.get("internal", {})
        for sid, details in self._jobs.items():
            if not details.status.is_terminal():
                self._orphaned(sid, details)

    def _orphaned(self, sid, details):
        internal = self._internal.get(sid, {})
        pid = internal.get("pid")
        if pid and internal.get("pid_start") is not None and _pid_start(pid) == internal["pid_start"]:
            try:
                os.killpg(pid, signal.SIGTERM)
            except OSError:
                pass
        was = details.status.value
        details.status = JobStatus.FAILED
        details.end_time = _now_ms()
        details.error_type = "JOB_SUPERVISOR_LOST"
        details.message = ("the job's supervisor (dashboard process %s) exited while the job was %s; what was left "
                           "of its entrypoint was stopped. Submit it again."
                           % (internal.get("dashboard_pid", "?"), was))
        self._save(sid)

    def _key(self, sid):
        return common.JOB_KEY_PREFIX + sid.encode()

    def _entry(self, sid):
        return json.dumps({"details": self._jobs[sid].to_dict(), "internal": self._internal.get(sid, {})}).encode()

    def _save(self, sid):
        """Queues the record for the writer (the caller holds the lock): no
        request waits on the GCS while holding the lock."""
        self._dirty.add(sid)
        self._wake.set()

    def _writer_loop(self):
        """Writes queued records, newest state only; a write that fails (the
        GCS is away) is tried again every 0.5 s until it lands."""
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                batch = {sid: self._entry(sid) for sid in self._dirty if sid in self._jobs}
                self._dirty.clear()
                self._writing = True
            failed = []
            with self._write_lock:  # delete() removes a key under it: no stale write after that
                for sid, entry in batch.items():
                    if sid not in self._jobs:
                        continue
                    try:
                        self._gcs.kv_put(common.JOBS_NS, self._key(sid), entry, True)
                    except Exception:  # noqa: BLE001 - the GCS is away (restarting)
                        failed.append(sid)
            with self._lock:
                self._writing = False
                self._dirty.update(sid for sid in failed if sid in self._jobs)
            if failed:
                time.sleep(0.5)
                self._wake.set()

    def flushed(self):
        """True when every record change has reached the GCS (tests)."""
        with self._lock:
            return not self._dirty and not self._writing and not self._wake.is_set()

    # ------------------------------------------------------------ requests
    def submit(self, request):
        """Starts a job from a checked request (common.check_submit_request);
        returns its submission id. ValueError: duplicate id, bad runtime_env."""
        _check_runtime_env(request["runtime_env"])
        sid = request["submission_id"] or common.new_submission_id()
        details = JobDetails(
            submission_id=sid, entrypoint=request["entrypoint"], status=JobStatus.PENDING,
            message=common.MSG_PENDING, start_time=_now_ms(), metadata=request["metadata"],
            runtime_env=request["runtime_env"], entrypoint_num_cpus=request["entrypoint_num_cpus"],
            entrypoint_num_gpus=request["entrypoint_num_gpus"], entrypoint_memory=request["entrypoint_memory"],
            entrypoint_resources=request["entrypoint_resources"])
        duplicate = "Job with submission_id %s already exists. Please use a different submission_id." % sid
        with self._lock:
            if sid in self._jobs:
                raise ValueError(duplicate)
            self._jobs[sid] = details  # reserves the id while the GCS is asked
            self._internal[sid] = {"dashboard_pid": os.getpid()}
            entry = self._entry(sid)
        try:
            # overwrite=False: a record another manager wrote meanwhile is kept.
            added = self._gcs.kv_put(common.JOBS_NS, self._key(sid), entry, False)
        except Exception as e:  # noqa: BLE001 - nothing started yet: the caller retries
            added = e
        with self._lock:
            if added is not True:
                del self._jobs[sid]
                self._internal.pop(sid, None)
                if added is False:
                    raise ValueError(duplicate)
                raise ConnectionError("cannot record the job in the GCS (%s); retry when the GCS is back" % added)
            sup = supervisor.JobSupervisor(details, self.session_dir, self.gcs_address, self.node_ip,
                                           self._report)
            self._supervisors[sid] = sup
        sup.start()
        return sid

    def _report(self, sid, status, driver_pid=None, **fields):
        """A supervisor's state change; ignored once the job is terminal."""
        with self._lock:
            details = self._jobs.get(sid)
            if details is None or details.status.is_terminal():
                return
            details.status = status
            for k, v in fields.items():
                setattr(details, k, v)
            if driver_pid:
                self._internal.setdefault(sid, {}).update(pid=driver_pid, pid_start=_pid_start(driver_pid))
            if status.is_terminal():
                details.end_time = _now_ms()
                self._supervisors.pop(sid, None)
            self._save(sid)
            self._changed.notify_all()

    def get(self, sid):
        with self._lock:
            details = self._jobs.get(sid)
            if details is None:
                raise JobNotFound(sid)
        if details.job_id is None and details.status != JobStatus.PENDING:
            self._fill_driver(details)
        return details

    def _fill_driver(self, details):
        try:
            raw = self._gcs.kv_get(common.JOBS_NS, common.DRIVER_KEY_PREFIX + details.submission_id.encode())
        except Exception:  # noqa: BLE001 - the GCS is away: the driver fields come later
            return
        if raw:
            info = json.loads(raw)
            with self._lock:
                details.job_id = info.get("id")
                details.driver_info = common.DriverInfo(**info)

    def list(self):
        with self._lock:
            sids = list(self._jobs)
        out = []
        for sid in sids:
            try:
                out.append(self.get(sid))
            except JobNotFound:
                pass  # deleted meanwhile
        return out

    def stop(self, sid):
        """True when the job was running or pending and is being stopped."""
        with self._lock:
            if sid not in self._jobs:
                raise JobNotFound(sid)
            if self._jobs[sid].status.is_terminal():
                return False
            sup = self._supervisors.get(sid)
        if sup is not None:
            sup.request_stop()
        return True

    def delete(self, sid):
        """Forgets a terminal job (record and log). ValueError when it is not terminal."""
        with self._lock:
            details = self._jobs.get(sid)
            if details is None:
                raise JobNotFound(sid)
            if not details.status.is_terminal():
                raise ValueError("Attempted to delete job '%s', but it is in a non-terminal state %s; stop it first "
                                 "(`lumos job stop %s`)" % (sid, details.status.value, sid))
            del self._jobs[sid]
            self._internal.pop(sid, None)
            self._dirty.discard(sid)
        with self._write_lock:
            try:
                self._gcs.kv_del(common.JOBS_NS, self._key(sid), False)
                self._gcs.kv_del(common.JOBS_NS, common.DRIVER_KEY_PREFIX + sid.encode(), False)
            except Exception as e:  # noqa: BLE001 - put the record back: it still exists in the GCS
                with self._lock:
                    self._jobs[sid] = details
                raise ConnectionError("cannot delete the job's record from the GCS (%s); retry when the GCS is "
                                      "back" % e)
        try:
            os.unlink(self.log_path(sid))
        except OSError:
            pass
        return True

    def log_path(self, sid):
        return os.path.join(self.session_dir, "logs", common.log_file_name(sid))

    def logs(self, sid):
        self.get(sid)
        try:
            with open(self.log_path(sid), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, sid, poll_s=0.1):
        """Yields the log as it grows (bytes), ending once the job is terminal."""
        self.get(sid)
        offset = 0
        path = self.log_path(sid)
        while True:
            with self._lock:
                details = self._jobs.get(sid)
                done = details is None or details.status.is_terminal()
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read(1 << 20)
            except OSError:
                data = b""
            if data:
                offset += len(data)
                yield data
                continue
            if done:
                return
            with self._lock:
                self._changed.wait(poll_s)


def _check_runtime_env(runtime_env):
    """Bad fields fail the submission at once (400), not the job later.
    working_dir is a package URI here, checked when it is unpacked."""
    from lumos._private.runtime_env import validation
    env = dict(runtime_env)
    wd = env.pop("working_dir", None)
    if wd is not None and not isinstance(wd, str):
        raise ValueError("runtime_env['working_dir'] must be a string, got %r" % (wd,))
    validation.validate(env)
