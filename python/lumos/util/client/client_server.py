"""The client server on the head: `python -m lumos.util.client.client_server`.

Contract: listens on the node IP (`lumos start --head --client-server-port`,
default 10001) for the client-mode handshake, a unary gRPC call checked
against the cluster token and the client's version. For each new client it
starts a driver process of its own (driver_server.py) and answers with that
driver's address; the client then talks to its driver directly, so this
process is on no hot path. It ends its drivers when it stops (SIGTERM from
`lumos stop`, or its lifeline process gone) and reaps the ones that exit.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent import futures

import grpc

from lumos._private import auth
from lumos.util.client import protocol as P

_DRIVER_START_TIMEOUT_S = 60.0


class ClientServer:
    def __init__(self, args, token):
        self.args = args
        self.token = token
        self.lock = threading.Lock()
        self.drivers = {}   # client id -> (Popen, port)

    def connect(self, request, ctx):
        md = ctx.invocation_metadata()
        if not P.check_bearer(md, self.token):
            ctx.abort(grpc.StatusCode.UNAUTHENTICATED,
                      "wrong or missing cluster token (the client passes it as 'authorization: Bearer <token>'; "
                      "set LUMOS_AUTH_TOKEN or init(..., _auth_token=...))")
        try:
            req = json.loads(request.decode())
        except ValueError:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "the handshake is not JSON")
        mine = P.version_string()
        if req.get("version") != mine:
            ctx.abort(grpc.StatusCode.FAILED_PRECONDITION,
                      "version mismatch: the client runs lumos %s, the cluster's client server runs lumos %s; "
                      "install the same lumos version on both sides" % (req.get("version"), mine))
        grace = float(req.get("grace_s") or P.DEFAULT_GRACE_S)
        client_id = uuid.uuid4().hex
        try:
            port = self._start_driver(client_id, grace)
        except RuntimeError as e:
            ctx.abort(grpc.StatusCode.INTERNAL, str(e))
        return json.dumps({"version": mine, "client_id": client_id, "host": self.args.host, "port": port,
                           "gcs_address": self.args.gcs_address}).encode()

    def _start_driver(self, client_id, grace):
        log_path = os.path.join(self.args.session_dir, "logs", "client_driver_%s.log" % client_id[:12])
        r, w = os.pipe()
        env = dict(os.environ)
        env["LUMOS_AUTH_TOKEN"] = self.token
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "lumos.util.client.driver_server", "--host", self.args.host,
                 "--gcs-address", self.args.gcs_address, "--session-dir", self.args.session_dir,
                 "--client-id", client_id, "--grace-s", str(grace), "--ready-fd", str(w),
                 "--log-file", log_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(w,), env=env)
        os.close(w)
        with self.lock:
            self.drivers[client_id] = proc
        line = b""
        deadline = time.monotonic() + _DRIVER_START_TIMEOUT_S
        import select
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], 0.5)
            if ready:
                chunk = os.read(r, 64)
                if not chunk:
                    break
                line += chunk
        os.close(r)
        if not line.endswith(b"\n"):
            proc.kill()
            proc.wait()
            try:
                with open(log_path, "rb") as f:
                    tail = f.read()[-1500:].decode("utf-8", "replace")
            except OSError:
                tail = ""
            raise RuntimeError("the driver process for this client did not start (exit code %s; log %s):\n%s"
                               % (proc.returncode, log_path, tail))
        return int(line)

    def reap(self):
        with self.lock:
            for cid, proc in list(self.drivers.items()):
                if proc.poll() is not None:
                    del self.drivers[cid]

    def stop_drivers(self, grace_s=3.0):
        with self.lock:
            procs = list(self.drivers.values())
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + grace_s
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def choose_port(requested, host):
    """The port `lumos start --head` gives the client server: `requested`
    (ValueError when taken), or by default 10001 when free (else 0, with a
    warning: several heads on one machine must not fail on it)."""
    import socket
    port = P.DEFAULT_PORT if requested is None else requested
    if port == 0:
        return 0
    if not 0 < port < 65536:
        raise ValueError("--client-server-port must be a port number (1-65535) or 0 for none, got %d" % port)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        s.bind((host, port))
    except OSError as e:
        if requested is not None:
            raise ValueError("--client-server-port %d is not free on %s (%s); pick another, or 0 for none"
                             % (port, host, e.strerror)) from None
        print("lumos start: the default client-server port %d on %s is taken; starting no client server (pass "
              "--client-server-port to choose another)" % (port, host), file=sys.stderr)
        return 0
    finally:
        s.close()
    return port


def main(argv=None):
    p = argparse.ArgumentParser(prog="lumos-client-server")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--gcs-address", required=True)
    p.add_argument("--session-dir", required=True)
    p.add_argument("--auth-token-file", required=True)
    p.add_argument("--lifeline-pid", type=int, default=None)
    args = p.parse_args(argv)
    token = auth.read_file(args.auth_token_file)
    cs = ClientServer(args, token)
    server = grpc.server(futures.ThreadPoolExecutor(8, thread_name_prefix="client-server"),
                         options=P.grpc_options())
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("lumos.client.ClientServer", {
        "Connect": grpc.unary_unary_rpc_method_handler(cs.connect)}),))
    try:
        bound = server.add_insecure_port("%s:%d" % (args.host, args.port))
    except RuntimeError:
        bound = 0
    if not bound:
        sys.exit("lumos client server: cannot listen on %s:%d (in use?); pick another with "
                 "--client-server-port, or 0 to run none" % (args.host, args.port))
    server.start()
    # A plain flag: a handler that set a threading.Event could deadlock on
    # the Event's lock held by the main thread's wait.
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    while not stop:
        time.sleep(0.5)
        cs.reap()
        if args.lifeline_pid and not _alive(args.lifeline_pid):
            break
        if not os.path.isdir(args.session_dir):
            break   # the cluster's session is gone (stopped without us, or deleted)
    server.stop(0.5)
    cs.stop_drivers()


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


if __name__ == "__main__":
    main()
