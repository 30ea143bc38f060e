"""The per-client driver process: `python -m lumos.util.client.driver_server`.

Contract: started by the client server (client_server.py) for one client
id; a real lumos driver of the cluster (its own job, its own objects), so one
client's crash or leak touches nobody else's. It serves one bidirectional
gRPC stream at a time on its own port (node IP, token-checked): the client
talks to it directly after the handshake, with no hop through the client
server. Requests are processed in order on the asyncio loop; ops that may
block (a get of an object not ready yet, a wait, a generator step, cluster
calls) run on a thread pool and reply when done.

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
import asyncio
import collections
import concurrent.futures
import os
import sys
import threading
import time

import grpc
from grpc import aio

from lumos.util.client import protocol as P

_REPLY_CACHE = 512
_ACK_EVERY = 256   # < connection._WINDOW / 2: a client blocked on its window gets an ack
_MAX_LOG_BACKLOG = 10000


class Session:
    """The driver side of one client: state that outlives a dropped stream."""

    def __init__(self, args, ops, loop):
        self.args = args
        self.ops = ops
        self.loop = loop
        self.last_seq = 0
        self.acked = 0
        self.cache = collections.OrderedDict()   # seq -> frames (small replies)
        self.stream = None                       # the live stream's writer
        self.stream_gen = 0
        self.wlock = asyncio.Lock()
        self.pool = concurrent.futures.ThreadPoolExecutor(64, thread_name_prefix="client-op")
        self.backlog = collections.deque(maxlen=_MAX_LOG_BACKLOG)
        self.idle_since = time.monotonic()
        self.done = asyncio.Event()

    # ------------------------------------------------------------ writing
    async def send(self, frames, gen):
        if self.stream is None or gen != self.stream_gen:
            return
        ctx = self.stream
        try:
            async with self.wlock:
                for f in frames:
                    await ctx.write(f)
        except Exception:
            pass   # the stream broke: the client resends / replays after reconnecting

    def reply_frames(self, seq, status, value):
        if status == P.OK:
            data, bufs = self.ops.dump(value)
        else:
            data, bufs = self.ops.dump_error(value)
        frames = P.encode((seq, status, self.last_seq), data, bufs)
        if isinstance(frames, list):
            self.cache[seq] = frames
            while len(self.cache) > _REPLY_CACHE:
                self.cache.popitem(last=False)
        return frames

    async def reply(self, seq, status, value, gen):
        try:
            frames = self.reply_frames(seq, status, value)
        except Exception as e:   # the result will not pickle
            frames = self.reply_frames(seq, P.ERROR, e)
        await self.send(frames, gen)

    def notice(self, kind, *extra, text=b""):
        return P.encode((0, P.NOTICE, self.last_seq, kind) + extra, text)

    # ------------------------------------------------------------ requests
    async def process(self, msg, gen):
        env = msg.env
        seq, op = env[0], env[1]
        if op == P.OP_REPLAY:
            for s in env[2]:
                frames = self.cache.get(s)
                if frames is None:
                    frames = self.reply_frames(s, P.ERROR, ConnectionError(
                        "the reply to this call was lost in a dropped connection; call again"))
                await self.send(frames, gen)
            return
        if seq <= self.last_seq:
            return   # a resent request this driver already processed
        self.last_seq = seq
        if op == P.OP_BYE:
            await self.reply(seq, P.OK, None, gen)
            self.done.set()
            return
        try:
            result = self.ops.handle(msg)
        except Exception as e:
            if op in P.REPLIED:
                await self.reply(seq, P.ERROR, e, gen)
            return
        if result is None and msg.chunked:
            result = (P.OK, None)   # the client waits for a chunked request to be taken
        if result is None:
            if seq - self.acked >= _ACK_EVERY:
                self.acked = seq
                await self.send(self.notice("ack"), gen)
            return
        if isinstance(result, tuple):
            self.acked = seq
            await self.reply(seq, result[0], result[1], gen)
            return
        asyncio.ensure_future(self._blocking(seq, result.fn))

    async def _blocking(self, seq, fn):
        try:
            status, value = await self.loop.run_in_executor(self.pool, fn)
        except Exception as e:
            status, value = P.ERROR, e
        await self.reply(seq, status, value, self.stream_gen)

    async def serve(self, request_iterator, ctx):
        md = ctx.invocation_metadata()
        if not P.check_bearer(md, self.args.token):
            await ctx.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong or missing cluster token")
        if P.metadata_value(md, "lumos-client-id") != self.args.client_id:
            await ctx.abort(grpc.StatusCode.PERMISSION_DENIED, "this driver serves another client")
        self.stream_gen += 1
        gen = self.stream_gen
        self.stream = ctx
        self.idle_since = None
        await self.send(self.notice("hello"), gen)
        while self.backlog:
            await self.send(self.backlog.popleft(), gen)
        asm = P.Assembler()
        try:
            async for frame in request_iterator:
                msg = asm.feed(frame)
                if msg is not None:
                    await self.process(msg, gen)
                    if self.done.is_set():
                        break
        except (asyncio.CancelledError, grpc.RpcError, aio.AioRpcError):
            pass
        finally:
            if gen == self.stream_gen:
                self.stream = None
                self.idle_since = time.monotonic()

    def forward_output(self, text, is_err):
        frames = self.notice("log", is_err, text=text)
        if self.stream is None:
            self.backlog.append(frames)
            return
        asyncio.ensure_future(self.send(frames, self.stream_gen))


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
                session.loop.call_soon_threadsafe(session.forward_output, data, is_err)
        threading.Thread(target=pump, daemon=True, name="client-output").start()
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


async def _main(args):
    from lumos.util.client.driver_ops import DriverOps
    loop = asyncio.get_running_loop()
    session = Session(args, DriverOps(args.gcs_address, args.session_dir), loop)
    server = aio.server(options=P.grpc_options())
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("lumos.client.ClientDriver", {
        "Session": grpc.stream_stream_rpc_method_handler(session.serve)}),))
    port = server.add_insecure_port("%s:0" % args.host)
    await server.start()
    _capture_output(session, args.log_file)
    # The client server reads this line from our original stdout.
    os.write(args.ready_fd, b"%d\n" % port)
    os.close(args.ready_fd)
    parent = os.getppid()
    while not session.done.is_set():
        try:
            await asyncio.wait_for(session.done.wait(), 0.5)
        except asyncio.TimeoutError:
            pass
        if os.getppid() != parent:
            break   # the client server is gone
        idle = session.idle_since
        if idle is not None and time.monotonic() - idle > args.grace_s:
            break   # the client did not come back within the grace period
    await server.stop(0.5)
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
    asyncio.run(_main(args))
    os._exit(0)


if __name__ == "__main__":
    main()
