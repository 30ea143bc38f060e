"""lumos.util.state.list_logs / get_log: Ray's log API over every node.

A node's files (its session dir's logs/) are read through that node's raylet
(LIST_LOGS / READ_LOG over its TCP fastpath port, opened with the cluster
token), so this works for nodes on other hosts and needs no shared file
system. Actors, tasks and worker pids are resolved to a node and a worker's
log file through the GCS (actor table, task events) and the file names
(lumos._private.worker_logs); a task's lines are cut out of its worker's
file by the markers the worker writes there.
"""
import fnmatch
import time

from lumos._private import worker_logs
from lumos.util.state.sources import Gcs, Fastpath, StateSourceError

DEFAULT_LOG_LIMIT = 1000   # lines `lumos logs` prints by default (Ray's)
_CHUNK = 4 << 20           # bytes per READ_LOG while reading a whole file
_NOT_FOUND = 3             # StatusCode::kNotFound in an RpcError
_INVALID = 1               # StatusCode::kInvalidArgument


class _Raylet:
    """One authenticated fastpath connection to a node's raylet."""

    def __init__(self, gcs, node):
        from lumos._proto import common_pb2, node_manager_pb2
        self.node = node
        self._c, self._pb = common_pb2, node_manager_pb2
        self._conn = Fastpath(node.raylet_endpoint, gcs.token, gcs.timeout)

    def close(self):
        self._conn.close()

    def files(self):
        return self._conn.call(self._c.LIST_LOGS, self._pb.ListLogsRequest(), self._pb.ListLogsReply).files

    def read(self, name, offset=0, tail_lines=-1, max_bytes=0):
        req = self._pb.ReadLogRequest(name=name, offset=offset, tail_lines=tail_lines, max_bytes=max_bytes)
        return self._conn.call(self._c.READ_LOG, req, self._pb.ReadLogReply)

    def stack_dump(self, pid):
        return self._conn.call(self._c.REQUEST_STACK_DUMP, self._pb.StackDumpRequest(pid=pid),
                               self._pb.StackDumpReply).log_name


def categorize(names):
    """Ray's grouping of log file names by component."""
    out = {}
    for name in names:
        if "worker" in name and name.endswith(".out"):
            key = "worker_out"
        elif "worker" in name and name.endswith(".err"):
            key = "worker_err"
        elif name.startswith("raylet."):
            key = "raylet"
        elif name.startswith("gcs_server."):
            key = "gcs_server"
        elif name.startswith("dashboard"):
            key = "dashboard"
        else:
            key = "internal"
        out.setdefault(key, []).append(name)
    return out


def _alive_nodes(gcs):
    return [n for n in gcs.nodes() if n.state == gcs.pb.NodeInfo.ALIVE]


def pick_node(gcs, node_id=None, node_ip=None):
    """The alive node named by id (hex) or IP; the head node when neither."""
    nodes = _alive_nodes(gcs)
    if node_id is not None:
        want = node_id.lower()
        found = [n for n in nodes if n.node_id.hex() == want]
        what = "node id %s" % node_id
    elif node_ip is not None:
        found = [n for n in nodes if n.node_ip == node_ip]
        what = "node IP %s" % node_ip
    else:
        found = [n for n in nodes if n.is_head] or nodes[:1]
        what = "head node"
    if not found:
        raise ValueError("no alive node with %s (alive: %s); see `lumos list nodes`" % (
            what, ", ".join("%s (%s)" % (n.node_id.hex(), n.node_ip) for n in nodes) or "none"))
    return found[0]


def _node_by_binary(gcs, node_id, what):
    for n in gcs.nodes():
        if n.node_id == node_id:
            if n.state != gcs.pb.NodeInfo.ALIVE:
                raise ValueError("%s ran on node %s, which is dead: its log files cannot be read any more"
                                 % (what, node_id.hex()))
            return n
    raise ValueError("%s ran on node %s, which the GCS does not know" % (what, node_id.hex() or "(none)"))


def list_logs(address=None, node_id=None, node_ip=None, glob_filter=None, timeout=30, _gcs=None):
    """{category: [file names]} of one node's logs directory (the head node
    unless node_id / node_ip say otherwise), filtered by `glob_filter`."""
    gcs = _gcs or Gcs(address, timeout)
    try:
        raylet = _Raylet(gcs, pick_node(gcs, node_id, node_ip))
        try:
            names = [f.name for f in raylet.files()]
        finally:
            raylet.close()
    finally:
        if _gcs is None:
            gcs.close()
    if glob_filter:
        names = [n for n in names if fnmatch.fnmatchcase(n, glob_filter)]
    return categorize(names)


def _worker_file(raylet, suffix, worker_id=None, pid=None, what=""):
    for f in raylet.files():
        parsed = worker_logs.parse_log_name(f.name)
        if parsed and parsed[2] == suffix and (worker_id is None or parsed[0] == worker_id) and (
                pid is None or parsed[1] == pid):
            return f.name
    raise ValueError("no %s log of %s on node %s (ls with `lumos logs cluster --node-id %s`)"
                     % (suffix, what, raylet.node.node_id.hex(), raylet.node.node_id.hex()))


