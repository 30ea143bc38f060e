"""A head started with `lumos start --head` (dashboard on a free port) in a
private temp dir, for the jobs tests; `lumos stop` on that dir ends it."""
import json
import os
import shutil
import subprocess
import sys
import time

from conftest import describe, env_with_lumos, processes_under, run_cli, short_tmpdir, wait_gone
from lumos._private.node import free_port


class JobsHead:
    def __init__(self, num_cpus=2, resources=None):
        self.tmp = short_tmpdir()
        self.env = env_with_lumos(LUMOS_TMPDIR=self.tmp)
        self.env.pop("LUMOS_AUTH_TOKEN", None)
        args = ["start", "--head", "--num-cpus", str(num_cpus), "--temp-dir", self.tmp,
                "--dashboard-port", str(free_port())]
        if resources:
            args += ["--resources", json.dumps(resources)]
        r = run_cli(args, self.env, timeout=60)
        if r.returncode != 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise RuntimeError("lumos start failed: %s %s" % (r.stdout, r.stderr))
        with open(os.path.join(self.tmp, "lumos_current_cluster")) as f:
            info = json.load(f)
        self.session_dir = info["session_dir"]
        self.gcs_address = info["gcs_address"]
        with open(os.path.join(self.session_dir, "dashboard_url")) as f:
            self.url = f.read().strip()
        with open(os.path.join(self.session_dir, "auth_token")) as f:
            self.token = f.read().strip()

    def cli(self, *args, timeout=90, env=None, cwd=None):
        """`lumos job <args>` as a subprocess: CompletedProcess."""
        return subprocess.run([sys.executable, "-m", "lumos.scripts.cli", "job"] + list(args), capture_output=True,
                              text=True, timeout=timeout, env=env or self.env, cwd=cwd or self.tmp)

    def client(self):
        from lumos.job_submission import JobSubmissionClient
        return JobSubmissionClient(self.url, _temp_dir=self.tmp)

    def pid_of(self, name):
        with open(os.path.join(self.session_dir, "pids", name + ".pid")) as f:
            return int(f.read().split()[0])

    def stop(self):
        run_cli(["stop", "--temp-dir", self.tmp], self.env, timeout=60)
        left = wait_gone(processes_under(self.tmp), 10.0)
        shutil.rmtree(self.tmp, ignore_errors=True)
        assert not left, "processes outlived lumos stop: %s" % describe(left)


def wait_status(client, sid, statuses, timeout=60.0):
    deadline = time.monotonic() + timeout
    status = client.get_job_status(sid)
    while status.value not in statuses and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.get_job_status(sid)
    assert status.value in statuses, "job %s is %s, expected %s: %s" % (sid, status, statuses,
                                                                        client.get_job_info(sid).message)
    return status
