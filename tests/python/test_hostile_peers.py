"""Malformed or hostile input over a node's sockets costs the daemon that one
connection, never the process, and is logged once naming the peer.

Against one live cluster: every listening socket of the raylet (fastpath Unix
socket and TCP port, object store socket, object manager port) and the GCS
(gRPC port) is found from the kernel's view, then sent an oversized length
prefix, a truncated frame, an unknown frame kind, an unknown method, garbage,
and silence - on TCP before and after AUTHENTICATE. After each: the daemons
live, a task and a put/get work, the server closed the connection, and the
raylet's log has exactly one new line about it naming the peer (Unix: the
peer's pid from SO_PEERCRED; TCP: its address, the pid is not knowable).
The object manager port gets the same before AUTHENTICATE; the dashboard is
in test_hostile_dashboard.py.
Last, 1,000 connections at once to the raylet's Unix socket and TCP port.
"""
import os
import resource
import socket
import struct
import time

import psutil
import pytest

import lumos
from lumos._proto import common_pb2

from conftest import module_cluster, wait_until

AUTH_TIMEOUT_MS = 1000  # short, so the silent-TCP-client case is quick

HEADER = struct.Struct("<IHBBQ")  # payload_len, method, kind, flags, request_id
REQUEST, REPLY, ONEWAY = 1, 2, 3
FLAG_ERROR = 1


@pytest.fixture(scope="module")
def node():
    for ctx in module_cluster(num_cpus=1, _system_config={"auth_timeout_ms": AUTH_TIMEOUT_MS}):
        session = ctx["session_dir"]
        info = lumos.nodes()[0]
        tcp = [p for p in info["RayletEndpoint"].split(";") if p.startswith("tcp:")][0][4:]
        host, port = tcp.rsplit(":", 1)
        with open(os.path.join(session, "pids", "gcs_server.pid")) as f:
            gcs_pid = int(f.read().split()[0])
        with open(os.path.join(session, "auth_token")) as f:
            token = f.read().strip()
        gcs_host, gcs_port = ctx["gcs_address"].rsplit(":", 1)
        raylet = psutil.Process(info["RayletPid"])
        om_ports = [c.laddr.port for c in raylet.net_connections(kind="inet")
                    if c.status == psutil.CONN_LISTEN and c.laddr.port != int(port)]
        yield {
            "raylet": raylet,
            "object_manager": (host, om_ports[0]),
            "gcs": psutil.Process(gcs_pid),
            "raylet_sock": info["RayletSocketName"],
            "store_sock": info["ObjectStoreSocketName"],
            "raylet_tcp": (host, int(port)),
            "gcs_addr": (gcs_host, int(gcs_port)),
            "token": token,
            "log": os.path.join(session, "logs", "raylet.err"),
        }


@lumos.remote
def add_one(x):
    return x + 1


def frame(method, payload=b"", kind=REQUEST, flags=0, rid=1, length=None):
    return HEADER.pack(len(payload) if length is None else length, method, kind, flags, rid) + payload


def read_frame(sock):
    head = b""
    while len(head) < HEADER.size:
        chunk = sock.recv(HEADER.size - len(head))
        if not chunk:
            return None
        head += chunk
    length, method, kind, flags, rid = HEADER.unpack(head)
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return method, kind, flags, body


def dial(addr):
    fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(addr)
    return s


def authenticate(sock, token):
    req = common_pb2.AuthRequest(token=token, version=lumos.__version__)
    sock.sendall(frame(common_pb2.AUTHENTICATE, req.SerializeToString()))
    reply = read_frame(sock)
    assert reply is not None and not reply[2] & FLAG_ERROR, "AUTHENTICATE was refused: %r" % (reply,)


