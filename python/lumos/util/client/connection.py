"""The client's stream to its driver: ordered sends, replies, reconnects.

Contract: `send(env, payload, buffers)` writes one request in order (on
the caller's thread, under the send lock) and returns its seq; `wait(seq)`
returns its reply (status, Message). The stream is a TCP connection to the
client's own driver (transport.py). Replies are read by whichever waiting thread
holds the reader role (no hand-off to a reader thread on the hot path); when
nobody has waited for a while, a background thread takes the role, so worker
logs print and a dropped connection is noticed while the program is idle.

Fire-and-forget requests (put, task and actor calls, releases) made while
a burst of calls is going on are held and written with the next request, so
`get(a.f.remote())` is one send, not two: each send wakes the driver once,
which costs it more than the bytes (the 1:1 actor calls sync line). The
background thread writes held requests within ~1 ms (`_HOLD_S`) when no
request follows; outside a burst (no request for 50 ms) nothing is held.

A dropped stream is reopened (same driver, same client id) until the grace
period passes: requests the driver had not processed are resent from the
replay buffer (small ones) or by their caller (chunked puts raise Resend),
replies lost on the way are asked for again. After the grace period every
call raises ConnectionError.
"""
import collections
import socket
import sys
import threading
import time

from lumos.util.client import protocol as P
from lumos.util.client import transport

_IDLE_READER_AFTER_S = 0.05
_SPARE_IDLE_S = 5.0   # a large reply's receive buffer is kept this long for the next one
_WINDOW = 2048        # fire-and-forget requests the driver may not have processed yet
_HOLD_S = 0.001       # held fire-and-forget requests are written at most this late
_HOLD_MAX = 256       # ... or once this many are held


def _chain(first, rest):
    yield from first
    yield from rest


class Resend(Exception):
    """A chunked request was lost in a reconnect: its caller sends it again."""


