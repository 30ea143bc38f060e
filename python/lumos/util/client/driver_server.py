"""The per-client driver process: `python -m lumos.util.client.driver_server`.

Contract: started by the client server (client_server.py) for one client
id; a real lumos driver of the cluster (its own job, its own objects), so one
client's crash or leak touches nobody else's. It serves one connection at a
time on its own TCP port (node IP; the first frame must carry the cluster
token; see transport.py): the client talks to it directly after the
handshake, with no hop through the client server. Requests are processed in
order on the connection's reader thread; ops that may block (a get of an
object not ready yet, a wait, a generator step, cluster calls) run on a
thread pool and reply when done.

Reconnects: every request carries a sequence number; the driver skips ones
it already processed and keeps the last replies, so a client that lost its
stream resends what the driver had not seen and asks for replies it missed.
With no stream for the grace period (or on the client's "bye"), the driver
shuts down: lumos.shutdown() ends its job, so its non-detached actors and
tasks end with it.

Output: the process's fds 1 and 2 (its own prints and the worker log lines
its core worker prints) go to the client as log notices, and to its log file.
"""
import argparse
import collections
import concurrent.futures
import os
import socket
import sys
import threading
import time

from lumos.util.client import protocol as P
from lumos.util.client import transport

_REPLY_CACHE = 512
_REPLY_CACHE_BYTES = 64 << 20
_ACK_EVERY = 256   # < connection._WINDOW / 2: a client blocked on its window gets an ack
_MAX_LOG_BACKLOG = 10000
_SPARE_IDLE_S = 5.0   # a large message's receive buffer is kept this long for the next one


class Session:
    """The driver side of one client: state that outlives a dropped stream.
    Requests are processed in order on the connection's reader thread;
    replies are written by whichever thread has them, under `wlock` (a
    chunked reply is produced one chunk at a time as the socket takes it)."""

    def __init__(self, args, ops):
        self.args = args
        self.ops = ops
        self.last_seq = 0
        self.acked = 0
        self.lock = threading.Lock()             # cache, stream switch
        self.cache = collections.OrderedDict()   # seq -> frames (small replies)
        self.cache_bytes = 0
        self.in_flight = set()                   # seqs whose blocking op runs on the pool
        self.wlock = threading.Lock()            # writes, and switching `sock`
        self.sock = None                         # the live connection
        self.stream_gen = 0
        self.pool = concurrent.futures.ThreadPoolExecutor(64, thread_name_prefix="client-op")
        self.backlog = collections.deque(maxlen=_MAX_LOG_BACKLOG)
        self.idle_since = time.monotonic()
        self.done = threading.Event()
        self.asm = None                          # the live connection's Assembler (its spare buffer)

    # ------------------------------------------------------------ writing
    def send(self, frames, gen):
        with self.wlock:
            if self.sock is None or gen != self.stream_gen:
                return False
            try:
                transport.write_frames(self.sock, frames)
            except OSError:
                return False   # the client resends / asks again after reconnecting
        return True

    def reply_frames(self, seq, status, value):
        if status == P.OK:
            data, bufs = self.ops.dump(value)
        else:
            data, bufs = self.ops.dump_error(value)
        frames = P.encode((seq, status, self.last_seq), data, bufs)
        if isinstance(frames, list):
            with self.lock:
                self.cache[seq] = frames
                self.cache_bytes += len(frames[0])
                while len(self.cache) > _REPLY_CACHE or self.cache_bytes > _REPLY_CACHE_BYTES:
                    self.cache_bytes -= len(self.cache.popitem(last=False)[1][0])
        return frames

    def reply(self, seq, status, value, gen):
        try:
            frames = self.reply_frames(seq, status, value)
        except Exception as e:   # the result will not pickle
            frames = self.reply_frames(seq, P.ERROR, e)
        self.send(frames, gen)

    def notice(self, kind, *extra, text=b""):
        return P.encode((0, P.NOTICE, self.last_seq, kind) + extra, text)

    # ------------------------------------------------------------ requests
    def process(self, msg, gen):
        env = msg.env
        seq, op = env[0], env[1]
        if op == P.OP_REPLAY:
            for s in env[2]:
                with self.lock:
                    if s in self.in_flight:
                        continue   # still running: its reply goes to this connection when done
                    frames = self.cache.get(s)
                if frames is None:
                    frames = self.reply_frames(s, P.ERROR, ConnectionError(
                        "the reply to this call was lost in a dropped connection; call again"))
                self.send(frames, gen)
            return
        if seq <= self.last_seq:
            return   # a resent request this driver already processed
        self.last_seq = seq
        if op == P.OP_BYE:
            self.reply(seq, P.OK, None, gen)
            self.done.set()
            return
        try:
            result = self.ops.handle(msg)
        except Exception as e:
            if op in P.REPLIED:
                self.reply(seq, P.ERROR, e, gen)
            return
        if result is None and msg.chunked:
            result = (P.OK, None)   # the client waits for a chunked request to be taken
        if result is None:
            if seq - self.acked >= _ACK_EVERY:
                self.acked = seq
                self.send(self.notice("ack"), gen)
            return
        if isinstance(result, tuple):
            self.acked = seq
            self.reply(seq, result[0], result[1], gen)
            return
        with self.lock:
            self.in_flight.add(seq)
        self.pool.submit(self._blocking, seq, result.fn)

    def _blocking(self, seq, fn):
        try:
            status, value = fn()
        except Exception as e:
            status, value = P.ERROR, e
        try:
            frames = self.reply_frames(seq, status, value)
        except Exception as e:   # the result will not pickle
            frames = self.reply_frames(seq, P.ERROR, e)
        with self.lock:
            self.in_flight.discard(seq)
        self.send(frames, self.stream_gen)

    def serve(self, sock):
        """One client connection: the hello (token first), then requests."""
        import hmac
        try:
            transport.tune(sock)
            sock.settimeout(10.0)
            reader = transport.FrameReader(sock, limit=transport.MAX_HELLO)
            hello = transport.parse_hello(reader.read())
            refusal = None
            if not hmac.compare_digest(str(hello.get("token", "")).encode(), self.args.token.encode()):
                refusal = "wrong or missing cluster token"
            elif hello.get("client_id") != self.args.client_id:
                refusal = "this driver serves another client"
            elif hello.get("version") != P.version_string():
                refusal = "version mismatch: client %s, driver %s" % (hello.get("version"), P.version_string())
            if refusal:
                transport.write_frames(sock, [transport.refusal_frame(refusal)])
                sock.close()
                return
            sock.settimeout(None)
            reader._limit = transport.MAX_WIRE_FRAME
        except (OSError, ValueError):
            sock.close()
            return
        with self.wlock:
            old = self.sock
            self.stream_gen += 1
            gen = self.stream_gen
            self.sock = sock
            self.idle_since = None
            try:
                transport.write_frames(sock, self.notice("hello"))
                while self.backlog:
                    transport.write_frames(sock, self.backlog.popleft())
            except OSError:
                pass
        if old is not None:
            _shut(old)   # a newer connection of this client replaces it
        asm = self.asm = P.Assembler()
        try:
            while not self.done.is_set():
                msg = reader.read_message(asm)
                if msg is not None:
                    self.process(msg, gen)
        except (OSError, ValueError):   # the connection broke: the client reconnects
            pass
        finally:
            with self.wlock:
                if gen == self.stream_gen:
                    self.sock = None
                    self.idle_since = time.monotonic()
            _shut(sock)
            sock.close()

    def forward_output(self, text, is_err):
        frames = self.notice("log", is_err, text=text)
        if not self.send(frames, self.stream_gen):
            self.backlog.append(frames)


