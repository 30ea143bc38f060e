"""Runs one job's entrypoint and reports its state changes.

A JobSupervisor is a thread of the jobs manager (in the dashboard process
on the head). While the job is PENDING it sets up the runtime_env for the
entrypoint (unpacks the uploaded working_dir, builds the pip venv, sets
env_vars), then starts it:
  * without entrypoint resources: `/bin/sh -c ENTRYPOINT` here on the head,
    in a session of its own (so stop reaches its whole process group);
  * with them: `python -m lumos.job_submission.placed`, a small driver that
    creates an actor holding those resources (on whichever node has them)
    and runs the entrypoint inside it, forwarding its output. The job turns
    RUNNING when that actor has started the command.
Either way the output goes to <session>/logs/job-driver-<id>.log, and the
entrypoint gets LUMOS_ADDRESS/RAY_ADDRESS (so lumos.init() joins this
cluster) and the job's runtime_env (lumos.init() applies it to the job's
tasks).

Callbacks into the manager (`report(sid, status, **fields)`) are the only
way state leaves this class; the manager refuses changes out of a terminal
state, so a stop racing the end of the job cannot flip STOPPED to FAILED.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from lumos.job_submission import common, packages
from lumos.job_submission.common import JobStatus

STOP_GRACE_S = float(os.environ.get("LUMOS_JOB_STOP_WAIT_TIME_S", "3"))


def tail_text(path, limit=common.LOG_TAIL_CHARS):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class RuntimeEnvSetupError(Exception):
    """The job's runtime_env could not be prepared; the message says why."""


def prepare_env(runtime_env, session_dir):
    """(validated runtime_env with local paths, pip venv root or None) for
    the entrypoint. Raises RuntimeEnvSetupError (pip's own output in it)."""
    from lumos._private.runtime_env import pip as _pip
    from lumos._private.runtime_env import validation
    env = dict(runtime_env or {})
    wd = env.get("working_dir")
    if isinstance(wd, str) and wd.startswith(packages.URI_PREFIX):
        try:
            env["working_dir"] = packages.unpack(session_dir, wd)
        except (ValueError, OSError) as e:
            raise RuntimeEnvSetupError("runtime_env setup failed: %s" % e)
    try:
        normal = validation.validate(env)
    except (TypeError, ValueError) as e:
        raise RuntimeEnvSetupError("runtime_env setup failed: %s" % e)
    venv = None
    if normal.get("pip"):
        timeout = normal.get("config", {}).get("setup_timeout_seconds", _pip.DEFAULT_TIMEOUT_S)
        try:
            venv = _pip.ensure_venv(normal["pip"], session_dir, timeout)
        except (_pip.SetupError, OSError) as e:
            raise RuntimeEnvSetupError("runtime_env setup failed: %s" % e)
    return normal, venv


def entrypoint_environ(sid, gcs_address, normal_env, venv, node_ip="", base=None):
    """The environment variables of a job's entrypoint process."""
    from lumos._private.runtime_env.worker_setup import _expand
    env = dict(os.environ if base is None else base)
    for k, v in normal_env.get("env_vars", {}).items():
        env[k] = _expand(v)
    if venv:
        bin_dir = os.path.join(venv, "venv", "bin")
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        env["VIRTUAL_ENV"] = os.path.join(venv, "venv")
    env["LUMOS_ADDRESS"] = gcs_address
    env["RAY_ADDRESS"] = gcs_address
    env[common.SUBMISSION_ID_ENV] = sid
    env[common.DRIVER_NODE_IP_ENV] = node_ip
    env["PYTHONUNBUFFERED"] = "1"  # the log follows the program as it prints
    env[common.JOB_RUNTIME_ENV_ENV] = json.dumps(normal_env) if normal_env else ""
    env.pop("LUMOS_RUNTIME_ENV_EXECED", None)
    return env