def _resolve(gcs, node_id, node_ip, filename, actor_id, task_id, pid, suffix, attempt_number):
    """(node, file name, task id or None) to read."""
    if suffix not in ("out", "err"):
        raise ValueError("suffix must be 'out' or 'err', got %r" % (suffix,))
    if actor_id is not None:
        for a in gcs.actors():
            if a.actor_id.hex() == actor_id.lower():
                if not a.address.worker_id:
                    raise ValueError("actor %s has not started on any worker yet (state %s)"
                                     % (actor_id, a.state))
                node = _node_by_binary(gcs, a.address.node_id, "actor %s" % actor_id)
                return node, ("worker", a.address.worker_id.hex(), None), None
        raise ValueError("actor %s not found (list them with `lumos list actors`)" % actor_id)
    if task_id is not None:
        from lumos.util.state import rows
        reply = gcs.task_events([("task_id", "=", task_id)], 0)
        attempts = [e for e in reply.events if e.attempt_number == attempt_number]
        if not attempts:
            raise ValueError("task %s (attempt %d) not found (list them with `lumos list tasks`)"
                             % (task_id, attempt_number))
        row = rows.task_row(gcs.pb, attempts[0])
        if not row["worker_id"] or not row["node_id"]:
            raise ValueError("task %s has not run on a worker yet (state %s)" % (task_id, row["state"]))
        node = _node_by_binary(gcs, bytes.fromhex(row["node_id"]), "task %s" % task_id)
        return node, ("worker", row["worker_id"], None), task_id
    if pid is not None:
        nodes = [pick_node(gcs, node_id, node_ip)] if (node_id or node_ip) else _alive_nodes(gcs)
        return nodes, ("worker", None, int(pid)), None
    if filename is None:
        raise ValueError("say which log: filename=, actor_id=, task_id= or pid=")
    return pick_node(gcs, node_id, node_ip), ("file", filename), None


def get_log(address=None, node_id=None, node_ip=None, filename=None, actor_id=None, task_id=None, pid=None,
            follow=False, tail=-1, timeout=30, suffix="out", encoding="utf-8", errors="strict",
            attempt_number=0, _interval=None):
    """Yields the text of one log file in chunks: a file of a node, or the
    stdout (suffix="out") / stderr ("err") of an actor's, a task's or a worker
    pid's worker (a task: only its own lines). tail=N: the last N lines
    (-1: all); follow=True keeps yielding what is appended until the caller
    stops (or the file goes away)."""
    if tail is None or int(tail) < -1:
        raise ValueError("tail must be -1 (everything) or a number of lines >= 0, got %r" % (tail,))
    gcs = Gcs(address, timeout)
    raylet = None
    try:
        node, target, task = _resolve(gcs, node_id, node_ip, filename, actor_id, task_id, pid, suffix,
                                      attempt_number)
        if isinstance(node, list):  # a pid: whichever node has that worker
            for n in node:
                raylet = _Raylet(gcs, n)
                try:
                    name = _worker_file(raylet, suffix, pid=target[2], what="pid %d" % target[2])
                    break
                except ValueError:
                    raylet.close()
                    raylet = None
            else:
                raise ValueError("no worker with pid %s on %s (list them with `lumos list workers`)"
                                 % (pid, "that node" if (node_id or node_ip) else "any alive node"))
        else:
            raylet = _Raylet(gcs, node)
            if target[0] == "worker":
                name = _worker_file(raylet, suffix, worker_id=target[1],
                                    what="actor %s" % actor_id if actor_id else "task %s" % task_id)
            else:
                name = target[1]
        yield from _stream(raylet, name, int(tail), follow, task, encoding, errors, _interval or 0.5)
    finally:
        if raylet is not None:
            raylet.close()
        gcs.close()


def _read(raylet, name, **kw):
    try:
        return raylet.read(name, **kw)
    except StateSourceError as e:
        code = getattr(e, "code", None)
        if code == _NOT_FOUND:
            raise ValueError("%s not found on node %s (see `lumos logs cluster --node-id %s`)"
                             % (name, raylet.node.node_id.hex(), raylet.node.node_id.hex())) from None
        if code == _INVALID:
            raise ValueError(e.detail) from None
        raise


def _stream(raylet, name, tail, follow, task, encoding, errors, interval):
    import codecs
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    segments = worker_logs.TaskSegments(task)
    if tail >= 0 and task is None:
        reply = _read(raylet, name, tail_lines=tail, max_bytes=8 << 20)
        text, offset = segments.feed(decoder.decode(reply.data), final=not follow), reply.end_offset
        if text:
            yield text
    else:
        # Everything (or a task's lines, cut from the whole file; tail applies after).
        offset, kept = 0, []
        while True:
            reply = _read(raylet, name, offset=offset, max_bytes=_CHUNK)
            offset = reply.end_offset
            text = segments.feed(decoder.decode(reply.data))
            if tail >= 0:
                kept.extend(text.splitlines(True))
                del kept[:max(0, len(kept) - tail)]
            elif text:
                yield text
            if offset >= reply.size or not reply.data:
                break
        if not follow:
            last = segments.feed("", final=True)
            if tail >= 0:
                kept.extend(last.splitlines(True))
                del kept[:max(0, len(kept) - tail)]
            elif last:
                yield last
        if kept:
            yield "".join(kept)
    while follow:
        time.sleep(interval)
        reply = _read(raylet, name, offset=offset, max_bytes=_CHUNK)
        if reply.size < offset:
            offset = 0  # truncated or replaced: start over
            continue
        offset = reply.end_offset
        text = segments.feed(decoder.decode(reply.data))
        if text:
            yield text
