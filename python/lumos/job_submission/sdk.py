"""JobSubmissionClient: Ray's jobs SDK over the dashboard's REST API
(lumos.job_submission.rest), with the standard library only.

The address is the dashboard's ("http://HEAD:8265"); without one, it comes
from $LUMOS_ADDRESS, $RAY_API_SERVER_ADDRESS or $RAY_ADDRESS, else the
dashboard of the cluster running on this machine. A "HOST:PORT" that is a
local cluster's GCS address means that cluster's dashboard. Every request
carries `Authorization: Bearer TOKEN`, the token found as other lumos tools
find it (lumos._private.auth: $LUMOS_AUTH_TOKEN, else the session of the
cluster whose dashboard this is).
"""
import asyncio
import http.client
import json
import os
import urllib.parse

from lumos.exceptions import AuthenticationError
from lumos.job_submission import common, packages
from lumos.job_submission.common import JobDetails, JobStatus

CONNECT_TIMEOUT_S = 5.0   # an unreachable address is an error well within 10 s
READ_TIMEOUT_S = 60.0     # a loaded head may be slow to answer; tails wait without limit


def _local_sessions(temp_dir=None):
    """(current cluster's session dir or None, root) of this machine."""
    from lumos._private.node import CURRENT_CLUSTER_FILE, session_root
    root = session_root(temp_dir)
    try:
        with open(os.path.join(root, CURRENT_CLUSTER_FILE)) as f:
            return json.load(f).get("session_dir"), root
    except (OSError, ValueError):
        return None, root


def _dashboard_of(session_dir):
    from lumos.dashboard.launch import recorded_url
    return recorded_url(session_dir) if session_dir else None


def resolve_address(address=None, temp_dir=None):
    """(dashboard URL, session dir of this machine that belongs to it or None).
    ValueError naming the fix when there is nothing to connect to."""
    import glob
    address = address or os.environ.get("LUMOS_ADDRESS") or os.environ.get("RAY_API_SERVER_ADDRESS") or \
        os.environ.get("RAY_ADDRESS")
    current, root = _local_sessions(temp_dir)
    sessions = sorted(glob.glob(os.path.join(root, "session_*")), key=os.path.getmtime, reverse=True)
    if address in (None, "", "auto"):
        url = _dashboard_of(current)
        if url is None:
            raise ValueError("no lumos cluster with a dashboard runs on this machine; pass --address "
                             "http://HEAD:8265 (or set LUMOS_ADDRESS) to reach a remote one")
        return url, current
    if address.startswith(("ray://", "lumos://")):
        raise ValueError("%s is a client-mode address; jobs are submitted to the dashboard's HTTP address, "
                         "e.g. http://HEAD:8265" % address)
    if "://" not in address:
        from lumos._private import auth
        for d in auth.sessions_of(address, root):  # a GCS address of a cluster of this machine
            url = _dashboard_of(d)
            if url:
                return url, d
        address = "http://" + address
    url = address.rstrip("/")
    for d in ([current] if current else []) + sessions:
        if _dashboard_of(d) == url:
            return url, d
    return url, None