def _shut(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _accept(listener, session):
    while True:
        try:
            sock, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=session.serve, args=(sock,), daemon=True, name="client-conn").start()


def _capture_output(session, log_path):
    """fds 1 and 2 -> pipes read by threads that forward each chunk of lines."""
    log = open(log_path, "ab", buffering=0)
    for fd, is_err in ((1, False), (2, True)):
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)

        def pump(r=r, is_err=is_err):
            while True:
                data = os.read(r, 65536)
                if not data:
                    return
                log.write(data)
                session.forward_output(data, is_err)
        threading.Thread(target=pump, daemon=True, name="client-output").start()
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


def _serve(args):
    from lumos.util.client.driver_ops import DriverOps
    session = Session(args, DriverOps(args.gcs_address, args.session_dir))
    listener = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    listener.bind((args.host, 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    threading.Thread(target=_accept, args=(listener, session), daemon=True, name="client-accept").start()
    _capture_output(session, args.log_file)
    # The client server reads this line from the pipe it gave us.
    os.write(args.ready_fd, b"%d\n" % port)
    os.close(args.ready_fd)
    parent = os.getppid()
    while not session.done.wait(0.5):
        if os.getppid() != parent:
            break   # the client server is gone
        idle = session.idle_since
        if idle is not None and time.monotonic() - idle > args.grace_s:
            break   # the client did not come back within the grace period
        asm = session.asm
        if asm is not None and time.monotonic() - asm.spare_used > _SPARE_IDLE_S:
            asm.drop_spare()   # no large message for a while: give the memory back
    listener.close()
    with session.wlock:
        if session.sock is not None:
            _shut(session.sock)
    import lumos
    lumos.shutdown()
    session.pool.shutdown(wait=False, cancel_futures=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="lumos-client-driver")
    p.add_argument("--host", required=True)
    p.add_argument("--gcs-address", required=True)
    p.add_argument("--session-dir", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--grace-s", type=float, default=P.DEFAULT_GRACE_S)
    p.add_argument("--ready-fd", type=int, required=True)
    p.add_argument("--log-file", required=True)
    args = p.parse_args(argv)
    args.token = os.environ.pop("LUMOS_AUTH_TOKEN", "")
    if not args.token:
        sys.exit("lumos client driver: no cluster token in the environment")
    os.environ["LUMOS_AUTH_TOKEN"] = args.token   # lumos.init() reads it too
    _serve(args)
    os._exit(0)


if __name__ == "__main__":
    main()
