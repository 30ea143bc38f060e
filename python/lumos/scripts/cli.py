"""The `lumos` command: start, stop, status, microbenchmark.

`status` talks to the GCS through grpcio stubs generated from protos/ (no core
worker in this process). `stop` ends only processes recorded in session pid
files, and only when the recorded start time still matches (no pid reuse).
"""
import argparse
import glob
import json
import os
import signal
import sys
import time


def _cmd_start(args):
    from lumos._private import addresses, auth
    from lumos._private.node import Node
    if args.head == bool(args.address):
        sys.exit("lumos start: give either --head (start a new cluster) or --address=HEAD_IP:PORT (join one)")
    try:
        token = auth.resolve(token_file=args.auth_token_file)
    except (OSError, ValueError) as e:
        sys.exit("lumos start: --auth-token-file: %s" % e)
    node_ip = args.node_ip_address
    if args.address:
        try:
            host, port = addresses.split_host_port(args.address, what="--address")
        except ValueError as e:
            sys.exit("lumos start: %s" % e)
        if token is None:
            sys.exit("lumos start: joining %s needs the cluster's token: set LUMOS_AUTH_TOKEN or pass "
                     "--auth-token-file (the head wrote it to <session_dir>/auth_token)" % args.address)
        try:
            addresses.check_reachable(host, port, timeout_s=5.0)
        except ConnectionError as e:
            sys.exit("lumos start: %s" % e)
        if node_ip is None:
            node_ip = addresses.local_ip_towards(host)
    if args.head:
        # The recorded cluster lost only its GCS: start it again on its storage.
        from lumos._private import gcs_restart
        try:
            restarted = gcs_restart.restart_if_gcs_died(args.temp_dir)
        except Exception as e:  # noqa: BLE001 - the GCS's own start-up error
            sys.exit("lumos start: restarting the GCS failed: %s" % e)
        if restarted is not None:
            print("Restarted the GCS of the running lumos cluster at %s (its raylets, workers and actors "
                  "went on running).\n  Session dir:  %s" % restarted)
            return
    resources = json.loads(args.resources) if args.resources else None
    if resources is not None and not isinstance(resources, dict):
        sys.exit("lumos start: --resources must be a JSON object, e.g. '{\"custom\": 2}'")
    from lumos._private import node_labels
    try:
        labels = node_labels.validate(json.loads(args.labels) if args.labels else None)
    except ValueError as e:  # bad JSON is a ValueError too
        sys.exit("lumos start: --labels: %s (e.g. --labels '{\"zone\": \"a\"}')" % e)
    try:
        node = Node(head=args.head, gcs_address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus,
                    resources=resources, object_store_memory=args.object_store_memory, temp_dir=args.temp_dir,
                    gcs_port=args.port, detached=not args.block, node_ip=node_ip or "127.0.0.1",
                    auth_token=token, labels=labels, raylet_port=args.node_manager_port,
                    object_manager_port=args.object_manager_port, gcs_storage=args.gcs_storage,
                    client_server_port=_client_server_port(args, node_ip or "127.0.0.1"), **_dashboard_args(args))
    except ValueError as e:  # e.g. num_gpus beyond CUDA_VISIBLE_DEVICES
        sys.exit("lumos start: %s" % e)
    try:
        node.start()
    except Exception as e:  # noqa: BLE001 - start-up failures carry the process's own message
        sys.exit("lumos start: %s" % e)
    from lumos import _raylet
    from lumos._private.worker import wait_for_live_nodes
    _raylet.set_cluster_identity(node.auth_token, node.node_ip)
    gcs = _raylet.GcsClient(node.gcs_address)
    try:
        # Return only once the node is listed, so labels land on it and a
        # driver or `lumos status` started next sees it.
        live = wait_for_live_nodes(gcs, node.gcs_address)
    except ConnectionError as e:
        node.stop()
        sys.exit("lumos start: %s; logs: %s" % (e, os.path.join(node.session_dir, "logs")))
    for info in live if labels else ():
        node_labels.publish(gcs, info["NodeID"], labels)
    node.write_cluster_file()
    if not args.head:
        print("Joined the lumos cluster at %s as node %s (IP %s).\n  Session dir:  %s\n\n"
              "To stop this node: lumos stop" % (args.address, node.node_id, node.node_ip, node.session_dir))
        sys.stdout.flush()
    else:
        print("Started a lumos head node.\n"
              "  GCS address:  %s\n  Session dir:  %s\n\n"
              "To connect from Python on this machine:\n"
              "    import lumos\n    lumos.init(address='auto')   # or address='%s'\n\n"
              "To see the cluster: lumos status\nTo stop it:         lumos stop"
              % (node.gcs_address, node.session_dir, node.gcs_address))
        if node.dashboard_url:
            print("\nView the dashboard at %s (sign in with the token in %s)"
                  % (node.dashboard_url, os.path.join(node.session_dir, "auth_token")))
        if node.client_server_port:
            print("\nFrom another machine (client mode, with the cluster token in LUMOS_AUTH_TOKEN):\n"
                  "    lumos.init('lumos://%s:%d')" % (node.node_ip, node.client_server_port))
    sys.stdout.flush()
    if args.block:
        stop = {"now": False}

        def handler(signum, frame):
            stop["now"] = True
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        while not stop["now"]:
            dead = [n for n, p in node.procs.items() if p.poll() is not None]
            if dead:
                print("lumos: %s exited; stopping the node" % ", ".join(dead), file=sys.stderr)
                break
            time.sleep(0.2)
        node.stop()


