"""`lumos logs` and `lumos stack` (Ray's `ray logs` syntax and output).

  lumos logs [cluster] [GLOB]      list a node's log files (YAML by category),
                                   or print the one file GLOB matches
  lumos logs actor --id ID         an actor's worker stdout (--err: stderr)
  lumos logs task --id ID          the lines a task printed
  lumos logs worker --pid PID      a worker process's stdout
  lumos stack PID|ACTOR_ID|TASK_ID the Python stacks of a live worker

Every command finds the local cluster or takes --address (the GCS); files
of any node are read through its raylet (lumos.util.state.logs).
"""
import sys

from lumos.scripts.state_cli import to_yaml

_KINDS = ("cluster", "actor", "task", "worker")


def _fail(cmd, e):
    print("lumos %s: %s" % (cmd, e), file=sys.stderr)
    sys.exit(1)


def _print_log(args, **what):
    from lumos.util.state.logs import get_log
    if args.tail > 0:
        print("--- Log has been truncated to last %d lines. Use `--tail` flag to toggle. Set to -1 for "
              "getting the entire file. ---\n" % args.tail)
    for chunk in get_log(address=args.address, node_id=args.node_id, node_ip=args.node_ip, follow=args.follow,
                         tail=args.tail, timeout=args.timeout, suffix="err" if args.err else "out",
                         _interval=args.interval, **what):
        sys.stdout.write(chunk)
        sys.stdout.flush()


def cmd_logs(args):
    from lumos.util.state.logs import list_logs
    kind, glob = args.kind, args.glob
    if kind not in _KINDS:  # `lumos logs raylet.out` is `lumos logs cluster raylet.out`, as in Ray
        kind, glob = "cluster", kind if glob is None else glob
    try:
        if kind == "cluster":
            logs = list_logs(address=args.address, node_id=args.node_id, node_ip=args.node_ip,
                             glob_filter=glob, timeout=args.timeout)
            found = [name for names in logs.values() for name in names]
            if len(found) != 1:
                if args.node_id:
                    print("Node ID: %s" % args.node_id)
                elif args.node_ip:
                    print("Node IP: %s" % args.node_ip)
                sys.stdout.write(to_yaml(logs))
                return
            _print_log(args, filename=found[0])
        elif kind == "actor":
            if not args.id and args.pid is None:
                raise ValueError("give the actor's --id (or its worker's --pid)")
            _print_log(args, **({"actor_id": args.id} if args.id else {"pid": args.pid}))
        elif kind == "task":
            if not args.id:
                raise ValueError("give the task's --id (see `lumos list tasks`)")
            _print_log(args, task_id=args.id, attempt_number=args.attempt_number)
        else:
            if args.pid is None:
                raise ValueError("give the worker's --pid (see `lumos list workers`)")
            _print_log(args, pid=args.pid)
    except (ValueError, ConnectionError) as e:
        _fail("logs", e)
    except KeyboardInterrupt:
        pass  # the way out of --follow


def cmd_stack(args):
    from lumos.util.state.stacks import get_stack
    try:
        sys.stdout.write(get_stack(args.target, address=args.address, node_id=args.node_id,
                                   node_ip=args.node_ip, timeout=args.timeout))
    except (ValueError, ConnectionError, TimeoutError) as e:
        _fail("stack", e)


def add_parsers(sub):
    """Adds `logs` and `stack` to the `lumos` command's subparsers."""
    def where(p, timeout):
        p.add_argument("--address", default=None, help="GCS address HOST:PORT (default: the local cluster)")
        p.add_argument("--node-id", "-id", dest="node_id", default=None, help="the node's id (hex)")
        p.add_argument("--node-ip", "-ip", dest="node_ip", default=None, help="the node's IP")
        p.add_argument("--timeout", type=int, default=timeout, help="seconds to wait for an answer")

    p = sub.add_parser("logs", help="list or print the log files of a node, an actor, a task or a worker")
    p.add_argument("kind", nargs="?", default="cluster", metavar="cluster|actor|task|worker",
                   help="what to read (default cluster; anything else is a file glob of `cluster`)")
    p.add_argument("glob", nargs="?", default=None, help="cluster: the file name (glob) to list or print")
    p.add_argument("--id", "-a", dest="id", default=None, help="the actor or task id")
    p.add_argument("--pid", "-pid", dest="pid", type=int, default=None, help="the worker's process id")
    p.add_argument("--tail", "-tail", type=int, default=1000, help="last N lines (-1: the whole file)")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing what is appended")
    p.add_argument("--interval", type=float, default=None, help="seconds between polls with --follow")
    p.add_argument("--err", action="store_true", help="the worker's stderr instead of stdout")
    p.add_argument("--attempt-number", type=int, default=0, help="task: which attempt (default 0)")
    where(p, 30)
    p.set_defaults(fn=cmd_logs)

    p = sub.add_parser("stack", help="print the Python stacks of a live worker (by pid, actor id or task id)")
    p.add_argument("target", help="a worker pid, an actor id or a running task's id")
    where(p, 15)
    p.set_defaults(fn=cmd_stack)
