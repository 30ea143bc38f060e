"""Logs in the dashboard, read through each node's raylet (lumos.util.state
list_logs / get_log: any node of the cluster, not only this host's).

    GET /api/logs[?node_id=]         {category: [file names]} of one node (head by default)
    GET /api/logs/file?...&tail=N    the text of one log (last N lines, default 1000)
    GET /api/logs/stream?...         SSE: the last lines, then what is appended
                                     ("log" events, JSON text, at most two a second)

Which log (as `lumos logs`): node_id= and filename=, or actor_id=, task_id=
(its lines only) or pid= of a worker; suffix=out|err.
"""
import json
import queue
import threading

from lumos.dashboard.routing import HttpError, Response, StreamResponse
from lumos.util.state import logs as state_logs
from lumos.util.state.sources import StateSourceError

FOLLOW_INTERVAL_S = 0.5
MAX_TAIL = 100000
KEEPALIVE_S = 10.0
# get_log(follow=True) returns control only when its log grows, so the
# reader of a quiet log whose browser tab closed lingers until the next line:
# at most this many readers live at once.
MAX_STREAMS = 32
_streams = threading.BoundedSemaphore(MAX_STREAMS)


def _pump(chunks, out, stop):
    """Moves a get_log generator's chunks into `out` (run on its own thread)."""
    try:
        for text in chunks:
            if stop.is_set():
                break
            out.put(("log", text))
    except (ValueError, StateSourceError) as e:
        out.put(("failed", str(e)))
    finally:
        chunks.close()
        out.put(None)
        _streams.release()


def _which(request):
    q = request.query
    which = {k: q.get(k) or None for k in ("node_id", "filename", "actor_id", "task_id", "pid")}
    if which["pid"] is not None:
        try:
            which["pid"] = int(which["pid"])
        except ValueError:
            raise HttpError(400, "pid must be an integer, got %r" % which["pid"]) from None
    if not (which["filename"] or which["actor_id"] or which["task_id"] or which["pid"]):
        raise HttpError(400, "say which log: filename= (with node_id=), actor_id=, task_id= or pid=")
    suffix = q.get("suffix") or "out"
    if suffix not in ("out", "err"):
        raise HttpError(400, "suffix must be 'out' or 'err', got %r" % suffix)
    which["suffix"] = suffix
    return which


def _tail(request, default):
    raw = request.query.get("tail")
    try:
        tail = int(raw) if raw not in (None, "") else default
    except ValueError:
        raise HttpError(400, "tail must be an integer number of lines, got %r" % raw) from None
    if not -1 <= tail <= MAX_TAIL:
        raise HttpError(400, "tail must be within -1..%d, got %d" % (MAX_TAIL, tail))
    return tail


def register(router, ctx):
    address = ctx.gcs_address

    def listing(request, params):
        node_id = request.query.get("node_id") or None
        try:
            files = state_logs.list_logs(address=address, node_id=node_id, timeout=10)
        except ValueError as e:
            raise HttpError(404, str(e)) from None
        except StateSourceError as e:
            raise HttpError(502, str(e)) from None
        return Response.json({"node_id": node_id, "files": files})

    def read(request, params):
        which, tail = _which(request), _tail(request, 1000)
        try:
            text = "".join(state_logs.get_log(address=address, tail=tail, timeout=10, errors="replace", **which))
        except ValueError as e:
            raise HttpError(404, str(e)) from None
        except StateSourceError as e:
            raise HttpError(502, str(e)) from None
        return Response.text(text)

    def stream(request, params):
        which, tail = _which(request), _tail(request, 200)
        if not _streams.acquire(blocking=False):
            raise HttpError(503, "%d log streams are open already; close a log tab and retry" % MAX_STREAMS)
        chunks = state_logs.get_log(address=address, tail=tail, follow=True, timeout=10, errors="replace",
                                    _interval=FOLLOW_INTERVAL_S, **which)
        try:
            first = next(chunks, "")  # a bad name fails here, as a 404, not inside the stream
        except (ValueError, StateSourceError) as e:
            _streams.release()
            raise HttpError(404 if isinstance(e, ValueError) else 502, str(e)) from None
        out, stop = queue.Queue(), threading.Event()
        threading.Thread(target=_pump, args=(chunks, out, stop), name="log-stream", daemon=True).start()

        def events():
            try:
                yield b"retry: 3000\n\n"
                if first:
                    yield ("event: log\ndata: %s\n\n" % json.dumps(first)).encode()
                while True:
                    try:
                        item = out.get(timeout=KEEPALIVE_S)
                    except queue.Empty:
                        yield b": keepalive\n\n"  # finds a client that went away
                        continue
                    if item is None:
                        return
                    yield ("event: %s\ndata: %s\n\n" % (item[0], json.dumps(item[1]))).encode()
            finally:
                stop.set()
        return StreamResponse(events(), content_type="text/event-stream")

    router.add("GET", "/api/logs", listing)
    router.add("GET", "/api/logs/file", read)
    router.add("GET", "/api/logs/stream", stream)
