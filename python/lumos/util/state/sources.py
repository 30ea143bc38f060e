"""Where the state API gets its data: the GCS over gRPC (nodes, actors,
jobs, placement groups, task events) and every node's raylet and core
workers over the fastpath protocol on TCP (workers, object references).

Tooling only: imports grpcio and the Python protobuf stubs, never the core
worker, so it works from the CLI as well as from a driver. Every call sends
the cluster token (gRPC metadata; the fastpath AUTHENTICATE frame).
"""
import os
import socket
import struct

from lumos._private import auth

_HEADER = struct.Struct("<IHBBQ")  # u32 len | u16 method | u8 kind | u8 flags | u64 request id
_REQUEST, _REPLY = 1, 2
_FLAG_ERROR = 1


class StateSourceError(ConnectionError):
    """A data source (GCS, raylet, core worker) could not be asked."""


def _session_root():
    from lumos._private.node import session_root
    return session_root(None)


def resolve_address(address=None):
    """(GCS "host:port", session dir or None) of the cluster to ask: `address`
    ("auto" = the cluster `lumos start` recorded), else the cluster this
    process is connected to, else $LUMOS_ADDRESS, else the recorded one."""
    import json
    from lumos._private.node import CURRENT_CLUSTER_FILE
    worker = _connected_worker_module()
    recorded = {}
    try:
        with open(os.path.join(_session_root(), CURRENT_CLUSTER_FILE)) as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        pass
    if address is None and worker is not None and worker._state.gcs_address:
        return worker._state.gcs_address, worker._state.session_dir
    if address is None:
        address = os.environ.get("LUMOS_ADDRESS") or None
    if address in (None, "auto"):
        address = recorded.get("gcs_address")
        if not address:
            raise StateSourceError(
                "no running lumos cluster found (nothing recorded in %s and no LUMOS_ADDRESS); start one with "
                "`lumos start --head` or pass address='HOST:PORT' (--address on the command line)"
                % os.path.join(_session_root(), CURRENT_CLUSTER_FILE))
    if ":" not in address:
        raise ValueError("address must be HOST:PORT of the GCS, got %r" % (address,))
    session = recorded.get("session_dir") if recorded.get("gcs_address") == address else None
    return address, session


def _connected_worker_module():
    """lumos._private.worker when this process imported it (a driver or a
    worker), else None: a tool that never connected (the CLI, the dashboard)
    does not load the core worker just to learn it is not connected."""
    import sys
    return sys.modules.get("lumos._private.worker")


def cluster_token(address, session_dir):
    worker = _connected_worker_module()
    state = worker._state if worker is not None else None
    node = state.node if state is not None else None
    if node is not None and state.gcs_address == address and getattr(node, "auth_token", None):
        return node.auth_token
    if session_dir is None and state is not None and state.gcs_address == address:
        session_dir = state.session_dir
    return auth.require(session_dir=session_dir, what="the GCS at %s" % address, address=address,
                        root=_session_root())


_CHANNELS: dict = {}  # GCS address -> grpc channel, reused by every call of this process


def _channel(grpc, address):
    """A channel to the GCS at `address`, shared: connecting costs a few ms
    per call otherwise (a state call over 10k actors should take < 200 ms).
    Calls carry the token themselves, so one channel serves any caller; a
    GCS restarted at the same address is reconnected to by grpc."""
    ch = _CHANNELS.get(address)
    if ch is None:
        if len(_CHANNELS) >= 8:
            _CHANNELS.pop(next(iter(_CHANNELS))).close()
        # Answers over 100k task attempts exceed grpcio's default 4 MB limit.
        ch = _CHANNELS[address] = grpc.insecure_channel(address,
                                                        options=[("grpc.max_receive_message_length", -1)])
    return ch