class RequestError(RuntimeError):
    """The dashboard answered with an error status (`status`); the message
    is Ray's "Request failed with status code N: <server's reason>."."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class JobSubmissionClient:
    """Submits and manages jobs on a lumos cluster (Ray's JobSubmissionClient).
    Construction checks that the dashboard answers and accepts the token."""

    def __init__(self, address=None, create_cluster_if_needed=False, cookies=None, metadata=None,
                 headers=None, verify=True, *, _temp_dir=None):
        from lumos._private import auth
        self._address, session = resolve_address(address, _temp_dir)
        parts = urllib.parse.urlsplit(self._address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the jobs address must look like http://HOST:PORT, got %r" % self._address)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._default_metadata = dict(metadata or {})
        self._headers = dict(headers or {})
        if cookies:
            self._headers["Cookie"] = "; ".join("%s=%s" % kv for kv in cookies.items())
        token = None
        try:
            token = auth.resolve(session_dir=session)
            if token is None:
                current, _ = _local_sessions(_temp_dir)
                token = auth.resolve(session_dir=current)
        except (OSError, ValueError):
            pass
        if token and not any(k.lower() == "authorization" for k in self._headers):
            self._headers["Authorization"] = "Bearer " + token
        self._verify = verify
        try:
            version = self._request("GET", "/api/version") or {}
        except RequestError as e:
            raise ConnectionError("%s does not answer like a lumos dashboard (GET /api/version: %s); check the "
                                  "address: the dashboard's port (8265 by default), not the GCS's" % (self._address, e))
        except ValueError:  # not JSON
            version = {}
        self._check_version(version)

    def _check_version(self, server):
        from lumos import __version__
        if str(server.get("version")) != common.API_VERSION or "lumos_version" not in server:
            raise RuntimeError(
                "the server at %s speaks jobs API version %s (lumos %s); this client speaks version %s (lumos %s): "
                "use the same lumos version on both sides" % (self._address, server.get("version"),
                                                              server.get("lumos_version", "unknown: not lumos?"),
                                                              common.API_VERSION, __version__))

    def get_address(self):
        return self._address

    # ------------------------------------------------------------ HTTP
    def _connect(self, timeout):
        if self._https:
            import ssl
            context = None if self._verify else ssl._create_unverified_context()
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=context)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _open(self, method, path, body=None, content_type="application/json"):
        """(connection, response) with a 2xx status; raises otherwise."""
        conn = self._connect(CONNECT_TIMEOUT_S)
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            conn.connect()
            conn.sock.settimeout(READ_TIMEOUT_S)
            conn.request(method, self._prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise ConnectionError("Failed to connect to the lumos dashboard at %s (%s: %s): is the cluster's "
                                  "dashboard running there? Pass --address http://HEAD:8265 or set LUMOS_ADDRESS"
                                  % (self._address, type(e).__name__, e)) from None
        if 200 <= resp.status < 300:
            return conn, resp
        raw = resp.read()
        conn.close()
        try:
            message = json.loads(raw).get("error") or raw.decode()
        except (ValueError, AttributeError):
            message = raw.decode("utf-8", "replace")
        if resp.status == 401:
            raise AuthenticationError(
                "the lumos dashboard at %s refused the request (401 Unauthorized: %s). Send the cluster's token: "
                "set LUMOS_AUTH_TOKEN to the contents of <session_dir>/auth_token on the head node"
                % (self._address, message.strip()))
        raise RequestError(resp.status, "Request failed with status code %d: %s." % (resp.status, message.strip()))

    def _request(self, method, path, body=None, content_type="application/json"):
        conn, resp = self._open(method, path, body, content_type)
        try:
            raw = resp.read()
        finally:
            conn.close()
        return json.loads(raw) if raw else None

    @staticmethod
    def _quote(sid):
        return urllib.parse.quote(sid, safe="")

    # ------------------------------------------------------------ working_dir
    def _upload_working_dir(self, runtime_env):
        env = dict(runtime_env or {})
        wd = env.get("working_dir")
        if not wd or not isinstance(wd, str) or wd.startswith(packages.URI_PREFIX):
            return env
        if "://" in wd:
            raise ValueError("runtime_env['working_dir']=%r: remote URIs are not built in lumos; give a local "
                             "directory (it is uploaded)" % wd)
        excludes = env.pop("excludes", None) or []
        name, data = packages.make_package(os.path.expanduser(wd), excludes)
        path = "/api/packages/gcs/" + name
        try:
            self._request("GET", path)
        except RequestError as e:
            if e.status != 404:
                raise
            self._request("PUT", path, body=data, content_type="application/zip")
        env["working_dir"] = packages.URI_PREFIX + name
        return env

    # ------------------------------------------------------------ Ray's methods
    def submit_job(self, *, entrypoint, job_id=None, runtime_env=None, metadata=None, submission_id=None,
                   entrypoint_num_cpus=None, entrypoint_num_gpus=None, entrypoint_memory=None,
                   entrypoint_resources=None, entrypoint_label_selector=None):
        """Starts `entrypoint` (a shell command) on the cluster; returns the submission id."""
        if hasattr(runtime_env, "to_dict"):
            runtime_env = runtime_env.to_dict()
        body = {"entrypoint": entrypoint, "submission_id": submission_id or job_id,
                "runtime_env": self._upload_working_dir(runtime_env),
                "metadata": dict(self._default_metadata, **(metadata or {})),
                "entrypoint_num_cpus": entrypoint_num_cpus, "entrypoint_num_gpus": entrypoint_num_gpus,
                "entrypoint_memory": entrypoint_memory, "entrypoint_resources": entrypoint_resources}
        if entrypoint_label_selector:
            body["entrypoint_label_selector"] = entrypoint_label_selector
        common.check_submit_request(body)  # bad input fails here, before any upload matters
        return self._request("POST", "/api/jobs/", body=json.dumps(body).encode())["submission_id"]

    def get_job_info(self, job_id):
        return JobDetails.from_dict(self._request("GET", "/api/jobs/" + self._quote(job_id)))

    def get_job_status(self, job_id):
        return self.get_job_info(job_id).status

    def list_jobs(self):
        return [JobDetails.from_dict(d) for d in self._request("GET", "/api/jobs/")]

    def get_job_logs(self, job_id):
        return self._request("GET", "/api/jobs/%s/logs" % self._quote(job_id))["logs"]

    def stop_job(self, job_id):
        return bool(self._request("POST", "/api/jobs/%s/stop" % self._quote(job_id))["stopped"])

    def delete_job(self, job_id):
        return bool(self._request("DELETE", "/api/jobs/" + self._quote(job_id))["deleted"])

    def iter_job_logs(self, job_id):
        """Yields the job's log text as it grows, ending when the job ends (blocking)."""
        conn, resp = self._open("GET", "/api/jobs/%s/logs/tail" % self._quote(job_id))
        try:
            conn.sock.settimeout(None)  # a quiet job may print nothing for a long time
            while True:
                data = resp.read1(1 << 16) if hasattr(resp, "read1") else resp.read(1 << 16)
                if not data:
                    return
                yield data.decode("utf-8", "replace")
        finally:
            conn.close()

    async def tail_job_logs(self, job_id):
        """Ray's async iterator over the job's log as it grows:
        `async for lines in client.tail_job_logs(id): print(lines, end="")`."""
        it = self.iter_job_logs(job_id)
        done = object()
        while True:
            chunk = await asyncio.to_thread(next, it, done)
            if chunk is done:
                return
            yield chunk


__all__ = ["JobSubmissionClient", "JobStatus", "JobDetails", "resolve_address"]