class JobSupervisor(threading.Thread):
    """Owns one job from PENDING to a terminal state."""

    def __init__(self, details, session_dir, gcs_address, node_ip, report):
        super().__init__(name="job-" + details.submission_id, daemon=True)
        self.details = details
        self.sid = details.submission_id
        self.session_dir = session_dir
        self.gcs_address = gcs_address
        self.node_ip = node_ip
        self.report = report
        self.log_path = os.path.join(session_dir, "logs", common.log_file_name(self.sid))
        self._lock = threading.Lock()
        self._proc = None
        self._stop_requested = False
        self.finished = threading.Event()

    # ------------------------------------------------------------ control
    def request_stop(self):
        """Stops the job: before it started, it never starts; after, its
        process group gets SIGTERM, then SIGKILL after STOP_GRACE_S."""
        with self._lock:
            self._stop_requested = True
            proc = self._proc
        if proc is None:
            self.report(self.sid, JobStatus.STOPPED, message=common.MSG_STOPPED)
            return
        threading.Thread(target=self._terminate, args=(proc,), name="job-stop-" + self.sid, daemon=True).start()

    def _terminate(self, proc):
        _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)

    # ------------------------------------------------------------ the job
    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - a supervisor bug fails its job by name, never hangs it
            self.report(self.sid, JobStatus.FAILED, message="the job supervisor failed: %s: %s"
                        % (type(e).__name__, e), error_type="JOB_SUPERVISOR_ERROR")
        finally:
            self.finished.set()

    def _run(self):
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        with open(self.log_path, "ab", buffering=0) as log:  # unbuffered: tails see every line at once
            if self.details.runtime_env:
                log.write(b"Runtime env is setting up.\n")
            try:
                normal, venv = prepare_env(self.details.runtime_env, self.session_dir)
            except RuntimeEnvSetupError as e:
                log.write(str(e).encode() + b"\n")
                self.report(self.sid, JobStatus.FAILED, message=str(e), error_type="RUNTIME_ENV_SETUP_FAILURE")
                return
            env = entrypoint_environ(self.sid, self.gcs_address, normal, venv, self.node_ip)
            cwd = normal.get("working_dir") or self.session_dir
            placed = common.needs_placement(self.details)
            log.write(("Running entrypoint for job %s: %s\n" % (self.sid, self.details.entrypoint)).encode())
            with self._lock:
                if self._stop_requested:
                    return  # stopped while PENDING: the entrypoint never starts
                try:
                    self._proc = self._spawn(placed, env, cwd, log)
                except OSError as e:
                    msg = "the entrypoint %r could not start: %s" % (self.details.entrypoint, e)
                    log.write(msg.encode() + b"\n")
                    self.report(self.sid, JobStatus.FAILED, message=msg, error_type="JOB_ENTRYPOINT_START_FAILED")
                    return
        proc = self._proc
        pid_file = _record_pid(self.session_dir, self.sid, proc.pid)
        try:
            self._follow(proc, placed)
        finally:
            _forget_pid(pid_file)

    def _follow(self, proc, placed):
        if placed:
            error = self._follow_placed(proc)
        else:
            self.report(self.sid, JobStatus.RUNNING, message=common.MSG_RUNNING, driver_pid=proc.pid)
            error = None
        code = proc.wait()
        with self._lock:
            stopped = self._stop_requested
        if stopped:
            self.report(self.sid, JobStatus.STOPPED, message=common.MSG_STOPPED)
        elif error is not None:
            self.report(self.sid, JobStatus.FAILED, message=error, error_type="JOB_ENTRYPOINT_START_FAILED")
        elif code == 0:
            self.report(self.sid, JobStatus.SUCCEEDED, message=common.MSG_SUCCEEDED, driver_exit_code=0)
        else:
            self.report(self.sid, JobStatus.FAILED, driver_exit_code=code, error_type="JOB_ENTRYPOINT_COMMAND_ERROR",
                        message="Job entrypoint command failed with exit code %d, last available logs (truncated "
                                "to 20,000 chars):\n%s" % (code, tail_text(self.log_path)))

    def _spawn(self, placed, env, cwd, log):
        if not placed:
            return subprocess.Popen(tied_to_parent("TERM") + ["/bin/sh", "-c", self.details.entrypoint],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env,
                                    start_new_session=True)
        d = self.details
        spec = {"entrypoint": d.entrypoint, "cwd": cwd, "env": env, "num_cpus": d.entrypoint_num_cpus,
                "num_gpus": d.entrypoint_num_gpus, "memory": d.entrypoint_memory,
                "resources": d.entrypoint_resources, "submission_id": self.sid}
        launcher_env = dict(os.environ)
        launcher_env.pop(common.JOB_RUNTIME_ENV_ENV, None)
        proc = subprocess.Popen(tied_to_parent("TERM") + [sys.executable, "-m", "lumos.job_submission.placed",
                                                          self.gcs_address],
                                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.PIPE, cwd=self.session_dir,
                                env=launcher_env, start_new_session=True)
        proc.stdin.write(json.dumps(spec).encode())
        proc.stdin.close()
        return proc

    def _follow_placed(self, proc):
        """Reads the launcher's status lines (stderr); returns the reason the
        entrypoint could not start, or None."""
        error = None
        extra = []
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("LUMOS_JOB_RUNNING "):
                info = json.loads(line.split(" ", 1)[1])
                # The pid to clean up after a dashboard restart is the launcher's, on
                # this host; the entrypoint's may be on another node.
                self.report(self.sid, JobStatus.RUNNING, message=common.MSG_RUNNING,
                            driver_node_id=info.get("node_id"), driver_pid=proc.pid)
            elif line.startswith("LUMOS_JOB_ERROR "):
                error = json.loads(line.split(" ", 1)[1])
            else:
                extra.append(line)  # the launcher's own troubles (import errors, ...)
        if proc.wait() != 0 and error is None and extra:
            with open(self.log_path, "ab") as log:
                log.write(("\n".join(extra[-40:]) + "\n").encode())
        return error


def tied_to_parent(signame):
    """A command prefix that makes the command get SIG<signame> when its
    parent dies (setpriv --pdeathsig; [] where setpriv is missing). Not a
    preexec_fn: that makes subprocess fork() a process that runs grpcio,
    whose fork handlers then print into (and can break) the child."""
    import shutil
    return ["setpriv", "--pdeathsig", signame] if shutil.which("setpriv") else []


def _record_pid(session_dir, sid, pid):
    """pids/job-<id>.pid, so `lumos stop` ends a running entrypoint with the
    node (same format as the node's own pid files: pid and start time)."""
    from lumos._private.node import process_start_time
    path = os.path.join(session_dir, "pids", "job-%s.pid" % sid)
    try:
        with open(path, "w") as f:
            f.write("%d %s\n" % (pid, process_start_time(pid)))
    except OSError:
        return None
    return path


def _forget_pid(path):
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