def _client_server_port(args, node_ip):
    if not args.head:
        return 0
    from lumos.util.client.client_server import choose_port
    return choose_port(args.client_server_port, node_ip)


def _dashboard_args(args):
    """Node() keywords from --include-dashboard/--dashboard-host/--dashboard-port (head only)."""
    return {"include_dashboard": args.head and args.include_dashboard, "dashboard_host": args.dashboard_host,
            "dashboard_port": args.dashboard_port}


def _bool_flag(text):
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError("expected true or false, got %r" % text)


def _recorded_processes(root):
    """(pid file, pid, start time) for every process recorded under root."""
    out = []
    seen = set()
    for path in glob.glob(os.path.join(root, "session_*", "pids", "*.pid")):
        real = os.path.realpath(path)  # session_latest is a link to one of the sessions
        if real in seen:
            continue
        seen.add(real)
        try:
            with open(path) as f:
                pid_s, start_s = f.read().split()[:2]
            out.append((path, int(pid_s), None if start_s == "None" else int(start_s)))
        except (OSError, ValueError):
            continue
    return out


def _cmd_stop(args):
    from lumos._private.node import CURRENT_CLUSTER_FILE, process_start_time, session_root
    root = session_root(args.temp_dir)
    targets = []
    for path, pid, start in _recorded_processes(root):
        if start is not None and process_start_time(pid) == start:
            targets.append((path, pid))
        else:
            try:
                os.unlink(path)  # stale: the process is gone (or the pid was reused)
            except OSError:
                pass
    for _, pid in targets:
        try:
            os.kill(pid, signal.SIGKILL if args.force else signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + args.grace_period
    alive = list(targets)
    while alive and time.monotonic() < deadline:
        alive = [(p, pid) for p, pid in alive if os.path.exists("/proc/%d" % pid) and
                 _is_running(pid)]
        time.sleep(0.05)
    for _, pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for path, _ in targets:
        try:
            os.unlink(path)
        except OSError:
            pass
    try:
        os.unlink(os.path.join(root, CURRENT_CLUSTER_FILE))
    except OSError:
        pass
    print("Stopped %d lumos process(es)%s." % (len(targets), " (%d forcefully)" % len(alive) if alive else ""))


def _is_running(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _gcs_address(args):
    if args.address:
        return args.address
    from lumos._private.node import CURRENT_CLUSTER_FILE, session_root
    env = os.environ.get("LUMOS_ADDRESS")
    if env:
        return env
    path = os.path.join(session_root(args.temp_dir), CURRENT_CLUSTER_FILE)
    try:
        with open(path) as f:
            return json.load(f)["gcs_address"]
    except (OSError, ValueError, KeyError):
        sys.exit("lumos status: no running cluster found (%s missing); pass --address host:port" % path)


def format_memory(num_bytes):
    """Bytes as `ray status` prints them: 0B, 512.00KiB, 16.51GiB."""
    for suffix, unit in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if num_bytes >= unit:
            return "%.2f%s" % (num_bytes / unit, suffix)
    return "%dB" % int(num_bytes)


def format_usage(name, used, total, pg_used=0.0, pg_reserved=0.0):
    """One `ray status` usage line: " 0.0/1.0 CPU", " 0B/16.51GiB memory"."""
    if name in ("memory", "object_store_memory"):
        line = " %s/%s %s" % (format_memory(used), format_memory(total), name)
    else:
        line = " %r/%r %s" % (round(float(used), 4), round(float(total), 4), name)
    if pg_reserved > 0:
        if name in ("memory", "object_store_memory"):
            line += " (%s used of %s reserved in placement groups)" % (format_memory(pg_used),
                                                                        format_memory(pg_reserved))
        else:
            line += " (%r used of %r reserved in placement groups)" % (round(float(pg_used), 4),
                                                                       round(float(pg_reserved), 4))
    return line


def _group_totals(totals, avail):
    """{resource: (used, reserved)} inside placement groups, from the
    group-wide "<name>_group_<id>" resources the raylet makes for bundles."""
    import re
    out = {}
    for k, total in totals.items():
        m = re.match(r"^(.+)_group_([0-9a-f]+)$", k)
        if not m or m.group(1) == "bundle":
            continue
        used, reserved = out.get(m.group(1), (0.0, 0.0))
        out[m.group(1)] = (used + total - avail.get(k, 0.0), reserved + total)
    return out


def _authenticated_channel(grpc, address, args):
    """A grpcio channel to the GCS whose calls carry the cluster token."""
    from lumos._private import auth
    from lumos._private.node import CURRENT_CLUSTER_FILE, session_root
    session = None
    try:
        with open(os.path.join(session_root(getattr(args, "temp_dir", None)), CURRENT_CLUSTER_FILE)) as f:
            session = json.load(f).get("session_dir")
    except (OSError, ValueError):
        pass
    try:
        token = auth.require(session_dir=session, what="the GCS at %s" % address, address=address,
                             root=session_root(getattr(args, "temp_dir", None)))
    except ConnectionError as e:
        sys.exit("lumos: %s" % e)
    return auth.grpc_channel(address, token)


def _cmd_status(args):
    """Prints the cluster the way `ray status` does (people and scripts read
    its "Usage:" lines), plus lumos's infeasible demands and placement groups."""
    import grpc
    from lumos._proto import gcs_service_pb2 as pb
    from lumos._proto import gcs_service_pb2_grpc as pb_grpc
    address = _gcs_address(args)
    channel = _authenticated_channel(grpc, address, args)
    try:
        nodes = pb_grpc.NodeInfoGcsServiceStub(channel).GetAllNodeInfo(
            pb.GetAllNodeInfoRequest(), timeout=5).nodes
    except grpc.RpcError as e:
        sys.exit("lumos status: cannot reach the GCS at %s: %s" % (address, e.code().name))
    rule = "-" * 63
    print("======== lumos cluster status (GCS %s) ========" % address)
    alive = [n for n in nodes if n.state == pb.NodeInfo.ALIVE]
    dead = [n for n in nodes if n.state != pb.NodeInfo.ALIVE]
    print("Node status")
    print(rule)
    print("Active:")
    totals, avail = {}, {}
    for n in alive:
        print(" 1 node_%s (%s%s, raylet pid %d)" % (n.node_id.hex(), n.node_ip, ", head" if n.is_head else "",
                                                   n.raylet_pid))
        for k, v in n.total_resources.items():
            totals[k] = totals.get(k, 0) + v
        for k, v in n.available_resources.items():
            avail[k] = avail.get(k, 0) + v
    if not alive:
        print(" (no active nodes)")
    print("Recent failures:")
    for n in dead:
        print(" node_%s: %s" % (n.node_id.hex(), n.death_reason))
    if not dead:
        print(" (no failures)")
    print("")
    print("Resources")
    print(rule)
    print("Usage:")
    groups = _group_totals(totals, avail)
    for k in sorted(totals):
        if k.startswith("node:") or "_group_" in k:  # placement group bundles: counted in their resource
            continue
        pg_used, pg_reserved = groups.get(k, (0.0, 0.0))
        print(format_usage(k, totals[k] - avail.get(k, 0), totals[k], pg_used, pg_reserved))
    print("")
    print("Demands:")
    demands = [(n.node_id.hex(), d) for n in alive for d in n.infeasible_demands]
    for node, d in demands:
        print(" %s: infeasible (node %s... cannot fit it)" % (d, node[:12]))
    if not demands:
        print(" (no resource demands)")
    _print_placement_groups(pb, pb_grpc, channel)


def _print_placement_groups(pb, pb_grpc, channel):
    import grpc
    try:
        pgs = pb_grpc.PlacementGroupInfoGcsServiceStub(channel).GetAllPlacementGroup(
            pb.GetAllPlacementGroupRequest(), timeout=5).placement_groups
    except grpc.RpcError as e:
        print("Placement groups: unavailable (%s)" % e.code().name)
        return
    state = pb.PlacementGroupTableData
    created = [p for p in pgs if p.state == state.CREATED]
    pending = [p for p in pgs if p.state in (state.PENDING, state.PREPARED, state.RESCHEDULING)]
    print("Placement groups: %d created, %d pending" % (len(created), len(pending)))
    for p in pending:
        bundles = [dict(b.unit_resources) for b in p.bundles]
        print("  %s%s %s %s: %s%s" % (
            p.placement_group_id, " (%s)" % p.name if p.name else "", state.Strategy.Name(p.strategy),
            bundles, "INFEASIBLE " if p.infeasible else "", p.pending_reason or "being reserved"))


def _cmd_memory(args):
    import lumos
    from lumos._private import internal_api
    address = _gcs_address(args)
    try:
        lumos.init(address=address)
    except Exception as e:  # noqa: BLE001 - any failure to connect is reported the same way
        sys.exit("lumos memory: cannot connect to the cluster at %s: %s" % (address, e))
    try:
        print(internal_api.memory_summary(stats_only=args.stats_only, num_entries=args.num_entries), end="")
    finally:
        lumos.shutdown()


def _cmd_microbenchmark(args):
    from lumos._private import ray_perf
    ray_perf.main(filter_pattern=args.filter)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lumos", description="lumos cluster command line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("start", help="start the processes of a node")
    p.add_argument("--head", action="store_true", help="start a head node (GCS + raylet)")
    p.add_argument("--address", default=None, help="join the cluster whose GCS is at HEAD_IP:PORT")
    p.add_argument("--port", type=int, default=0, help="GCS port (default: a free port)")
    p.add_argument("--auth-token-file", default=None,
                   help="file holding the cluster token (default: $LUMOS_AUTH_TOKEN; a head makes a new one)")
    p.add_argument("--node-manager-port", type=int, default=0, help="raylet TCP port (default: a free port)")
    p.add_argument("--object-manager-port", type=int, default=0,
                   help="object transfer TCP port (default: a free port)")
    p.add_argument("--num-cpus", type=int, default=None)
    p.add_argument("--num-gpus", type=int, default=None)
    p.add_argument("--resources", default=None, help="custom resources as JSON, e.g. '{\"a\": 1}'")
    p.add_argument("--labels", default=None, help="node labels as JSON, e.g. '{\"zone\": \"a\"}'")
    p.add_argument("--object-store-memory", type=int, default=None)
    p.add_argument("--node-ip-address", default=None,
                   help="IP this node listens on (default: 127.0.0.1 for a head, the IP facing the head otherwise)")
    p.add_argument("--temp-dir", default=None)
    p.add_argument("--gcs-storage", default=None,
                   help="head: SQLite file for the GCS tables (default <session_dir>/gcs.db; '' keeps them in "
                        "memory). `lumos start --head` on a head whose GCS died restarts it on that file")
    p.add_argument("--include-dashboard", type=_bool_flag, default=True, metavar="true|false",
                   help="head: start the dashboard (default true)")
    p.add_argument("--dashboard-host", default=None, help="head: IP the dashboard listens on (default: the node IP)")
    p.add_argument("--dashboard-port", type=int, default=None,
                   help="head: dashboard port (default 8265, or the next free one)")
    p.add_argument("--client-server-port", type=int, default=None,
                   help="head: port of the client-mode server for lumos.init('lumos://HOST:PORT') (default "
                        "10001, skipped with a warning when taken; 0: none)")
    p.add_argument("--block", action="store_true", help="stay in the foreground; Ctrl-C stops the node")
    p.set_defaults(fn=_cmd_start)

    p = sub.add_parser("stop", help="stop the lumos processes recorded in session pid files")
    p.add_argument("--force", action="store_true", help="SIGKILL at once")
    p.add_argument("--grace-period", type=float, default=5.0)
    p.add_argument("--temp-dir", default=None)
    p.set_defaults(fn=_cmd_stop)

    p = sub.add_parser("status", help="show nodes and resource usage")
    p.add_argument("--address", default=None)
    p.add_argument("--temp-dir", default=None)
    p.set_defaults(fn=_cmd_status)

    p = sub.add_parser("memory", help="list the objects referenced on this node and the object store usage")
    p.add_argument("--address", default=None)
    p.add_argument("--temp-dir", default=None)
    p.add_argument("--stats-only", action="store_true", help="only the store usage and totals per reference type")
    p.add_argument("--num-entries", type=int, default=None, help="show at most this many references")
    p.set_defaults(fn=_cmd_memory)

    from lumos.scripts import state_cli
    state_cli.add_parsers(sub)  # list, get, summary, timeline
    from lumos.scripts import logs_cli
    logs_cli.add_parsers(sub)  # logs, stack
    from lumos.scripts import job_cli
    job_cli.add_parsers(sub)  # job submit|status|logs|stop|delete|list
    from lumos.scripts import drain_cli
    drain_cli.add_parsers(sub)  # drain-node

    p = sub.add_parser("microbenchmark", help="the same workloads as `ray microbenchmark`")
    p.add_argument("--filter", default=None, help="run only benchmarks whose name contains this")
    p.set_defaults(fn=_cmd_microbenchmark)

    args = parser.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