class Gcs:
    """grpcio stubs of the GCS at `address`, every call carrying the token."""

    def __init__(self, address=None, timeout=None):
        import grpc
        from lumos._proto import gcs_service_pb2, gcs_service_pb2_grpc
        self.address, session = resolve_address(address)
        self.timeout = 30 if timeout is None else timeout
        self.token = cluster_token(self.address, session)
        self.pb, self._grpc, self._pb_grpc = gcs_service_pb2, grpc, gcs_service_pb2_grpc
        self._channel = _channel(grpc, self.address)
        self._metadata = auth.grpc_metadata(self.token)

    def close(self):
        pass  # the channel is shared (see _channel)

    def call(self, service, method, request):
        stub = getattr(self._pb_grpc, service + "Stub")(self._channel)
        try:
            reply = getattr(stub, method)(request, timeout=self.timeout, metadata=self._metadata)
        except self._grpc.RpcError as e:
            raise StateSourceError("the GCS at %s did not answer %s: %s %s" % (
                self.address, method, e.code().name, e.details() or "")) from None
        if reply.status.code != 0:
            if reply.status.code == 1:  # InvalidArgument: the caller's mistake
                raise ValueError(reply.status.message)
            raise StateSourceError("the GCS at %s refused %s: %s" % (self.address, method, reply.status.message))
        return reply

    def nodes(self):
        return self.call("NodeInfoGcsService", "GetAllNodeInfo", self.pb.GetAllNodeInfoRequest()).nodes

    def actors(self):
        return self.call("ActorInfoGcsService", "GetAllActorInfo", self.pb.GetAllActorInfoRequest()).actors

    def actor_query(self, filters, limit, summarize=False):
        """GetAllActorInfoReply for filters on ACTOR_GCS_FILTER_KEYS (the GCS
        filters, then limits; summarize: counts per class and state only)."""
        req = self.pb.GetAllActorInfoRequest(limit=limit or 0, summarize=summarize)
        for key, pred, value in filters:
            req.filters.add(key=key, predicate=pred, value=str(value))
        return self.call("ActorInfoGcsService", "GetAllActorInfo", req)

    def jobs(self):
        return self.call("JobInfoGcsService", "GetAllJobInfo", self.pb.GetAllJobInfoRequest()).jobs

    def placement_groups(self):
        return self.call("PlacementGroupInfoGcsService", "GetAllPlacementGroup",
                         self.pb.GetAllPlacementGroupRequest()).placement_groups

    def task_events(self, filters, limit, summarize=False, profile_events=False):
        """GetTaskEventsReply for [(key, predicate, value)] filters (applied by
        the GCS before the limit); summarize: only the counts per function and
        state; profile_events: each attempt with its profile spans (the timeline)."""
        req = self.pb.GetTaskEventsRequest(limit=limit or 0, summarize=summarize,
                                           include_profile_events=profile_events)
        for key, pred, value in filters:
            req.filters.add(key=key, predicate=pred, value=str(value))
        return self.call("TaskEventGcsService", "GetTaskEvents", req)


def tcp_part(endpoint):
    """(host, port) of the tcp part of a fastpath endpoint ("unix:/p;tcp:IP:PORT"), or None."""
    for part in endpoint.split(";"):
        if part.startswith("tcp:"):
            host, _, port = part[4:].rpartition(":")
            return host.strip("[]"), int(port)
    return None


class Fastpath:
    """A blocking fastpath client over TCP (rpc/frame.h): AUTHENTICATE, then
    requests answered in order. One connection per peer; not thread safe."""

    def __init__(self, endpoint, token, timeout):
        from lumos import __version__
        from lumos._proto import common_pb2
        addr = tcp_part(endpoint)
        if addr is None:
            raise StateSourceError("endpoint %r has no TCP part" % (endpoint,))
        self._common = common_pb2
        self._next_id = 1
        try:
            self._sock = socket.create_connection(addr, timeout=timeout)
        except OSError as e:
            raise StateSourceError("cannot connect to %s:%d: %s" % (addr[0], addr[1], e)) from None
        self.call(common_pb2.AUTHENTICATE, common_pb2.AuthRequest(token=token, version=__version__),
                  common_pb2.AuthReply)

    def close(self):
        self._sock.close()

    def _read(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(n - len(buf))
            if not chunk:
                raise StateSourceError("the peer closed the connection")
            buf += chunk
        return bytes(buf)

    def call(self, method, request, reply_cls):
        payload = request.SerializeToString()
        rid = self._next_id
        self._next_id += 1
        try:
            self._sock.sendall(_HEADER.pack(len(payload), method, _REQUEST, 0, rid) + payload)
            while True:
                length, _, kind, flags, got = _HEADER.unpack(self._read(_HEADER.size))
                body = self._read(length)
                if kind == _REPLY and got == rid:
                    break
        except (OSError, socket.timeout) as e:
            raise StateSourceError("fastpath call %d failed: %s" % (method, e)) from None
        if flags & _FLAG_ERROR:
            err = self._common.RpcError.FromString(body)
            refused = StateSourceError("fastpath call %d refused: %s" % (method, err.message))
            refused.code, refused.detail = err.code, err.message  # lumos StatusCode (1 InvalidArgument, 3 NotFound)
            raise refused
        return reply_cls.FromString(body)


def node_stats(gcs, node):
    """GetNodeStatsReply of one alive node's raylet."""
    from lumos._proto import common_pb2, node_manager_pb2
    conn = Fastpath(node.raylet_endpoint, gcs.token, gcs.timeout)
    try:
        return conn.call(common_pb2.GET_NODE_STATS, node_manager_pb2.GetNodeStatsRequest(),
                         node_manager_pb2.GetNodeStatsReply)
    finally:
        conn.close()


def reference_table(gcs, endpoint):
    """ReferenceTableReply of the core worker at `endpoint`."""
    from lumos._proto import common_pb2, core_worker_pb2
    conn = Fastpath(endpoint, gcs.token, gcs.timeout)
    try:
        return conn.call(common_pb2.GET_REFERENCE_TABLE, core_worker_pb2.ReferenceTableRequest(),
                         core_worker_pb2.ReferenceTableReply)
    finally:
        conn.close()
