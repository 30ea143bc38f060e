"""The client <-> driver data stream: length-prefixed frames on one TCP
connection (the handshake before it is gRPC, on the client server's port).

Why not a gRPC stream here too: measured on this machine, a Python gRPC
bidirectional stream does ~4k ping-pongs/s across processes (sync or aio
server), a plain socket ~39k/s; the client's get/put/actor calls are one such
ping-pong each. The stream carries the same frames as protocol.py (M / B / C)
and is authenticated the same way: the connection's first frame is a hello
with the cluster token, checked before anything else is read.

A frame on the wire: <I length> frame bytes. Frames above MAX_WIRE_FRAME are
refused (a peer cannot make the other side allocate more).
"""
import json
import socket
import struct

from lumos.util.client import protocol as P

MAX_WIRE_FRAME = P.MAX_FRAME + 1024
MAX_HELLO = 1 << 16
_LEN = struct.Struct("<I")


def tune(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def write_frames(sock, frames):
    """Sends frames (a list, or a generator of a chunked message). Small
    frames in a row go out in one send: each send on a loopback or LAN
    socket wakes the peer once, which costs more than the bytes."""
    small = []
    for f in frames:
        if type(f) is not list and len(f) < 65536:
            small.append(_LEN.pack(len(f)))
            small.append(f)
            continue
        if small:
            sock.sendall(b"".join(small))
            small = []
        if type(f) is list:   # a chunk of a large message: a header and views of its buffers
            sock.sendall(_LEN.pack(sum(len(p) if type(p) is bytes else p.nbytes for p in f)) + f[0])
            for piece in f[1:]:
                sock.sendall(piece)
        else:
            sock.sendall(_LEN.pack(len(f)))
            sock.sendall(f)
    if small:
        sock.sendall(b"".join(small))


class FrameReader:
    """Reads whole frames from a socket (ConnectionError at EOF)."""

    def __init__(self, sock, limit=MAX_WIRE_FRAME):
        self._f = sock.makefile("rb", buffering=1 << 16)
        self._limit = limit

    def read(self):
        head = self._f.read(4)
        if len(head) < 4:
            raise ConnectionError("the connection closed")
        (n,) = _LEN.unpack(head)
        if n > self._limit:
            raise ConnectionError("a frame of %d bytes is over the limit" % n)
        data = self._f.read(n)
        if len(data) < n:
            raise ConnectionError("the connection closed mid-frame")
        return data

    def read_message(self, asm):
        """The next frame fed to `asm` (protocol.Assembler): the Message it
        completes, or None. Chunks of a large message are read straight into
        the message's buffer."""
        head = self._f.read(5)
        if len(head) < 5:
            raise ConnectionError("the connection closed")
        (n,) = _LEN.unpack_from(head)
        if n > self._limit or n < 1:
            raise ConnectionError("a frame of %d bytes is over the limit" % n)
        kind = head[4:5]
        if kind == b"B":
            first = self._f.read(8)
            if len(first) < 8 or n < 9:
                raise ConnectionError("the connection closed mid-frame")
            asm.begin(struct.unpack("<Q", first)[0])
            self._fill(asm.room(n - 9))
            return asm.advance(n - 9)
        if kind == b"C":
            self._fill(asm.room(n - 1))
            return asm.advance(n - 1)
        data = self._f.read(n - 1)
        if len(data) < n - 1:
            raise ConnectionError("the connection closed mid-frame")
        if kind == b"M":
            return P.Message(memoryview(data), False)   # no copy to put the kind back
        return asm.feed(kind + data)

    def _fill(self, view):
        while view.nbytes:
            got = self._f.readinto(view)
            if not got:
                raise ConnectionError("the connection closed mid-frame")
            view = view[got:]

    def close(self):
        try:
            self._f.close()
        except OSError:
            pass


def hello_frame(token, client_id):
    return b"H" + json.dumps({"token": token, "client_id": client_id, "version": P.version_string()}).encode()


def refusal_frame(text):
    return b"X" + text.encode()


def parse_hello(frame):
    if frame[:1] != b"H":
        raise ValueError("the first frame is not a hello")
    return json.loads(bytes(frame[1:]).decode())