def closed_by_server(sock, timeout=10.0):
    """True once the server has closed `sock` (an error reply before it is fine)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def log_size(n):
    return os.path.getsize(n["log"])


def bad_peer_lines(n, offset, peer):
    with open(n["log"], "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    # The fastpath's line (Connection::CloseBadPeer) or the object manager's.
    return [l for l in text.splitlines()
            if "dropped a connection from " + peer in l or "refused a connection from " + peer in l]


def peer_name(sock):
    if sock.family == socket.AF_UNIX:
        return "unix peer pid %d:" % os.getpid()
    host, port = sock.getsockname()[:2]
    return "TCP peer %s:%d (pid not knowable over TCP):" % (host, port)


def cluster_still_serves(n):
    for proc in (n["raylet"], n["gcs"]):
        assert proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE, proc
    assert lumos.get(add_one.remote(41), timeout=30) == 42
    assert lumos.get(lumos.put(b"x" * 200_000), timeout=30) == b"x" * 200_000


def expect_dropped_once(n, sock, offset, why):
    """The server closed `sock`, logged exactly one line naming its peer
    (containing `why`), and the cluster still serves."""
    peer = peer_name(sock)
    assert closed_by_server(sock), "the server kept a connection that sent " + why
    assert wait_until(lambda: bad_peer_lines(n, offset, peer), timeout=10), \
        "no log line about the peer (%s)" % peer
    time.sleep(0.2)  # a second line about the same connection would show by now
    lines = bad_peer_lines(n, offset, peer)
    assert len(lines) == 1, lines
    assert why in lines[0], lines[0]
    sock.close()
    cluster_still_serves(n)


# (name, bytes to send, words the log line must contain, shut down writing after)
def hostile_inputs(before_auth):
    limit = "4096" if before_auth else str(1024 ** 3)
    # Before AUTHENTICATE a well-formed frame of any other method is refused
    # by the handshake; after it (or on a Unix socket) by the server's handler.
    unknown = "first frame of a TCP connection must be AUTHENTICATE" if before_auth else "999"
    return [
        ("oversized length prefix", frame(1, length=0xFFFFFFFF), "exceeds the limit of " + limit, False),
        ("truncated frame", frame(1, b"x" * 10, length=100), "truncated frame", True),
        ("unknown frame kind", frame(1, kind=9), "bad frame kind 9", False),
        ("unknown method", frame(999), unknown, False),
        ("method beyond the table", frame(60000), "bad frame method 60000", False),
        ("garbage", bytes(range(7, 71)), "malformed frame", False),
    ]


def send_hostile(sock, data, shut):
    sock.sendall(data)
    if shut:
        sock.shutdown(socket.SHUT_WR)


def test_every_listening_socket_is_known_and_local(node):
    """The daemons listen where this file sends: the raylet on its Unix socket,
    the store's, its fastpath TCP port and the object manager port; the GCS on
    its gRPC port. All TCP listeners on the node IP, never 0.0.0.0."""
    r_tcp = [c for c in node["raylet"].net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    r_unix = {c.laddr for c in node["raylet"].net_connections(kind="unix") if c.status == psutil.CONN_LISTEN or
              (c.laddr and not c.raddr and c.laddr in (node["raylet_sock"], node["store_sock"]))}
    assert {node["raylet_sock"], node["store_sock"]} <= r_unix, r_unix
    assert node["raylet_tcp"][1] in {c.laddr.port for c in r_tcp}
    assert len(r_tcp) == 2, r_tcp  # fastpath + object manager
    g_tcp = [c for c in node["gcs"].net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert [c.laddr.port for c in g_tcp] == [node["gcs_addr"][1]], g_tcp
    for c in r_tcp + g_tcp:
        assert c.laddr.ip in ("127.0.0.1", "::ffff:127.0.0.1"), c  # gRPC binds v4-mapped IPv6


@pytest.mark.parametrize("target", ["raylet_sock", "store_sock"])
def test_unix_socket_hostile_inputs(node, target):
    for name, data, why, shut in hostile_inputs(before_auth=False):
        if target == "store_sock" and name == "unknown method":
            why = "object store: the object store has no method 999"
        offset = log_size(node)
        s = dial(node[target])
        send_hostile(s, data, shut)
        expect_dropped_once(node, s, offset, why)


@pytest.mark.parametrize("authenticated", [False, True])
def test_tcp_hostile_inputs(node, authenticated):
    for name, data, why, shut in hostile_inputs(before_auth=not authenticated):
        offset = log_size(node)
        s = dial(node["raylet_tcp"])
        if authenticated:
            authenticate(s, node["token"])
        send_hostile(s, data, shut)
        expect_dropped_once(node, s, offset, why)


def test_tcp_wrong_token_is_refused_once(node):
    offset = log_size(node)
    s = dial(node["raylet_tcp"])
    req = common_pb2.AuthRequest(token="not-the-token", version=lumos.__version__)
    s.sendall(frame(common_pb2.AUTHENTICATE, req.SerializeToString()))
    reply = read_frame(s)
    assert reply is not None and reply[2] & FLAG_ERROR
    expect_dropped_once(node, s, offset, "token presented is wrong")


def test_object_manager_port(node):
    """The object transfer port (blocking threads, ServerHandshake): the same
    inputs before AUTHENTICATE, and silence past its 5 s handshake deadline."""
    # Its blocking reader cannot tell a truncated frame from a hang-up, nor
    # garbage from a bad kind byte: the causes it names.
    om_why = {"truncated frame": "the peer closed the connection", "garbage": "bad frame kind 13"}
    for name, data, why, shut in hostile_inputs(before_auth=True):
        offset = log_size(node)
        s = dial(node["object_manager"])
        send_hostile(s, data, shut)
        expect_dropped_once(node, s, offset, om_why.get(name, why))
    offset = log_size(node)
    s = dial(node["object_manager"])
    expect_dropped_once(node, s, offset, "timed out")


def test_silent_clients(node):
    """A client that connects and never speaks blocks nobody; on TCP it is
    dropped once the handshake deadline passes (auth_timeout_ms)."""
    offset = log_size(node)
    silent_unix = [dial(node[k]) for k in ("raylet_sock", "store_sock")]
    silent_tcp = dial(node["raylet_tcp"])
    cluster_still_serves(node)  # while they hang there
    expect_dropped_once(node, silent_tcp, offset, "sent no AUTHENTICATE within %d ms" % AUTH_TIMEOUT_MS)
    for s in silent_unix:  # a Unix peer is trusted to be slow: still open, not logged
        s.settimeout(0.2)
        with pytest.raises(socket.timeout):
            s.recv(1)
        s.close()
    assert not bad_peer_lines(node, offset, peer_name(silent_unix[0]))


def test_gcs_grpc_port(node):
    import grpc
    from lumos._proto import gcs_service_pb2, gcs_service_pb2_grpc

    for junk in (bytes(range(256)) * 4, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\xff" * 300):
        s = dial(node["gcs_addr"])
        s.sendall(junk)
        assert closed_by_server(s), junk[:20]
        s.close()
    target = "%s:%d" % node["gcs_addr"]
    with grpc.insecure_channel(target) as ch:
        kv = gcs_service_pb2_grpc.InternalKVGcsServiceStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            kv.KVGet(gcs_service_pb2.KVGetRequest(key=b"k"), timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED, e.value
        md = (("authorization", "Bearer " + node["token"]), ("lumos-version", lumos.__version__))
        with pytest.raises(grpc.RpcError) as e:
            kv.KVPut(gcs_service_pb2.KVPutRequest(key=b"k", value=b"v" * (5 << 20)), metadata=md, timeout=10)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value
        kv.KVGet(gcs_service_pb2.KVGetRequest(key=b"k"), metadata=md, timeout=10)  # served
    cluster_still_serves(node)


def _fd_count(proc):
    return proc.num_fds()


def test_a_thousand_connections_at_once(node):
    """1,000 idle connections on the raylet's Unix socket and 1,000 on its TCP
    port: a task still runs, the daemons live, and once the clients hang up
    (or, on TCP, the handshake deadline drops them) the raylet's descriptor
    count is back where it was. The TCP ones are refused in bulk: the log
    gets a bounded number of lines, not 1,000."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4096)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    try:
        cluster_still_serves(node)
        base = _fd_count(node["raylet"])
        offset = log_size(node)
        t0 = time.monotonic()
        socks = [dial(node["raylet_sock"]) for _ in range(1000)]
        socks += [dial(node["raylet_tcp"]) for _ in range(1000)]
        assert wait_until(lambda: _fd_count(node["raylet"]) >= base + 1000, timeout=20)
        cluster_still_serves(node)
        for s in socks[:1000]:
            s.close()
        # The silent TCP clients are dropped at the handshake deadline.
        assert sum(closed_by_server(s, timeout=20) for s in socks[1000:]) == 1000
        for s in socks[1000:]:
            s.close()
        elapsed = time.monotonic() - t0
        assert wait_until(lambda: _fd_count(node["raylet"]) <= base + 2, timeout=20), \
            (base, _fd_count(node["raylet"]))
        with open(node["log"], "rb") as f:
            f.seek(offset)
            lines = [l for l in f.read().decode(errors="replace").splitlines() if "dropped a connection" in l]
        # The budget: a burst of 50, then 5 a second (Connection::CloseBadPeer).
        assert 0 < len(lines) <= 50 + 5 * elapsed + 2, (len(lines), elapsed)
        cluster_still_serves(node)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
