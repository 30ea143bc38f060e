"""`python -m lumos.job_submission.placed GCS_ADDRESS`: runs a job's
entrypoint inside an actor that holds the entrypoint's resources
(--entrypoint-num-cpus/gpus/memory/resources), so it lands on a node that
has them. Started by the JobSupervisor on the head, with the job's spec as
JSON on stdin.

Its stdout is the job's log file: it copies the entrypoint's output there
as the actor reads it. Its stderr carries status lines for the supervisor:
  LUMOS_JOB_RUNNING {"node_id": ..., "pid": ...}   the command started
  LUMOS_JOB_ERROR "reason"                         it could not start
Its exit code is the entrypoint's. SIGTERM (the job is stopped) stops the
command through the actor, then exits; while the actor still waits for
resources, exiting is enough: the actor's creation dies with this driver.
"""
import json
import os
import signal
import subprocess
import sys
import threading

import lumos

_POLL_S = 0.05


@lumos.remote(max_restarts=0)
class EntrypointHost:
    """Holds the job's resources and its entrypoint process on its node."""

    def __init__(self):
        self._proc = None
        self._out = None

    def start(self, entrypoint, cwd, env):
        from lumos.job_submission.supervisor import tied_to_parent
        env = dict(env)
        try:
            from lumos._private import worker
            env["LUMOS_JOB_DRIVER_NODE_IP"] = worker.global_state().node_ip or ""
        except Exception:  # noqa: BLE001 - only fills JobDetails.driver_info
            pass
        # The job's runtime_env was set up for the head; the working_dir path
        # exists there (nodes of one host share it) or the actor's own env applies.
        if not os.path.isdir(cwd):
            cwd = os.getcwd()
        r, w = os.pipe()
        self._proc = subprocess.Popen(
            tied_to_parent("KILL") + ["/bin/sh", "-c", entrypoint], stdin=subprocess.DEVNULL, stdout=w, stderr=w,
            cwd=cwd, env=env, start_new_session=True)
        os.close(w)
        self._out = os.fdopen(r, "rb", buffering=0)
        os.set_blocking(r, False)
        return {"node_id": lumos.get_runtime_context().get_node_id(), "pid": self._proc.pid}

    def read(self):
        """(new output bytes, exit code or None)."""
        out = self._read_available()
        code = self._proc.poll()
        if code is not None:  # drain what the process wrote just before exiting
            out += self._read_available()
        return out, code

    def _read_available(self):
        """What the pipe holds now, without blocking."""
        chunks = []
        while True:
            try:
                data = self._out.read(1 << 16)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def stop(self, grace_s):
        import time
        if self._proc is None or self._proc.poll() is not None:
            return
        os.killpg(self._proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while self._proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)


def _status(tag, value):
    sys.stderr.write("%s %s\n" % (tag, json.dumps(value)))
    sys.stderr.flush()


def main():
    address = sys.argv[1]
    spec = json.loads(sys.stdin.read())
    out = sys.stdout.buffer
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lumos.init(address=address, namespace="_lumos_job_" + spec["submission_id"])
    options = {"num_cpus": spec.get("num_cpus") or 0}
    if spec.get("num_gpus"):
        options["num_gpus"] = spec["num_gpus"]
    if spec.get("memory"):
        options["memory"] = spec["memory"]
    if spec.get("resources"):
        options["resources"] = spec["resources"]
    host = EntrypointHost.options(**options).remote()
    started = host.start.remote(spec["entrypoint"], spec["cwd"], spec["env"])
    while True:  # pending for resources: wake up for a stop
        ready, _ = lumos.wait([started], timeout=0.2)
        if ready:
            break
        if stop.is_set():
            os._exit(143)  # the pending actor dies with this driver
    try:
        info = lumos.get(started)
    except Exception as e:  # noqa: BLE001 - the actor's own error is the reason
        _status("LUMOS_JOB_ERROR", "the entrypoint could not start on a node with the requested resources: %s" % e)
        sys.exit(1)
    _status("LUMOS_JOB_RUNNING", info)
    while True:
        if stop.is_set():
            from lumos.job_submission.supervisor import STOP_GRACE_S
            try:
                lumos.get(host.stop.remote(STOP_GRACE_S), timeout=STOP_GRACE_S + 10)
            except Exception:  # noqa: BLE001 - exiting ends the actor and its command anyway
                pass
            stop.clear()
        data, code = lumos.get(host.read.remote())
        if data:
            out.write(data)
            out.flush()
        if code is not None:
            out.flush()
            os._exit(code if code >= 0 else 128 - code)
        if not data:
            stop.wait(_POLL_S)


if __name__ == "__main__":
    main()
