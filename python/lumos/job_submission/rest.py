"""The jobs REST API on the dashboard's port, on Ray's paths:

    POST   /api/jobs/                  submit     -> {"submission_id", "job_id"}
    GET    /api/jobs/                  list       -> [JobDetails, ...]
    GET    /api/jobs/{id}              details    -> JobDetails (404 unknown)
    GET    /api/jobs/{id}/logs         logs       -> {"logs": text}
    GET    /api/jobs/{id}/logs/tail    the log as it grows (chunked text) until the job ends
    POST   /api/jobs/{id}/stop         stop       -> {"stopped": bool}
    DELETE /api/jobs/{id}              delete     -> {"deleted": true} (400 unless terminal)
    PUT    /api/packages/gcs/{name}    upload a working_dir package
    GET    /api/packages/gcs/{name}    200 when it is already here, else 404
    GET    /api/version                what the SDK checks on connecting

Ray tails logs over a websocket; here the tail is a chunked HTTP body
(any HTTP client reads it). The server checks the token before any of
these run (lumos.dashboard.routing).
"""
import threading

from lumos import __version__
from lumos.dashboard.routing import HttpError, Response, StreamResponse
from lumos.job_submission import common, packages


class _Lazy:
    """The manager, made in the background at registration (or by the first
    request, if that comes sooner or the GCS was not up): registering must
    not wait for the GCS, the dashboard serves its other pages at once."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._manager = None
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            if self._manager is None:
                from lumos._private import auth
                from lumos.job_submission.gcs_kv import GcsKv
                from lumos.job_submission.manager import JobManager
                node_ip = auth.node_ip_of(self.ctx.session_dir) or self.ctx.gcs_address.rsplit(":", 1)[0]
                try:
                    gcs = GcsKv(self.ctx.gcs_address, self.ctx.token)
                    self._manager = JobManager(gcs, self.ctx.session_dir, self.ctx.gcs_address, node_ip)
                except Exception as e:  # noqa: BLE001 - named in the answer; the next request tries again
                    raise HttpError(503, "the jobs manager cannot reach the GCS at %s (%s); retry shortly"
                                    % (self.ctx.gcs_address, e))
            return self._manager


def _warm_up(manager):
    try:
        manager()  # loads the records and settles jobs an earlier dashboard left unfinished
    except HttpError:
        pass  # the GCS is not up yet: the first request tries again


def register(router, ctx):
    manager = _Lazy(ctx)
    threading.Thread(target=_warm_up, args=(manager,), name="jobs-manager-start", daemon=True).start()

    def found(sid):
        from lumos.job_submission.manager import JobNotFound
        try:
            return manager().get(sid)
        except JobNotFound as e:
            raise HttpError(404, e.message)

    def submit(req, params):
        try:
            request = common.check_submit_request(req.json())
            sid = manager().submit(request)
        except (ValueError, TypeError) as e:
            raise HttpError(400, str(e))
        except ConnectionError as e:
            raise HttpError(503, str(e))
        return Response.json({"submission_id": sid, "job_id": None})

    def list_jobs(req, params):
        return Response.json([d.to_dict() for d in manager().list()])

    def get_job(req, params):
        return Response.json(found(params["job_id"]).to_dict())

    def logs(req, params):
        found(params["job_id"])
        return Response.json({"logs": manager().logs(params["job_id"])})

    def tail(req, params):
        found(params["job_id"])
        return StreamResponse(manager().tail(params["job_id"]))

    def stop(req, params):
        found(params["job_id"])
        return Response.json({"stopped": manager().stop(params["job_id"])})

    def delete(req, params):
        found(params["job_id"])
        try:
            return Response.json({"deleted": manager().delete(params["job_id"])})
        except ValueError as e:
            raise HttpError(400, str(e))
        except ConnectionError as e:
            raise HttpError(503, str(e))

    def _package(params):
        if params["protocol"] != "gcs":
            raise HttpError(400, "packages are uploaded with the 'gcs' protocol (got %r)" % params["protocol"])
        try:
            return packages.package_path(ctx.session_dir, params["name"])
        except ValueError as e:
            raise HttpError(400, str(e))

    def package_exists(req, params):
        import os
        path = _package(params)
        if not os.path.exists(path):
            raise HttpError(404, "package %s is not on this cluster" % params["name"])
        return Response.json({"exists": True})

    def package_upload(req, params):
        _package(params)
        try:
            packages.store(ctx.session_dir, params["name"], req.body)
        except ValueError as e:
            raise HttpError(400, str(e))
        return Response.json({"uploaded": params["name"]})

    def version(req, params):
        return Response.json({"version": common.API_VERSION, "lumos_version": __version__, "ray_version": __version__,
                              "session_name": ctx.session_dir.rstrip("/").rsplit("/", 1)[-1]})

    router.add("GET", "/api/version", version)
    router.add("POST", "/api/jobs/", submit)
    router.add("GET", "/api/jobs/", list_jobs)
    router.add("GET", "/api/jobs/{job_id}", get_job)
    router.add("DELETE", "/api/jobs/{job_id}", delete)
    router.add("GET", "/api/jobs/{job_id}/logs", logs)
    router.add("GET", "/api/jobs/{job_id}/logs/tail", tail)
    router.add("POST", "/api/jobs/{job_id}/stop", stop)
    router.add("GET", "/api/packages/{protocol}/{name}", package_exists)
    router.add("PUT", "/api/packages/{protocol}/{name}", package_upload)
