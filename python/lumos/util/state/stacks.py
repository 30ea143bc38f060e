"""`lumos stack`: the Python stacks of a live worker, taken in-process.

The target (a pid, an actor id or a task id) is resolved to a node and a
worker pid through the GCS; that node's raylet is asked (REQUEST_STACK_DUMP
over its authenticated TCP port) to wake the worker's stack thread
(lumos._private.stack_dump), and the dump is read back with READ_LOG once
the worker has written it. Works for nodes on other hosts; no ptrace, no
root, no signal.
"""
import time

from lumos.util.state.logs import _Raylet, pick_node
from lumos.util.state.sources import Gcs, StateSourceError


def _target(gcs, target, node_id, node_ip):
    """([nodes to try], pid, what)."""
    text = str(target).strip()
    if text.isdigit():
        nodes = [pick_node(gcs, node_id, node_ip)] if (node_id or node_ip) else [
            n for n in gcs.nodes() if n.state == gcs.pb.NodeInfo.ALIVE]
        return nodes, int(text), "pid %s" % text
    try:
        bytes.fromhex(text)
    except ValueError:
        raise ValueError("%r is neither a pid nor an actor or task id (hex); see `lumos list actors` / "
                         "`lumos list tasks -f state=RUNNING`" % (text,)) from None
    from lumos.util.state import api, rows
    for row in api._collect("workers", gcs):
        if row["worker_id"] == text.lower():
            return [pick_node(gcs, row["node_id"])], row["pid"], "worker %s" % text
    for a in gcs.actors():
        if a.actor_id.hex() == text.lower():
            if a.state != 1:
                raise ValueError("actor %s is not alive (state %s): no stacks to take"
                                 % (text, rows.actor_row(a, {})["state"]))
            return [pick_node(gcs, a.address.node_id.hex())], _pid_of_worker(gcs, a.address.worker_id.hex()), \
                "actor %s" % text
    reply = gcs.task_events([("task_id", "=", text)], 0)
    if reply.events:
        ev = max(reply.events, key=lambda e: e.attempt_number)
        row = rows.task_row(gcs.pb, ev)
        if row["state"] != "RUNNING" or not row["worker_pid"]:
            raise ValueError("task %s is not running (state %s): no stacks to take" % (text, row["state"]))
        return [pick_node(gcs, row["node_id"])], row["worker_pid"], "task %s" % text
    raise ValueError("no worker, actor or task %s found (see `lumos list workers|actors|tasks`)" % text)


def _pid_of_worker(gcs, worker_id_hex):
    from lumos.util.state import api, rows
    for row in api._collect("workers", gcs):
        if row["worker_id"] == worker_id_hex:
            return row["pid"]
    raise ValueError("worker %s is no longer registered with its raylet" % worker_id_hex)


def get_stack(target, address=None, node_id=None, node_ip=None, timeout=15):
    """The Python stacks of every thread of the worker running `target` (a
    pid, or an actor, task or worker id), as text."""
    gcs = Gcs(address, timeout)
    try:
        nodes, pid, what = _target(gcs, target, node_id, node_ip)
        errors = []
        for node in nodes:
            raylet = _Raylet(gcs, node)
            try:
                try:
                    name = raylet.stack_dump(pid)
                except StateSourceError as e:
                    errors.append(str(e))
                    continue
                return _await_dump(raylet, name, pid, what, timeout)
            finally:
                raylet.close()
        raise ValueError("no lumos worker with %s on %s (only workers started by a raylet can be asked; "
                         "see `lumos list workers`)%s" % (
                             what, "that node" if len(nodes) == 1 else "any alive node",
                             ": " + errors[0] if len(nodes) == 1 and errors else ""))
    finally:
        gcs.close()


def _await_dump(raylet, name, pid, what, timeout):
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            reply = raylet.read(name, offset=0, max_bytes=8 << 20)
            return reply.data.decode("utf-8", "replace")
        except StateSourceError as e:
            if getattr(e, "code", None) != 3:  # NotFound: not written yet
                raise
        if time.monotonic() > deadline:
            raise TimeoutError("%s (pid %d) did not write its stacks within %s s: its interpreter may be "
                               "blocked in native code holding the GIL" % (what, pid, timeout))
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
