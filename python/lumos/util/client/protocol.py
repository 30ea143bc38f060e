"""The client-mode wire format, shared by the client and its server-side driver.

A *message* is an envelope (a small tuple of plain values: seq, op and ids,
pickled on its own so the server can always read it) plus an optional payload
(user values: arguments, put values, results) pickled with stand-ins for
ObjectRefs and actor handles (see stand_ins.py and session.py). Payload
buffers (numpy data) travel out of band, without a pickle copy.

On the wire (transport.py) a message is one frame `M<body>` when it fits in
CHUNK bytes, else `B<total><first part>` followed by `C<part>` frames (no
size limit; each side holds at most the one message being assembled).

body = <I env_len> env <Q payload_len> payload <I nbuf> (<Q len>)* pad buffers
(each buffer 64-byte aligned inside the body).
"""
import pickle
import struct
import sys
import time

PROTOCOL = 1
CHUNK = 4 << 20
MAX_FRAME = CHUNK + (1 << 16)
_ALIGN = 64

# The handshake's gRPC method (a generic handler with raw bytes: no generated stubs).
CONNECT_METHOD = "/lumos.client.ClientServer/Connect"

DEFAULT_PORT = 10001
DEFAULT_GRACE_S = 30.0

# Envelope ops, client -> driver. Ops in REPLIED get exactly one reply with
# the same seq; the rest are fire-and-forget (errors land in the refs they make).
OP_INIT = "init"          # (namespace, runtime_env, job_config) -> context dict
OP_DEF = "def"            # (key, kind "fn"/"cls") + payload (callable, options)
OP_PUT = "put"            # (ref id,) + payload value
OP_TASK = "task"          # (fn key, ret ids, streaming) + payload (args, kwargs, options)
OP_ACTOR = "actor"        # (cls key, handle id) + payload (args, kwargs, options) -> handle state
OP_CALL = "call"          # (handle id, method, ret ids, streaming) + payload (args, kwargs, num_returns, bp)
OP_GET = "get"            # (ids, timeout[, released ids as in OP_RELEASE]) -> values
OP_WAIT = "wait"          # (ids, num_returns, timeout, fetch_local) -> ready indices
OP_API = "api"            # (name,) + payload (args, kwargs) -> result (an allowlisted lumos call)
OP_GEN = "gen"            # (gen id, what, timeout, new ref id) -> generator step
OP_RELEASE = "release"    # ([(id, count)],) the client dropped stand-ins
OP_REPLAY = "replay"      # ([seq],) replies lost in a dropped connection
OP_BYE = "bye"            # the client shuts down: end the driver
REPLIED = frozenset((OP_INIT, OP_ACTOR, OP_GET, OP_WAIT, OP_API, OP_GEN, OP_REPLAY, OP_BYE))

# Reply envelopes, driver -> client: (seq, status, extra); seq 0 carries
# notices: ("log", is_err) + payload text, ("ack", last seq), ("hello", last seq).
OK = 0
ERROR = 1
NOTICE = 2


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_NO_BUFFERS = _U32.pack(0)


def encode(env, payload=b"", buffers=()):
    """The frames of one message: a list of one frame, or for a large message
    a generator that copies one CHUNK at a time out of the buffers."""
    if not buffers:   # the usual small request or reply: one join
        env_b = pickle.dumps(env, protocol=5)
        if len(env_b) + len(payload) + 16 < CHUNK:
            return [b"".join((b"M", _U32.pack(len(env_b)), env_b, _U64.pack(len(payload)), payload, _NO_BUFFERS))]
    parts, total = _parts(env, payload, buffers)
    if total < CHUNK:
        return [b"M" + b"".join(parts)]
    return iter_frames(parts, total)


def _parts(env, payload, buffers):
    env_b = pickle.dumps(env, protocol=5)
    views = [memoryview(b).cast("B") for b in buffers]
    head = [struct.pack("<I", len(env_b)), env_b, struct.pack("<Q", len(payload)), payload,
            struct.pack("<I", len(views))]
    head.extend(struct.pack("<Q", v.nbytes) for v in views)
    prefix = b"".join(head)
    parts = [prefix]
    pos = len(prefix)
    for v in views:
        pad = (-pos) % _ALIGN
        if pad:
            parts.append(b"\0" * pad)
            pos += pad
        parts.append(v)
        pos += v.nbytes
    return parts, pos


