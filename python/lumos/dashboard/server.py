"""The dashboard process: one small threaded HTTP server (stdlib only) on the
head node, in front of the route modules listed in ROUTE_MODULES.

    python -m lumos.dashboard.server --gcs-address IP:PORT --session-dir DIR \
        --host IP --port P [--listen-fd FD] [--lifeline-pid PID]

What it owns: the listening socket (bound by the launcher and inherited as
--listen-fd, so a port in use fails the launcher at once and by name; bound
here when run by hand), HTTP parsing, the token check (http_auth), one
thread per connection, and its own lifetime: it ends with its lifeline
process (a driver that ran lumos.init()), on SIGTERM (`lumos stop`), or when
the GCS has been unreachable for --gcs-gone-after seconds (the cluster is
gone for good; a GCS restart takes less).

Route modules never see an unauthenticated request (see routing.py for the
contract). A module that fails to import is reported on stderr and left out;
the others go on serving.
"""
import argparse
import ctypes
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lumos.dashboard import http_auth
from lumos.dashboard.routing import DashboardContext, HttpError, Request, Response, Router, StreamResponse

# Modules exposing register(router, ctx), in order (the first route that
# matches a path wins). Other subsystems append theirs here.
ROUTE_MODULES = [
    "lumos.dashboard.routes_pages",
    "lumos.dashboard.routes_api",
    "lumos.dashboard.routes_logs",
    "lumos.dashboard.routes_metrics",
    "lumos.job_submission.rest",
]

MAX_BODY_BYTES = 512 << 20  # a job's working_dir package may be large
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_HTML_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"


def build_router(ctx, modules=None):
    """A Router with the routes of every module of `modules` (default ROUTE_MODULES)."""
    router = Router()
    for name in ROUTE_MODULES if modules is None else modules:
        try:
            importlib.import_module(name).register(router, ctx)
        except Exception:  # noqa: BLE001 - one broken module must not take the dashboard down
            print("lumos dashboard: route module %s failed to load; its pages are missing:\n%s"
                  % (name, traceback.format_exc()), file=sys.stderr, flush=True)
    return router


class _Handler(BaseHTTPRequestHandler):
    """One HTTP request: authenticate, route, answer. Runs on its connection's thread."""
    protocol_version = "HTTP/1.1"
    server_version = "lumos-dashboard"
    sys_version = ""
    # Seconds a connection may sit without sending (a request, or the next one
    # on a kept-alive connection) or without taking what is sent to it: a
    # client that connects and never speaks would otherwise hold its thread
    # for ever (1,000 of them: 1,000 threads). LUMOS_DASHBOARD_IDLE_TIMEOUT_S
    # shortens it for tests.
    timeout = float(os.environ.get("LUMOS_DASHBOARD_IDLE_TIMEOUT_S", "60"))

    def log_message(self, fmt, *args):  # access logs would grow the log without bound
        pass

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    def do_DELETE(self):
        self._serve()

    # ------------------------------------------------------------ plumbing
    def _send(self, status, body, content_type, headers=None, close=False):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in _SECURITY_HEADERS.items():
            self.send_header(k, v)
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", _HTML_CSP)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_stream(self, resp, extra):
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Accel-Buffering", "no")
        for k, v in _SECURITY_HEADERS.items():
            self.send_header(k, v)
        for k, v in list(resp.headers.items()) + list(extra.items()):
            self.send_header(k, v)
        self.end_headers()
        try:
            for chunk in resp.chunks:
                if not chunk:
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client went away
        finally:
            close = getattr(resp.chunks, "close", None)
            if close is not None:
                close()

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            raise HttpError(413, "the request body is %d bytes; at most %d are accepted" % (length, MAX_BODY_BYTES))
        return self.rfile.read(length) if length else b""

    # ------------------------------------------------------------ one request
    def _serve(self):
        srv = self.server
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path) or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        auth = srv.authenticator
        try:
            if path == http_auth.LOGIN_PATH and self.command == "POST":
                return self._login(auth, headers)
            by_query = auth.token_ok(query.get("token", ""))
            if not (by_query or auth.bearer_ok(headers) or auth.cookie_ok(headers)):
                return self._refuse(path, query, headers, bool(query.get("token")))
            extra = {}
            if by_query:
                extra["Set-Cookie"] = auth.set_cookie_header()
                if self.command == "GET" and http_auth.wants_html(headers):
                    # Drop the token from the address bar and the history.
                    extra["Location"] = http_auth.without_token(path, query)
                    return self._send(303, b"", "text/plain", extra)
            request = Request(self.command, path, query, headers, self._read_body())
            handler, params = srv.router.match(self.command, path)
            resp = handler(request, params)
            if isinstance(resp, StreamResponse):
                return self._send_stream(resp, extra)
            self._send(resp.status, resp.body, resp.content_type, dict(resp.headers, **extra))
        except HttpError as e:
            # 413: the body was not read, so the connection cannot carry another request.
            self._send(e.status, json.dumps({"error": e.message}), "application/json", close=e.status == 413)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a handler's bug is a 500, and the server goes on
            traceback.print_exc(file=sys.stderr)
            try:
                self._send(500, json.dumps({"error": "%s: %s" % (type(e).__name__, e)}), "application/json")
            except OSError:
                self.close_connection = True

    def _refuse(self, path, query, headers, had_token):
        # Drain nothing and close: an unauthenticated body is not read.
        head = {"WWW-Authenticate": 'Bearer realm="lumos dashboard"'}
        if http_auth.wants_html(headers):
            page = http_auth.login_page(http_auth.without_token(path, query), failed=had_token)
            return self._send(401, page, "text/html; charset=utf-8", head, close=True)
        msg = ("wrong cluster token" if had_token or "authorization" in headers else
               "this dashboard needs the cluster token: send 'Authorization: Bearer TOKEN' or add ?token=TOKEN "
               "once (the token is in <session_dir>/auth_token on the head node)")
        self._send(401, json.dumps({"error": msg}), "application/json", head, close=True)

    def _login(self, auth, headers):
        length = int(self.headers.get("Content-Length") or 0)
        if length > 4096:
            raise HttpError(413, "a login form is at most 4096 bytes")
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        next_path = http_auth.safe_next(form.get("next", ["/"])[-1])
        if auth.token_ok(form.get("token", [""])[-1].strip()):
            return self._send(303, b"", "text/plain", {"Location": next_path,
                                                      "Set-Cookie": auth.set_cookie_header()})
        self._send(401, http_auth.login_page(next_path, failed=True), "text/html; charset=utf-8", close=True)


