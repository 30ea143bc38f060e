"""The client's stream to its driver: ordered sends, replies, reconnects.

Contract: `send(env, payload, buffers)` queues one request in order and
returns its seq; `wait(seq)` returns its reply (Message) or raises the
driver's error. Fire-and-forget requests cost one queue put (the gRPC
request thread sends them). Replies are read by whichever waiting thread
holds the reader role (no hand-off to a reader thread on the hot path); when
nobody has waited for a while, a background thread takes the role, so worker
logs print and a dropped connection is noticed while the program is idle.

A dropped stream is reopened (same driver, same client id) until the grace
period passes: requests the driver had not processed are resent from the
replay buffer (small ones) or by their caller (chunked puts raise _Resend),
replies lost on the way are asked for again. After the grace period every
call raises ConnectionError.
"""
import collections
import queue
import sys
import threading
import time

import grpc

from lumos.util.client import protocol as P

_IDLE_READER_AFTER_S = 0.05
_CHUNK_CREDITS = 4
_WINDOW = 2048        # fire-and-forget requests the driver may not have processed yet


class Resend(Exception):
    """A chunked request was lost in a reconnect: its caller sends it again."""


class Connection:
    def __init__(self, target, token, client_id, grace_s, describe):
        self.target = target
        self.describe = describe        # "lumos://host:port", for errors
        self.grace_s = grace_s
        self._metadata = (("authorization", "Bearer " + token), ("lumos-client-id", client_id),
                          ("lumos-version", P.version_string()))
        self._send_lock = threading.Lock()
        self._ulock = threading.Lock()             # guards _unacked (the reader trims it)
        self._cv = threading.Condition(threading.Lock())
        self._seq = 0
        self._unacked = collections.OrderedDict()   # seq -> frames, until the driver has processed it
        self._replies = {}                          # seq -> (status, Message)
        self._pending = {}                          # seq -> chunked?  (sync calls awaiting replies)
        self._resend = set()
        self._reading = False
        self._broken = None                         # ConnectionError once the grace period passed
        self._closed = False
        self._stream_gen = 0
        self._dead_gen = -1                         # the stream found broken (reconnect pending)
        self._last_activity = time.monotonic()
        self._channel = None
        self.on_idle = None                         # called by the idle reader (the client flushes releases)
        self._open(timeout=10.0)
        threading.Thread(target=self._idle_reader, daemon=True, name="lumos-client-reader").start()

    # ------------------------------------------------------------ stream
    def _open(self, timeout):
        if self._channel is not None:
            self._channel.close()
        self._channel = grpc.insecure_channel(self.target, options=P.grpc_options())
        grpc.channel_ready_future(self._channel).result(timeout=timeout)
        q = queue.SimpleQueue()
        credits = threading.Semaphore(_CHUNK_CREDITS)

        def requests():
            while True:
                f = q.get()
                if f is None:
                    return
                if type(f) is tuple:   # a chunk: its credit returns once gRPC asks for the next frame
                    yield f[0]
                    credits.release()
                else:
                    yield f
        call = self._channel.stream_stream(P.SESSION_METHOD)(requests(), metadata=self._metadata)
        self._asm = P.Assembler()
        first = self._read_one(call)
        if first.env[1] != P.NOTICE or first.env[3] != "hello":
            raise ConnectionError("the driver at %s did not greet" % self.target)
        self._q, self._call, self._credits = q, call, credits
        self._stream_gen += 1
        return first.env[2]

    def _read_one(self, call):
        while True:
            msg = self._asm.feed(next(call))
            if msg is not None:
                return msg

    # ------------------------------------------------------------ sending
    def send(self, env_tail, payload=b"", buffers=(), replied=False):
        """Queues a request (env = (seq,) + env_tail); returns (seq, whether
        a reply comes: `replied`, or the message was chunked)."""
        if self._broken is not None:
            raise self._broken
        self._last_activity = time.monotonic()
        with self._send_lock:
            self._seq += 1
            seq = self._seq
            frames = P.encode((seq,) + env_tail, payload, buffers)
            chunked = not isinstance(frames, list)
            full = False
            if replied or chunked:
                with self._cv:
                    self._pending[seq] = chunked
            if chunked:
                # At most _CHUNK_CREDITS chunks wait in the queue: memory stays bounded.
                gen = self._stream_gen
                for f in frames:
                    while not self._credits.acquire(timeout=0.2):
                        if self._broken is not None or self._closed:
                            raise self._broken or ConnectionError("the lumos client is shut down")
                        if self._dead_gen == gen:   # the stream broke mid-message: the caller sends again
                            with self._cv:
                                self._pending.pop(seq, None)
                            raise Resend()
                    self._q.put((f,))
            else:
                with self._ulock:
                    self._unacked[seq] = frames
                    full = len(self._unacked) > _WINDOW
                self._q.put(frames[0])
        if full:
            self._drain_window()
        return seq, replied or chunked

    def _drain_window(self):
        """Blocks while more than half the window is unprocessed (so a loop of
        fire-and-forget calls runs at the driver's pace, in bounded memory),
        reading replies meanwhile when no other thread does."""
        while True:
            with self._cv:
                if len(self._unacked) <= _WINDOW // 2 or self._broken is not None:
                    return
                if self._reading:
                    self._cv.wait(0.05)
                    continue
                self._reading = True
            try:
                self._read_and_dispatch()
            finally:
                with self._cv:
                    self._reading = False
                    self._cv.notify_all()

    def _trim(self, last_seq):
        with self._ulock:
            u = self._unacked
            while u:
                seq = next(iter(u))
                if seq > last_seq:
                    break
                del u[seq]

    # ------------------------------------------------------------ replies
    def wait(self, seq):
        """(status, Message) of request `seq`."""
        with self._cv:
            while True:
                got = self._replies.pop(seq, None)
                if got is not None:
                    self._pending.pop(seq, None)
                    self._last_activity = time.monotonic()
                    return got
                if seq in self._resend:
                    self._resend.discard(seq)
                    self._pending.pop(seq, None)
                    raise Resend()
                if self._broken is not None:
                    self._pending.pop(seq, None)
                    raise self._broken
                if not self._reading:
                    self._reading = True
                    break
                self._cv.wait(1.0)
        try:
            while True:
                self._read_and_dispatch()
                with self._cv:
                    if seq in self._replies or seq in self._resend or self._broken is not None:
                        break
        finally:
            with self._cv:
                self._reading = False
                self._cv.notify_all()
        return self.wait(seq)

    def _read_and_dispatch(self):
        gen = self._stream_gen
        try:
            msg = self._read_one(self._call)
        except (grpc.RpcError, StopIteration, ValueError) as e:
            if self._closed:
                with self._cv:
                    self._broken = ConnectionError("the lumos client is shut down")
                    self._cv.notify_all()
                return
            self._dead_gen = gen
            self._reconnect(gen, e)
            return
        env = msg.env
        seq, status, last = env[0], env[1], env[2]
        self._trim(last)
        if status == P.NOTICE:
            if env[3] == "log":
                stream = sys.stderr if env[4] else sys.stdout
                try:
                    stream.write(bytes(msg.payload).decode("utf-8", "replace"))
                    stream.flush()
                except Exception:
                    pass
            return
        with self._cv:
            if seq in self._pending:
                self._replies[seq] = (status, msg)
                self._cv.notify_all()

    def _idle_reader(self):
        while not self._closed and self._broken is None:
            with self._cv:
                idle = time.monotonic() - self._last_activity > _IDLE_READER_AFTER_S
                if self._reading or not idle:
                    self._cv.wait(_IDLE_READER_AFTER_S)
                    continue
                self._reading = True
            try:
                if self.on_idle is not None:
                    self.on_idle()
                self._read_and_dispatch()
            finally:
                with self._cv:
                    self._reading = False
                    self._cv.notify_all()

    # ------------------------------------------------------------ reconnect
    def _reconnect(self, gen, error):
        with self._send_lock:
            if gen != self._stream_gen or self._broken is not None:
                return   # another thread reconnected already
            deadline = time.monotonic() + self.grace_s
            last_error = error
            while time.monotonic() < deadline and not self._closed:
                try:
                    self._q.put(None)
                    last = self._open(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
                except Exception as e:   # noqa: BLE001 - retried until the grace period ends
                    last_error = e
                    time.sleep(0.2)
                    continue
                self._trim(last)
                with self._ulock:
                    resend = list(self._unacked.values())
                for frames in resend:
                    self._q.put(frames[0])
                with self._cv:
                    lost = []
                    for seq, chunked in self._pending.items():
                        if seq > last and chunked:
                            self._resend.add(seq)
                        elif seq <= last:
                            lost.append(seq)
                    self._cv.notify_all()
                if lost:
                    self._seq += 1
                    self._q.put(P.encode((self._seq, P.OP_REPLAY, lost))[0])
                return
            with self._cv:
                self._broken = ConnectionError(
                    "the connection to %s was lost and not restored within the %.0f s grace period (%s); its "
                    "server-side driver and its work are gone: call lumos.shutdown() and lumos.init() again"
                    % (self.describe, self.grace_s, last_error))
                self._cv.notify_all()

    # ------------------------------------------------------------ close
    def close(self):
        self._closed = True
        try:
            self._q.put(None)
        except Exception:
            pass
        if self._channel is not None:
            self._channel.close()
