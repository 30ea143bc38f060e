"""`lumos list|get|summary|timeline`: Ray's state CLI (same syntax, keys and
output shapes) over lumos.util.state. Every command finds the local cluster
itself or takes --address HOST:PORT (the GCS), and sends the cluster token.
"""
import json
import sys
import time
import warnings

_FORMATS = ("default", "table", "json", "yaml")


def parse_filter(text):
    """"key=value" / "key!=value" -> (key, predicate, value); ValueError naming the filter."""
    for pred in ("!=", "="):
        key, sep, value = text.partition(pred)
        if sep and key.strip():
            return key.strip(), pred, value.strip()
    raise ValueError("filter %r has no operator: write KEY=VALUE or KEY!=VALUE, e.g. -f state=RUNNING" % (text,))


def to_yaml(value, indent=0):
    """YAML text of dicts, lists and scalars (no PyYAML needed)."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:\n%s" % (pad, k, to_yaml(v, indent + 1)))
            else:
                out.append("%s%s: %s\n" % (pad, k, _yaml_scalar(v)))
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for v in value:
            if isinstance(v, (dict, list)) and v:
                body = to_yaml(v, indent + 1)
                out.append("%s- %s" % (pad, body.lstrip()))
            else:
                out.append("%s- %s\n" % (pad, _yaml_scalar(v)))
        return "".join(out)
    return pad + _yaml_scalar(value) + "\n"


def _yaml_scalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    s = str(v)
    plain = s and s.strip() == s and not any(c in s for c in ":#{}[],&*!|>'\"%@`\n") and \
        s.lower() not in ("null", "true", "false", "yes", "no", "~") and not _looks_numeric(s)
    return s if plain else json.dumps(s)


def _looks_numeric(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True) if v else "{}"
    if isinstance(v, list):
        return json.dumps(v) if v else "[]"
    return str(v)


def format_table(rows, columns):
    """Ray's table: upper-case headers, a row index, columns padded to fit."""
    header = [c.upper() for c in columns]
    body = [[str(i)] + [_cell(r.get(c)) for c in columns] for i, r in enumerate(rows)]
    widths = [max([len(h) for h in [""]] + [len(b[0]) for b in body] or [0])]
    for j, h in enumerate(header):
        widths.append(max([len(h)] + [len(b[j + 1]) for b in body]))
    lines = ["  ".join(x.ljust(w) for x, w in zip([""] + header, widths)).rstrip()]
    for b in body:
        lines.append("  ".join(x.ljust(w) for x, w in zip(b, widths)).rstrip())
    return "\n".join(lines)


def _rule():
    return "-" * 40


def _fail(cmd, e, code=1):
    print("lumos %s: %s" % (cmd, e), file=sys.stderr)
    sys.exit(code)


