"""The jobs REST API with a plain HTTP client (urllib), the Python SDK
(JobSubmissionClient), and job records surviving a GCS restart."""
import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from jobs_cluster import JobsHead, wait_status

pytestmark = pytest.mark.timeout(300)

PY = sys.executable


@pytest.fixture(scope="module")
def head():
    h = JobsHead(num_cpus=2)
    yield h
    h.stop()


def call(head, method, path, body=None, token=True, raw=False):
    """(status, parsed JSON body or raw bytes)."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(head.url + path, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + (head.token if token is True else token))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            out = resp.read()
            return resp.status, out if raw else json.loads(out)
    except urllib.error.HTTPError as e:
        out = e.read()
        return e.code, out if raw else json.loads(out)


def wait_rest(head, sid, statuses, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        status, info = call(head, "GET", "/api/jobs/" + sid)
        if info["status"] in statuses or time.monotonic() > deadline:
            assert info["status"] in statuses, info
            return info
        time.sleep(0.05)


def test_rest_requires_the_token(head):
    assert call(head, "GET", "/api/jobs/", token=False)[0] == 401
    assert call(head, "GET", "/api/jobs/", token="wrong")[0] == 401
    assert call(head, "POST", "/api/jobs/", {"entrypoint": "true"}, token=False)[0] == 401


def test_rest_submit_get_logs_list_delete(head):
    status, out = call(head, "POST", "/api/jobs/", {"entrypoint": "echo rest-hello", "submission_id": "rest_1",
                                                   "metadata": {"owner": "test"}})
    assert status == 200 and out["submission_id"] == "rest_1"
    info = wait_rest(head, "rest_1", {"SUCCEEDED"})
    assert info["entrypoint"] == "echo rest-hello" and info["metadata"] == {"owner": "test"}
    assert info["type"] == "SUBMISSION" and info["start_time"] <= info["end_time"]
    assert info["driver_exit_code"] == 0 and info["message"] == "Job finished successfully."
    status, logs = call(head, "GET", "/api/jobs/rest_1/logs")
    assert status == 200 and "rest-hello" in logs["logs"]
    status, jobs = call(head, "GET", "/api/jobs/")
    assert status == 200 and "rest_1" in [j["submission_id"] for j in jobs]
    status, out = call(head, "POST", "/api/jobs/rest_1/stop")
    assert status == 200 and out == {"stopped": False}  # already over
    status, out = call(head, "DELETE", "/api/jobs/rest_1")
    assert status == 200 and out == {"deleted": True}
    assert call(head, "GET", "/api/jobs/rest_1")[0] == 404


def test_rest_tail_streams_and_stop(head):
    call(head, "POST", "/api/jobs/", {"entrypoint": "%s -c \"import time\nfor i in range(1000):\n"
                                                    "    print('line', i, flush=True); time.sleep(0.05)\"" % PY,
                                      "submission_id": "rest_tail"})
    wait_rest(head, "rest_tail", {"RUNNING"})
    req = urllib.request.Request(head.url + "/api/jobs/rest_tail/logs/tail")
    req.add_header("Authorization", "Bearer " + head.token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        seen = b""
        while b"line 3" not in seen:
            chunk = resp.read1(4096)
            assert chunk, "the tail ended while the job runs"
            seen += chunk
        status, out = call(head, "POST", "/api/jobs/rest_tail/stop")
        assert status == 200 and out == {"stopped": True}
        rest = resp.read()  # the stream ends once the job has stopped
    assert b"line 0" in seen + rest
    info = wait_rest(head, "rest_tail", {"STOPPED"})
    assert info["message"] == "Job was intentionally stopped."


def test_rest_bad_input(head):
    assert call(head, "GET", "/api/jobs/rest_nope")[0] == 404
    assert call(head, "GET", "/api/jobs/rest_nope/logs")[0] == 404
    assert call(head, "POST", "/api/jobs/rest_nope/stop")[0] == 404
    status, out = call(head, "DELETE", "/api/jobs/rest_nope")
    assert status == 404 and "does not exist" in out["error"]
    status, out = call(head, "POST", "/api/jobs/", {"submission_id": "x"})
    assert status == 400 and "entrypoint" in out["error"]
    status, out = call(head, "POST", "/api/jobs/", b"{not json")
    assert status == 400
    status, out = call(head, "POST", "/api/jobs/", {"entrypoint": "true", "runtime_env": {"nope": 1}})
    assert status == 400 and "nope" in out["error"]
    assert call(head, "POST", "/api/jobs/", {"entrypoint": "true", "submission_id": "rest_dup"})[0] == 200
    status, out = call(head, "POST", "/api/jobs/", {"entrypoint": "true", "submission_id": "rest_dup"})
    assert status == 400 and "already exists" in out["error"]
    status, out = call(head, "PUT", "/api/packages/gcs/_lumos_pkg_%s.zip" % ("0" * 32), b"not a zip")
    assert status == 400 and "zip" in out["error"]
    assert call(head, "GET", "/api/packages/gcs/_lumos_pkg_%s.zip" % ("1" * 32))[0] == 404
    assert call(head, "GET", "/api/packages/gcs/..%2Fauth_token")[0] in (400, 404)  # never a file
    assert call(head, "GET", "/api/packages/gcs/auth_token")[0] == 400


def test_sdk_methods(head, tmp_path):
    from lumos.job_submission import JobDetails, JobInfo, JobStatus, JobSubmissionClient
    assert JobInfo is JobDetails
    client = head.client()
    (tmp_path / "script.py").write_text("import sys\nprint('sdk-args', sys.argv[1:])\n")
    sid = client.submit_job(entrypoint="%s script.py a b" % PY, runtime_env={"working_dir": str(tmp_path)},
                            metadata={"k": "v"})
    assert wait_status(client, sid, {"SUCCEEDED"}) == JobStatus.SUCCEEDED
    info = client.get_job_info(sid)
    assert (info.submission_id, info.status, info.metadata) == (sid, JobStatus.SUCCEEDED, {"k": "v"})
    assert info.runtime_env["working_dir"].startswith("gcs://") and info.end_time >= info.start_time
    assert "sdk-args ['a', 'b']" in client.get_job_logs(sid)
    assert sid in [j.submission_id for j in client.list_jobs()]

    sid2 = client.submit_job(entrypoint="%s -c \"import time\nfor i in range(600):\n    print('t', i, flush=True);"
                                        " time.sleep(0.05)\"" % PY, submission_id="sdk_tail")

    async def first_lines():
        got = ""
        async for lines in client.tail_job_logs(sid2):
            got += lines
            if "t 2" in got:
                return got
    assert "t 2" in asyncio.run(asyncio.wait_for(first_lines(), 60))
    assert client.stop_job(sid2) is True
    assert wait_status(client, sid2, {"STOPPED"}) == JobStatus.STOPPED
    assert client.delete_job(sid2) is True
    with pytest.raises(RuntimeError, match="does not exist"):
        client.get_job_status(sid2)
    # The address from the environment, like Ray's RAY_ADDRESS.
    os.environ["LUMOS_ADDRESS"] = head.url
    try:
        assert JobSubmissionClient(_temp_dir=head.tmp).get_address() == head.url
    finally:
        del os.environ["LUMOS_ADDRESS"]


def test_sdk_bad_input(head):
    from lumos.exceptions import AuthenticationError
    from lumos.job_submission import JobSubmissionClient
    os.environ["LUMOS_AUTH_TOKEN"] = "wrong"
    try:
        with pytest.raises(AuthenticationError, match="401"):
            JobSubmissionClient(head.url, _temp_dir=head.tmp)
    finally:
        del os.environ["LUMOS_AUTH_TOKEN"]
    with pytest.raises(ValueError, match="client-mode"):
        JobSubmissionClient("lumos://127.0.0.1:10001", _temp_dir=head.tmp)
    client = head.client()
    with pytest.raises(ValueError, match="entrypoint"):
        client.submit_job(entrypoint="")
    with pytest.raises(ValueError, match="not a directory"):
        client.submit_job(entrypoint="true", runtime_env={"working_dir": "/no/such/dir"})


def test_job_env_reaches_the_entrypoint_and_its_tasks(head):
    client = head.client()
    code = ("import os, lumos\nlumos.init()\n"
            "print('env', os.environ['JOBVAR'], lumos.get(lumos.remote(lambda: os.environ['JOBVAR']).remote()))\n")
    sid = client.submit_job(entrypoint="%s -c %s" % (PY, shlex.quote(code)),
                            runtime_env={"env_vars": {"JOBVAR": "yes"}})
    wait_status(client, sid, {"SUCCEEDED", "FAILED"})
    logs = client.get_job_logs(sid)
    assert "env yes yes" in logs, logs
    info = client.get_job_info(sid)
    assert info.job_id and info.driver_info and info.driver_info.pid


def test_job_records_survive_a_gcs_restart():
    """The records live in the GCS KV: after a SIGKILL of the GCS and a
    restart on its storage, they are still there, and a job that ran
    through the outage ends SUCCEEDED."""
    h = JobsHead(num_cpus=1)
    try:
        client = h.client()
        done = client.submit_job(entrypoint="echo before", submission_id="dur_done")
        wait_status(client, "dur_done", {"SUCCEEDED"})
        client.submit_job(entrypoint="sleep 3", submission_id="dur_running")
        wait_status(client, "dur_running", {"RUNNING"})
        os.kill(h.pid_of("gcs_server"), 9)  # started by this test's `lumos start`
        from conftest import run_cli
        r = run_cli(["start", "--head", "--temp-dir", h.tmp], h.env, timeout=60)
        assert r.returncode == 0 and "Restarted the GCS" in r.stdout, r.stdout + r.stderr
        wait_status(client, "dur_running", {"SUCCEEDED"}, timeout=60)
        code = ("import json, lumos\nlumos.init(address=%r, _temp_dir=%r)\n"
                "from lumos.experimental import internal_kv as kv\n"
                "for sid in ('dur_done', 'dur_running'):\n"
                "    deadline = __import__('time').monotonic() + 30\n"
                "    while True:\n"
                "        e = json.loads(kv._internal_kv_get('job/' + sid, namespace='lumos_job_submission'))\n"
                "        if e['details']['status'] == 'SUCCEEDED' or __import__('time').monotonic() > deadline:\n"
                "            break\n"
                "    print(sid, e['details']['status'])\n") % (h.gcs_address, h.tmp)
        out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=90, env=h.env)
        assert "dur_done SUCCEEDED" in out.stdout and "dur_running SUCCEEDED" in out.stdout, out.stdout + out.stderr
        assert done == "dur_done"
        # `lumos stop` ends a running entrypoint with the node (its pid is recorded).
        client.submit_job(entrypoint="sleep 300", submission_id="dur_sleeper")
        wait_status(client, "dur_sleeper", {"RUNNING"})
        import psutil
        sleeper = psutil.Process(h.pid_of("job-dur_sleeper"))
    finally:
        h.stop()
    from conftest import wait_gone
    assert not wait_gone([sleeper], 10.0)
