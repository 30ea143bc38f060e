"""Connecting a client: the token, the gRPC handshake with the client
server, the stream to the client's own driver, and lumos.init's client path.

Contract: init_client() (called by lumos.init for "lumos://" / "ray://")
leaves worker._client set to a connected, initialized Client, or raises
naming the cause (no token, unreachable address within 8 s, wrong token,
version mismatch, a driver that did not start).
"""
import os

from lumos.util.client import protocol as P
from lumos.util.client.api import Client


# Tests put a TCP proxy between a client and its driver: (host, port) -> (host, port).
DRIVER_TARGET_HOOK = None


def _token(explicit, token_file):
    from lumos._private import auth
    if explicit:
        return explicit
    try:
        token = auth.resolve(token_file=token_file)
    except (OSError, ValueError) as e:
        raise ConnectionError("cannot read the cluster token file %r: %s" % (token_file, e)) from None
    if not token:
        raise ConnectionError(
            "no cluster token for client mode: set LUMOS_AUTH_TOKEN, or pass lumos.init(address, _auth_token=...) "
            "or _auth_token_file=... (the head wrote the token to <session_dir>/auth_token)")
    return token


def handshake(address, token, grace_s, timeout_s=8.0):
    """Asks the client server at `address` ("lumos://HOST:PORT") for a driver;
    returns (driver host, port, client id, server reply)."""
    import json
    import grpc
    from lumos._private.addresses import split_host_port
    hostport = address.split("://", 1)[1].rstrip("/")
    host, port = split_host_port(hostport, what="the client-mode address %r" % address)
    channel = grpc.insecure_channel(hostport, options=P.grpc_options())
    try:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout_s)
        except grpc.FutureTimeoutError:
            raise ConnectionError(
                "could not reach the lumos client server at %s within %.0f s: is the head running with "
                "`lumos start --head --client-server-port %d`, and is the port open from here?"
                % (address, timeout_s, port)) from None
        req = {"version": P.version_string(), "grace_s": grace_s}
        try:
            raw = channel.unary_unary(P.CONNECT_METHOD)(
                json.dumps(req).encode(), metadata=(("authorization", "Bearer " + token),), timeout=120)
        except grpc.RpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNAUTHENTICATED:
                raise ConnectionError("the lumos client server at %s refused the cluster token: %s"
                                      % (address, e.details())) from None
            if code == grpc.StatusCode.FAILED_PRECONDITION:
                raise RuntimeError(e.details()) from None
            if code == grpc.StatusCode.UNIMPLEMENTED:
                raise ConnectionError("the server at %s is not a lumos client server (another gRPC service, e.g. a "
                                      "Ray client server, listens there); check the host and port" % address) from None
            raise ConnectionError("client-mode handshake with %s failed: %s: %s" % (
                address, code.name, e.details())) from None
    finally:
        channel.close()
    reply = json.loads(raw.decode())
    if reply.get("version") != P.version_string():
        raise RuntimeError("version mismatch: the client runs lumos %s, the cluster's client server runs lumos %s"
                           % (P.version_string(), reply.get("version")))
    return host, reply["port"], reply["client_id"], reply


def connect(address, namespace=None, runtime_env=None, job_config=None, _auth_token=None,
            _auth_token_file=None, _client_grace_s=None):
    """A connected Client (the driver made and initialized) for `address`."""
    from lumos.util.client.connection import Connection
    token = _token(_auth_token, _auth_token_file)
    grace = float(_client_grace_s if _client_grace_s is not None
                  else os.environ.get("LUMOS_CLIENT_RECONNECT_GRACE_S", P.DEFAULT_GRACE_S))
    host, port, client_id, _ = handshake(address, token, grace)
    if DRIVER_TARGET_HOOK is not None:
        host, port = DRIVER_TARGET_HOOK(host, port)
    try:
        conn = Connection((host, port), token, client_id, grace, address)
    except Exception as e:
        raise ConnectionError("the driver for this client at %s:%d did not answer: %s" % (host, port, e)) from None
    client = Client(conn, address)
    try:
        client.init(namespace, runtime_env, job_config)
    except BaseException:
        client.close()
        raise
    return client


# ---------------------------------------------------------------- entry points (worker.py dispatches here)

_CLIENT_INIT_KEYWORDS = {"_auth_token", "_auth_token_file", "_client_grace_s"}


def init_client(address, namespace, runtime_env, job_config, ignore_reinit_error, other_args, kwargs):
    """lumos.init("lumos://...") -> the context dict. `other_args`: init()'s
    arguments that describe a local cluster (refused here when given)."""
    from lumos._private import worker
    from lumos._private.worker import IGNORED_INIT_KEYWORDS, RayContext
    unknown = set(kwargs) - IGNORED_INIT_KEYWORDS - _CLIENT_INIT_KEYWORDS
    if unknown:
        raise TypeError("init() got unexpected keyword argument(s): %s" % ", ".join(sorted(unknown)))
    given = sorted(k for k, v in other_args.items() if v)
    if given:
        raise ValueError("%s describe a new cluster or this process's node; they cannot be given when connecting "
                         "to %s in client mode" % (", ".join(given), address))
    if worker._client is not None or worker._state.connected:
        if ignore_reinit_error:
            return RayContext(worker._client.context if worker._client is not None else {})
        raise RuntimeError("Maybe you called lumos.init twice by accident? This error can be suppressed by passing "
                           "in 'ignore_reinit_error=True' or by calling 'lumos.shutdown()' prior to 'lumos.init()'.")
    client = connect(address, namespace, runtime_env, job_config,
                     **{k: v for k, v in kwargs.items() if k in _CLIENT_INIT_KEYWORDS})
    worker._client = client
    import atexit
    atexit.register(worker.shutdown)
    ctx = RayContext(client.context)
    ctx["client_address"] = address
    return ctx