class Connection:
    def __init__(self, target, token, client_id, grace_s, describe):
        self.target = target            # (host, port) of the client's driver
        self.describe = describe        # "lumos://host:port", for errors
        self.grace_s = grace_s
        self._hello = transport.hello_frame(token, client_id)
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
        self._last_activity = time.monotonic()
        self._sock = None
        self.on_idle = None                         # called by the idle reader (the client flushes releases)
        self._stop = threading.Event()              # ends the background thread
        self._kick = threading.Event()              # wakes it when a burst of calls starts
        self._held = []                             # fire-and-forget frames not written yet (send lock)
        self._holding = False                       # the background thread flushes _held (send lock)
        self._bg_ident = None
        self._open(timeout=10.0)
        bg = threading.Thread(target=self._idle_reader, daemon=True, name="lumos-client-reader")
        bg.start()
        self._bg_ident = bg.ident

    # ------------------------------------------------------------ stream
    def _open(self, timeout):
        sock = socket.create_connection(self.target, timeout=timeout)
        try:
            transport.tune(sock)
            transport.write_frames(sock, [self._hello])
            reader = transport.FrameReader(sock)
            frame = reader.read()
            if frame[:1] == b"X":
                raise ConnectionError("the driver at %s:%d refused the connection: %s" % (
                    self.target + (bytes(frame[1:]).decode("utf-8", "replace"),)))
            asm = P.Assembler()
            first = asm.feed(frame)
            if first is None or first.env[1] != P.NOTICE or first.env[3] != "hello":
                raise ConnectionError("the driver at %s:%d did not greet" % self.target)
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        old = self._sock
        self._sock, self._reader, self._asm = sock, reader, asm
        if old is not None:
            old.close()
        self._stream_gen += 1
        return first.env[2]

    def _read_one(self):
        while True:
            msg = self._reader.read_message(self._asm)
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
            if not chunked:
                with self._ulock:
                    self._unacked[seq] = frames
                    full = len(self._unacked) > _WINDOW
            if not (replied or chunked or full):
                if self._holding:
                    self._held.append(frames[0])
                    if len(self._held) < _HOLD_MAX:
                        return seq, False
                    frames = []
                elif threading.get_ident() != self._bg_ident:
                    self._kick.set()   # a burst may start: the background thread starts flushing
            if self._held:
                held, self._held = self._held, []
                frames = held + frames if not chunked else _chain(held, frames)
            self._write(frames)
        if full:
            self._drain_window()
        return seq, replied or chunked

    def _write(self, frames):
        try:
            # A chunked message is produced one chunk at a time as the
            # socket takes it: memory stays bounded by the chunk size.
            transport.write_frames(self._sock, frames)
        except OSError:
            # The stream broke: the reader reconnects; a small request is
            # resent from _unacked, a chunked one by its caller (Resend).
            self._kill_socket()

    def _flush_held(self, holding):
        """Writes held requests; `holding`: whether to hold more after this."""
        with self._send_lock:
            self._holding = holding
            if self._held:
                held, self._held = self._held, []
                self._write(held)

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
            self._read_as_reader()

    def _read_as_reader(self):
        """Reads and dispatches one batch of replies if no other thread holds
        the reader role (one reader at a time); returns at once otherwise."""
        with self._cv:
            if self._reading:
                return
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
        got = None
        try:
            while True:
                # The reader's own reply comes back directly: no trip
                # through _replies and the condition (the usual case).
                got = self._read_and_dispatch(seq)
                if got is not None:
                    break
                with self._cv:
                    if seq in self._replies or seq in self._resend or self._broken is not None:
                        break
        finally:
            with self._cv:
                self._reading = False
                if got is not None:
                    self._pending.pop(seq, None)
                if self._cv._waiters:   # noqa: SLF001 - a notify with nobody waiting costs ~1 us of Python
                    self._cv.notify_all()
        if got is not None:
            self._last_activity = time.monotonic()
            return got
        return self.wait(seq)

    def _read_and_dispatch(self, mine=None):
        """Reads one message and files it; returns (status, Message) instead
        when it is the reply to `mine`."""
        gen = self._stream_gen
        try:
            msg = self._read_one()
        except (OSError, ValueError) as e:   # ConnectionError is an OSError
            if self._closed:
                with self._cv:
                    self._broken = ConnectionError("the lumos client is shut down")
                    self._cv.notify_all()
                return None
            self._reconnect(gen, e)
            return None
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
            return None
        if seq == mine:
            return status, msg
        with self._cv:
            if seq in self._pending:
                self._replies[seq] = (status, msg)
                self._cv.notify_all()
        return None

    def _idle_reader(self):
        # Polls on its own event, not on _cv: _cv is notified on every call,
        # and waking this thread each time cost ~6 futex calls and a GIL
        # hand-off per get (strace: 7 futex per call before, 0 after).
        while not self._closed and self._broken is None:
            if self._kick.wait(_IDLE_READER_AFTER_S):
                self._kick.clear()
                self._flush_burst()
            if self._stop.is_set():
                return
            asm = self._asm
            if time.monotonic() - asm.spare_used > _SPARE_IDLE_S:
                asm.drop_spare()   # no large reply for a while: give its buffer back
            with self._cv:
                if self._reading or time.monotonic() - self._last_activity <= _IDLE_READER_AFTER_S:
                    continue
            if self.on_idle is not None:
                # Before taking the reader role: a send here may have to wait
                # for the window, which needs a reader.
                self.on_idle()
            self._read_as_reader()

    def _flush_burst(self):
        """While calls keep coming, writes held requests every _HOLD_S (the
        caller's next request usually writes them first)."""
        self._flush_held(True)
        while not self._closed and time.monotonic() - self._last_activity <= _IDLE_READER_AFTER_S:
            if self._stop.wait(_HOLD_S):
                break
            self._flush_held(True)
        self._flush_held(False)

    # ------------------------------------------------------------ reconnect
    def _kill_socket(self):
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)   # wakes a sender or reader blocked on it
            except OSError:
                pass

    def _reconnect(self, gen, error):
        self._kill_socket()
        with self._send_lock:
            if gen != self._stream_gen or self._broken is not None:
                return   # another thread reconnected already
            deadline = time.monotonic() + self.grace_s
            last_error = error
            while time.monotonic() < deadline and not self._closed:
                try:
                    last = self._open(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
                except Exception as e:   # noqa: BLE001 - retried until the grace period ends
                    last_error = e
                    time.sleep(0.2)
                    continue
                self._trim(last)
                self._held = []   # in _unacked too: resent below
                with self._ulock:
                    resend = [frames[0] for frames in self._unacked.values()]
                try:
                    transport.write_frames(self._sock, resend)
                except OSError as e:
                    last_error = e
                    continue
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
                    try:
                        transport.write_frames(self._sock, P.encode((self._seq, P.OP_REPLAY, lost)))
                    except OSError:
                        self._kill_socket()   # the reader finds it and reconnects again
                return
            with self._cv:
                self._broken = ConnectionError(
                    "the connection to %s was lost and not restored within the %.0f s grace period (%s); its "
                    "server-side driver and its work are gone: call lumos.shutdown() and lumos.init() again"
                    % (self.describe, self.grace_s, last_error))
                self._cv.notify_all()

    # ------------------------------------------------------------ close
    def finish(self, seq, timeout_s):
        """Waits at most `timeout_s` for the reply to the last request `seq`
        (the driver has then processed everything before it)."""
        self._closed = True   # a read that fails now ends the wait instead of reconnecting
        sock = self._sock
        if sock is not None:
            sock.settimeout(timeout_s)
        return self.wait(seq)

    def close(self):
        self._closed = True
        self._stop.set()
        self._kick.set()
        self._kill_socket()
        if self._sock is not None:
            self._sock.close()