def iter_frames(parts, total):
    """The frames of a large message, produced lazily, each a list of pieces
    (views into the caller's buffers): nothing is copied until the socket
    sends it, and a large message never exists twice in memory."""
    frame = [b"B" + struct.pack("<Q", total)]
    size = 0
    for p in parts:
        mv = memoryview(p).cast("B")
        while mv.nbytes:
            piece = mv[:CHUNK - size]
            frame.append(piece)
            size += piece.nbytes
            mv = mv[piece.nbytes:]
            if size == CHUNK:
                yield frame
                frame = [b"C"]
                size = 0
    if size:
        yield frame


class Assembler:
    """Collects frames into messages: feed(frame) -> Message or None.

    The buffer of a large message is kept after the message is done and
    reused for the next one when nothing references it any more (checked by
    reference count, so a value still viewing it is never overwritten): a
    fresh 800 MB buffer costs ~600 ms of page faults and zeroing on this VM,
    more than receiving into it (the put gigabytes line). `drop_spare()`
    frees it (the driver does after a few idle seconds).
    """

    def __init__(self):
        self._buf = None
        self._pos = 0
        self._total = 0
        self._spare = None        # the last large message's buffer, for reuse
        self.spare_used = 0.0     # monotonic time the spare was last made or reused

    def feed(self, frame):
        kind = frame[:1]
        if kind == b"M":
            return Message(memoryview(frame)[1:], False)
        if kind == b"B":
            (total,) = struct.unpack_from("<Q", frame, 1)
            self.begin(total)
            data = memoryview(frame)[9:]
        elif kind == b"C" and self._buf is not None:
            data = memoryview(frame)[1:]
        else:
            raise ValueError("corrupt client-mode frame (kind %r)" % (bytes(kind),))
        self.room(data.nbytes)[:] = data
        return self.advance(data.nbytes)

    # A reader that can fill the buffer in place (transport.FrameReader)
    # uses these instead of feed(): no copy of the chunk in between.
    def begin(self, total):
        spare = self._spare
        # Two references (the attribute and getrefcount's argument): no
        # Message, value or view of it is alive.
        if spare is not None and total <= len(spare) <= 2 * total and sys.getrefcount(spare) == 3:
            self._buf = spare     # ^ 3 with the local `spare`
        else:
            self._spare = spare = None
            self._buf = bytearray(total)
        self._pos = 0
        self._total = total
        self.spare_used = time.monotonic()

    def room(self, n):
        """A view of the next `n` bytes of the message being assembled."""
        if self._buf is None or self._pos + n > self._total:
            raise ValueError("corrupt client-mode frame (a chunk outside a large message)")
        return memoryview(self._buf)[self._pos:self._pos + n]

    def advance(self, n):
        self._pos += n
        if self._pos < self._total:
            return None
        buf, self._buf = self._buf, None
        self._spare = buf
        return Message(memoryview(buf)[:self._total], True)

    def drop_spare(self):
        self._spare = None


class Message:
    """A received message: `env` (tuple), payload bytes and buffers (views);
    `chunked` when it came in several frames (the driver acknowledges those)."""

    __slots__ = ("env", "payload", "buffers", "chunked")

    def __init__(self, body, chunked):
        self.chunked = chunked
        n = _U32.unpack_from(body, 0)[0]
        self.env = pickle.loads(body[4:4 + n])
        pos = 4 + n
        plen = _U64.unpack_from(body, pos)[0]
        pos += 8
        self.payload = body[pos:pos + plen]
        pos += plen
        nbuf = _U32.unpack_from(body, pos)[0]
        if not nbuf:
            self.buffers = []
            return
        pos += 4
        lens = struct.unpack_from("<%dQ" % nbuf, body, pos) if nbuf else ()
        pos += 8 * nbuf
        bufs = []
        for ln in lens:
            pos += (-pos) % _ALIGN
            bufs.append(body[pos:pos + ln])
            pos += ln
        self.buffers = bufs


def grpc_options():
    return [("grpc.max_receive_message_length", MAX_FRAME + 1024),
            ("grpc.max_send_message_length", MAX_FRAME + 1024),
            ("grpc.keepalive_time_ms", 10000), ("grpc.keepalive_timeout_ms", 10000),
            ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0)]


def check_bearer(metadata, token):
    """True when gRPC `metadata` carries `authorization: Bearer <token>`."""
    import hmac
    for k, v in metadata or ():
        if k == "authorization":
            return hmac.compare_digest(str(v).encode(), ("Bearer " + token).encode())
    return False


def metadata_value(metadata, key):
    for k, v in metadata or ():
        if k == key:
            return v
    return None


def version_string():
    from lumos import __version__
    return "%s (client protocol %d)" % (__version__, PROTOCOL)
