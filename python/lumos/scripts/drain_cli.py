"""`lumos drain-node`: Ray's `ray drain-node`, which lumos also carries out
(running tasks finish, primary object copies move to other nodes, then the
node stops), instead of only telling an autoscaler."""
import sys


def add_parsers(sub):
    p = sub.add_parser("drain-node", help="stop new work on a node, let running tasks finish, move its objects "
                                          "to other nodes, then stop it")
    p.add_argument("node_id", nargs="?", help="the node's id (hex, from `lumos list nodes`)")
    p.add_argument("--node-id", dest="node_id_flag", help="the same, as Ray's flag")
    p.add_argument("--address", help="the GCS address HOST:PORT (default: the local cluster)")
    p.add_argument("--reason", default="DRAIN_NODE_REASON_PREEMPTION", help="accepted for Ray compatibility")
    p.add_argument("--reason-message", default="drained by `lumos drain-node`",
                   help="why (shown as the node's death reason)")
    p.add_argument("--deadline-remaining-seconds", type=float, default=0.0,
                   help="stop the node after this long even if tasks still run (0 = wait for them)")
    p.add_argument("--no-wait", action="store_true", help="return once the drain is accepted")
    p.add_argument("--timeout", type=float, default=600.0, help="how long to wait for the node to stop")
    p.set_defaults(fn=_cmd_drain_node)


def _cmd_drain_node(args):
    from lumos._private import auth, drain
    from lumos.util.state import sources
    node_id = args.node_id or args.node_id_flag
    if not node_id:
        sys.exit("lumos drain-node: give the node id (`lumos list nodes` lists them)")
    try:
        address, session = sources.resolve_address(args.address)
        channel = auth.grpc_channel(address, sources.cluster_token(address, session))
        drain.request_drain(channel, node_id, args.reason_message, args.deadline_remaining_seconds)
        print("Draining node %s." % node_id)
        if args.no_wait:
            return 0
        reason = drain.wait_until_dead(channel, node_id, args.timeout)
    except (ValueError, ConnectionError, TimeoutError) as e:
        sys.exit("lumos drain-node: %s" % e)
    print("Node %s stopped: %s" % (node_id, reason))
    return 0