def cmd_list(args):
    from lumos.util.state import api, common
    try:
        resource = common.resource_of(args.resource)
        filters = [parse_filter(f) for f in args.filter or ()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = api._list(resource.name, args.address, filters, args.limit, args.timeout, args.detail)
    except (ValueError, ConnectionError) as e:
        _fail("list", e)
    columns = resource.all_columns() if args.detail else resource.columns
    plain = [{c: r.get(c) for c in columns} for r in rows]
    fmt = args.format or ("yaml" if args.detail else "default")
    if fmt == "json":
        print(json.dumps(plain, indent=2, default=str))
    elif fmt == "yaml":
        sys.stdout.write(to_yaml(plain))
    elif fmt == "table":
        print(format_table(plain, columns))
    else:
        print("======== List: %s ========" % time.strftime("%Y-%m-%d %H:%M:%S"))
        print("Stats:\n%s\nTotal: %d\n\nTable:\n%s" % (_rule(), rows.total, _rule()))
        print(format_table(plain, columns))
    if rows.truncated:
        print("lumos list: showing %d of %d matching %s; pass --limit %d to see them all"
              % (len(rows), rows.total, resource.name, rows.total), file=sys.stderr)
    if getattr(rows, "num_dropped", 0):
        print("lumos list: the GCS dropped %d task attempts to stay within its bound "
              "(task_events_max_num_task_in_gcs)" % rows.num_dropped, file=sys.stderr)


def cmd_get(args):
    from lumos.util.state import api, common
    try:
        resource = common.resource_of(args.resource)
        found = api.get(resource.name, args.id, args.address, args.timeout)
    except (ValueError, ConnectionError) as e:
        _fail("get", e)
    if not found:
        _fail("get", "%s %s not found (list them with `lumos list %s`)"
              % (resource.name.rstrip("s"), args.id, resource.name))
    plain = [dict(r) for r in found]
    sys.stdout.write(to_yaml(plain if resource.name in ("tasks", "objects") and len(plain) > 1 else plain[0]))


def _print_summary(title, stats, group_by, columns, rows):
    print("======== %s Summary: %s ========" % (title, time.strftime("%Y-%m-%d %H:%M:%S")))
    print("Stats:\n%s" % ("-" * 36))
    for k in sorted(stats):
        print("%s: %s" % (k, stats[k]))
    print("\nTable (group by %s):\n%s" % (group_by, "-" * 36))
    print(format_table(rows, columns))


def _counts(d):
    return ", ".join("%s: %d" % (k, v) for k, v in sorted(d.items()))


def cmd_summary(args):
    from lumos.util.state import api
    try:
        if args.resource == "tasks":
            s = api.summarize_tasks(address=args.address, timeout=args.timeout)["cluster"]
            rows = [{"func_or_class_name": k, "state_counts": _counts(v["state_counts"]), "type": v["type"]}
                    for k, v in sorted(s["summary"].items())]
            _print_summary("Tasks", {k: s[k] for k in ("total_tasks", "total_actor_tasks", "total_actor_scheduled")},
                           "func_name", ["func_or_class_name", "state_counts", "type"], rows)
        elif args.resource == "actors":
            s = api.summarize_actors(address=args.address, timeout=args.timeout)["cluster"]
            rows = [{"class_name": k, "state_counts": _counts(v["state_counts"])}
                    for k, v in sorted(s["summary"].items())]
            _print_summary("Actors", {"total_actors": s["total_actors"]}, "class", ["class_name", "state_counts"],
                           rows)
        else:
            s = api.summarize_objects(address=args.address, timeout=args.timeout)["cluster"]
            rows = [{"call_site": k, "total_objects": v["total_objects"],
                     "total_size_mb": round(v["total_size_mb"], 6), "total_num_workers": v["total_num_workers"],
                     "total_num_nodes": v["total_num_nodes"], "ref_type_counts": _counts(v["ref_type_counts"])}
                    for k, v in sorted(s["summary"].items())]
            _print_summary("Object", {"total_objects": s["total_objects"],
                                      "total_size_mb": round(s["total_size_mb"], 6)}, "callsite",
                           ["call_site", "total_objects", "total_size_mb", "total_num_workers", "total_num_nodes",
                            "ref_type_counts"], rows)
    except (ValueError, ConnectionError) as e:
        _fail("summary", e)


def cmd_timeline(args):
    from lumos.util.state.timeline import timeline
    output = args.output or "/tmp/lumos-timeline-%s.json" % time.strftime("%Y-%m-%d_%H-%M-%S")
    try:
        path = timeline(output, address=args.address)
    except (ValueError, ConnectionError, OSError) as e:
        _fail("timeline", e)
    print(path)


def add_parsers(sub):
    """Adds list, get, summary and timeline to the `lumos` command's subparsers."""
    from lumos.util.state.common import RESOURCES

    def common_args(p):
        p.add_argument("--address", default=None, help="GCS address HOST:PORT (default: the local cluster)")
        p.add_argument("--timeout", type=int, default=30, help="seconds to wait for the cluster's answer")

    p = sub.add_parser("list", help="list actors, tasks, objects, nodes, workers, jobs or placement groups")
    p.add_argument("resource", metavar="RESOURCE", help="one of: " + ", ".join(sorted(RESOURCES)))
    p.add_argument("-f", "--filter", action="append", default=[],
                   help="KEY=VALUE or KEY!=VALUE (case-insensitive; several are ANDed)")
    p.add_argument("--limit", type=int, default=100, help="at most this many rows (after filtering)")
    p.add_argument("--detail", action="store_true", help="every field (YAML unless --format says otherwise)")
    p.add_argument("--format", choices=_FORMATS, default=None)
    common_args(p)
    p.set_defaults(fn=cmd_list)

    p = sub.add_parser("get", help="one actor, task, node, worker, placement group, job or object, as YAML")
    p.add_argument("resource", metavar="RESOURCE", help="one of: " + ", ".join(sorted(RESOURCES)))
    p.add_argument("id", help="the id (hex)")
    common_args(p)
    p.set_defaults(fn=cmd_get)

    p = sub.add_parser("summary", help="tasks by function, actors by class, objects by call site")
    p.add_argument("resource", choices=["tasks", "actors", "objects"])
    common_args(p)
    p.set_defaults(fn=cmd_summary)

    p = sub.add_parser("timeline", help="write a Chrome trace of the task attempts and print its path")
    p.add_argument("--output", default=None, help="file to write (default: /tmp/lumos-timeline-<time>.json)")
    common_args(p)
    p.set_defaults(fn=cmd_timeline)
