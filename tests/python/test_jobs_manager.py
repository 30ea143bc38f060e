"""The jobs manager and its routes without a cluster: a dict stands in for
the GCS KV, and requests go through a Router directly."""
import json
import os
import subprocess
import sys
import time

import pytest

from lumos.dashboard.routing import DashboardContext, HttpError, Request, Router
from lumos.job_submission import common, manager as manager_mod
from lumos.job_submission.common import JobDetails, JobStatus

pytestmark = pytest.mark.timeout(120)


class FakeGcs:
    """The four KV calls the manager makes; `down` makes them fail like a GCS that is away."""

    def __init__(self):
        self.kv = {}
        self.down = False

    def _check(self):
        if self.down:
            raise ConnectionError("GCS unavailable")

    def kv_get(self, ns, key):
        self._check()
        return self.kv.get((ns, key))

    def kv_put(self, ns, key, value, overwrite=True):
        self._check()
        if not overwrite and (ns, key) in self.kv:
            return False
        self.kv[(ns, key)] = value
        return True

    def kv_del(self, ns, key, by_prefix=False):
        self._check()
        return 1 if self.kv.pop((ns, key), None) is not None else 0

    def kv_keys(self, ns, prefix):
        self._check()
        return [k for (n, k) in self.kv if n == ns and k.startswith(prefix)]


@pytest.fixture
def session(tmp_path):
    for d in ("logs", "pids"):
        (tmp_path / d).mkdir()
    return str(tmp_path)


def _request(sid, entrypoint):
    return common.check_submit_request({"entrypoint": entrypoint, "submission_id": sid})


def _wait(m, sid, status, timeout=30):
    deadline = time.monotonic() + timeout
    while m.get(sid).status != status and time.monotonic() < deadline:
        time.sleep(0.02)
    assert m.get(sid).status == status, m.get(sid)


def _flushed(m, timeout=10):
    deadline = time.monotonic() + timeout
    while not m.flushed():
        assert time.monotonic() < deadline, "records not written"
        time.sleep(0.02)


def test_states_and_records(session):
    gcs = FakeGcs()
    m = manager_mod.JobManager(gcs, session, "127.0.0.1:1")
    m.submit(_request("ok", "echo out"))
    m.submit(_request("bad", "exit 4"))
    _wait(m, "ok", JobStatus.SUCCEEDED)
    _wait(m, "bad", JobStatus.FAILED)
    assert "exit code 4" in m.get("bad").message
    assert "out" in m.logs("ok")
    _flushed(m)
    stored = json.loads(gcs.kv[(common.JOBS_NS, b"job/ok")])
    assert stored["details"]["status"] == "SUCCEEDED"
    with pytest.raises(ValueError, match="already exists"):
        m.submit(_request("ok", "true"))
    # Another manager's record with the same id is kept, not overwritten.
    gcs.kv[(common.JOBS_NS, b"job/elsewhere")] = b"{}"
    with pytest.raises(ValueError, match="already exists"):
        m.submit(_request("elsewhere", "true"))
    with pytest.raises(manager_mod.JobNotFound):
        m.get("nope")


def test_a_stop_is_final_and_writes_wait_out_a_gcs_outage(session):
    gcs = FakeGcs()
    m = manager_mod.JobManager(gcs, session, "127.0.0.1:1")
    m.submit(_request("s", "sleep 60"))
    _wait(m, "s", JobStatus.RUNNING)
    _flushed(m)
    gcs.down = True
    assert m.stop("s") is True
    _wait(m, "s", JobStatus.STOPPED)  # served from memory while the GCS is away
    assert json.loads(gcs.kv[(common.JOBS_NS, b"job/s")])["details"]["status"] == "RUNNING"
    gcs.down = False
    deadline = time.monotonic() + 10
    while json.loads(gcs.kv[(common.JOBS_NS, b"job/s")])["details"]["status"] != "STOPPED":
        assert time.monotonic() < deadline, "the record was not written once the GCS came back"
        time.sleep(0.05)
    assert m.stop("s") is False  # terminal: nothing to stop
    m._report("s", JobStatus.FAILED, message="late")  # a late report cannot change a terminal state
    assert m.get("s").status == JobStatus.STOPPED


def test_jobs_of_an_earlier_dashboard_are_failed_and_their_entrypoint_stopped(session):
    gcs = FakeGcs()
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        details = JobDetails(submission_id="old", entrypoint="sleep 60", status=JobStatus.RUNNING)
        from lumos._private.node import process_start_time
        entry = {"details": details.to_dict(),
                 "internal": {"pid": orphan.pid, "pid_start": process_start_time(orphan.pid), "dashboard_pid": 1}}
        gcs.kv[(common.JOBS_NS, b"job/old")] = json.dumps(entry).encode()
        m = manager_mod.JobManager(gcs, session, "127.0.0.1:1")
        info = m.get("old")
        assert info.status == JobStatus.FAILED and "supervisor" in info.message and info.end_time
        assert orphan.wait(timeout=10) is not None
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()


def test_routes_through_a_router(session, monkeypatch):
    from lumos.job_submission import rest
    gcs = FakeGcs()
    m = manager_mod.JobManager(gcs, session, "127.0.0.1:1")
    monkeypatch.setattr(rest._Lazy, "__call__", lambda self: m)
    router = Router()
    rest.register(router, DashboardContext("127.0.0.1:1", session, "tok", "127.0.0.1", 0))

    def call(method, path, body=None):
        handler, params = router.match(method, path)
        resp = handler(Request(method, path, {}, {}, json.dumps(body).encode() if body else b""), params)
        return json.loads(resp.body) if hasattr(resp, "body") else b"".join(resp.chunks)

    assert call("POST", "/api/jobs/", {"entrypoint": "echo routed", "submission_id": "r"})["submission_id"] == "r"
    assert b"routed" in call("GET", "/api/jobs/r/logs/tail")  # the stream ends with the job
    assert call("GET", "/api/jobs/r")["status"] == "SUCCEEDED"
    assert [j["submission_id"] for j in call("GET", "/api/jobs/")] == ["r"]
    with pytest.raises(HttpError) as e:
        call("GET", "/api/jobs/missing")
    assert e.value.status == 404 and e.value.message == "Job missing does not exist"
    with pytest.raises(HttpError) as e:
        call("POST", "/api/jobs/", {"entrypoint": "true", "entrypoint_resources": {"CPU": 1}})
    assert e.value.status == 400 and "entrypoint_num_cpus" in e.value.message
    assert call("DELETE", "/api/jobs/r") == {"deleted": True}
    assert not os.path.exists(m.log_path("r"))


def test_sdk_names_both_versions_on_a_mismatch(monkeypatch):
    from lumos.job_submission import sdk
    client = object.__new__(sdk.JobSubmissionClient)
    client._address = "http://h:1"
    client._check_version({"version": common.API_VERSION, "lumos_version": "0.1.0"})
    with pytest.raises(RuntimeError, match=r"version 3 \(lumos 0.0.9\).*version 4 \(lumos"):
        client._check_version({"version": "3", "lumos_version": "0.0.9"})