class DashboardServer(ThreadingHTTPServer):
    """The HTTP server: a thread per connection (daemon threads, so a stuck
    stream never holds the process at exit)."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, ctx, authenticator, router, listen_sock=None):
        self.ctx = ctx
        self.authenticator = authenticator
        self.router = router
        if listen_sock is None:
            super().__init__((ctx.node_ip, ctx.port), _Handler)
        else:
            super().__init__(listen_sock.getsockname()[:2], _Handler, bind_and_activate=False)
            self.socket.close()
            self.socket = listen_sock
        self.ctx.port = self.socket.getsockname()[1]


def _tie_to_parent(pid):
    """SIGTERM when `pid` (our parent) exits; exits now if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != pid:
        sys.exit("lumos dashboard: parent %d is already gone; exiting" % pid)


def _watch_gcs(address, gone_after_s, token):
    """Exits the process once the GCS has not answered for `gone_after_s` s."""
    import grpc
    from lumos._private import auth
    from lumos._proto import gcs_service_pb2, gcs_service_pb2_grpc
    channel = grpc.insecure_channel(address)
    stub = gcs_service_pb2_grpc.HealthCheckGcsServiceStub(channel)
    metadata = auth.grpc_metadata(token)
    last_ok = time.monotonic()
    while True:
        try:
            stub.CheckAlive(gcs_service_pb2.CheckAliveRequest(), timeout=5, metadata=metadata)
            last_ok = time.monotonic()
        except grpc.RpcError:
            if time.monotonic() - last_ok > gone_after_s:
                print("lumos dashboard: the GCS at %s has not answered for %.0f s; exiting"
                      % (address, gone_after_s), file=sys.stderr, flush=True)
                os._exit(0)
        time.sleep(2.0)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m lumos.dashboard.server")
    p.add_argument("--gcs-address", required=True)
    p.add_argument("--session-dir", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8265)
    p.add_argument("--listen-fd", type=int, default=None, help="an inherited socket, bound and listening")
    p.add_argument("--lifeline-pid", type=int, default=None)
    p.add_argument("--gcs-gone-after", type=float, default=60.0)
    args = p.parse_args(argv)
    if args.lifeline_pid:
        _tie_to_parent(args.lifeline_pid)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # stateless: nothing to flush
    from lumos._private import auth
    try:
        token = auth.require(session_dir=args.session_dir, what="the dashboard")
    except (ConnectionError, OSError, ValueError) as e:
        sys.exit("lumos dashboard: %s" % e)
    # The state API (lumos.util.state) in this process finds the token here.
    os.environ["LUMOS_AUTH_TOKEN"] = token
    listen_sock = None
    if args.listen_fd is not None:
        listen_sock = socket.socket(fileno=args.listen_fd)
    ctx = DashboardContext(gcs_address=args.gcs_address, session_dir=args.session_dir, token=token,
                           node_ip=args.host, port=args.port)
    try:
        server = DashboardServer(ctx, http_auth.Authenticator(token), Router(), listen_sock)
    except OSError as e:
        sys.exit("lumos dashboard: cannot listen on %s:%d: %s" % (args.host, args.port, e.strerror or e))
    server.router = build_router(ctx)
    threading.Thread(target=_watch_gcs, args=(args.gcs_address, args.gcs_gone_after, token),
                     name="gcs-watch", daemon=True).start()
    print("lumos dashboard serving http://%s:%d" % (args.host, ctx.port), flush=True)
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
