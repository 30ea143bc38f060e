"""Draining a node: `lumos drain-node` and `Cluster.remove_node(allow_graceful=True)`.

The GCS marks the node draining (DrainNode); its raylet then stops taking
tasks, lets running ones finish, hands its primary object copies to other
nodes, tells their owners, unregisters ("node drained (<reason>)") and
exits. This module asks for it and waits for the node to be gone.
"""
import time


def _node_id_bytes(node_id):
    from lumos._private.ids import NodeID
    if isinstance(node_id, bytes):
        raw = node_id
    else:
        try:
            raw = bytes.fromhex(str(node_id))
        except ValueError:
            raise ValueError("%r is not a node id (hex, as `lumos list nodes` prints it)" % (node_id,))
    if len(raw) != NodeID.SIZE:
        raise ValueError("%r is not a node id: it must be %d hex digits (`lumos list nodes` prints them)"
                         % (node_id, 2 * NodeID.SIZE))
    return raw


def request_drain(channel, node_id, reason="", deadline_s=0.0, timeout=10):
    """Asks the GCS to drain `node_id`; ValueError naming the cause when it
    refuses (unknown, dead or head node)."""
    import grpc
    from lumos._proto import gcs_service_pb2 as pb
    from lumos._proto import gcs_service_pb2_grpc as pb_grpc
    raw = _node_id_bytes(node_id)
    if deadline_s < 0:
        raise ValueError("deadline_remaining_seconds must be >= 0 (0 = no deadline), got %r" % (deadline_s,))
    try:
        reply = pb_grpc.NodeInfoGcsServiceStub(channel).DrainNode(
            pb.DrainNodeRequest(node_id=raw, reason=reason, deadline_remaining_s=float(deadline_s)),
            timeout=timeout)
    except grpc.RpcError as e:
        raise ConnectionError("the GCS did not answer the drain request: %s" % e.details())
    if reply.status.code != 0:
        raise ValueError("cannot drain node %s: %s" % (raw.hex(), reply.status.message))


def wait_until_dead(channel, node_id, timeout):
    """Waits until the GCS lists the node DEAD; returns its death reason.
    TimeoutError naming what is left when it takes longer than `timeout` s."""
    from lumos._proto import gcs_service_pb2 as pb
    from lumos._proto import gcs_service_pb2_grpc as pb_grpc
    raw = _node_id_bytes(node_id)
    stub = pb_grpc.NodeInfoGcsServiceStub(channel)
    deadline = time.monotonic() + timeout
    while True:
        nodes = stub.GetAllNodeInfo(pb.GetAllNodeInfoRequest(), timeout=10).nodes
        node = next((n for n in nodes if n.node_id == raw), None)
        if node is None:
            raise ValueError("node %s is not part of the cluster" % raw.hex())
        if node.state == pb.NodeInfo.DEAD:
            return node.death_reason
        if time.monotonic() > deadline:
            raise TimeoutError("node %s is still draining after %s s (running tasks not finished yet, or "
                               "objects still moving); it goes on in the background" % (raw.hex(), timeout))
        time.sleep(0.05)
