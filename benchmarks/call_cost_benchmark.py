"""Cost per call of the microbenchmark's hot paths, counted rather than timed:
system calls, context switches and CPU time of *every* process of the
cluster (driver, raylet, GCS, workers) per task or actor call, from
`perf stat -p` (kernel tracepoint raw_syscalls:sys_enter; root or
perf_event_paranoid <= 1). Counts move far less than throughput on a shared
machine, so this is the regression guard for the hot path: a change that adds
a syscall or a wake-up per call shows here as +1.0 whatever the load.

    .venv/bin/python benchmarks/call_cost_benchmark.py            # lumos
    /path/to/ray-venv/bin/python benchmarks/call_cost_benchmark.py --ray
    ... --filter "actor" --calls 20000 --json out.json
    ... --client     # the client lines (lumos://, ray://): client, its
                     # server-side driver and the cluster, per client call
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EVENTS = ("raw_syscalls:sys_enter", "context-switches", "task-clock")


def cluster_pids():
    """This process and every process below it (raylet, GCS, workers), from
    /proc (no psutil: Ray's venv may lack it)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue   # gone meanwhile
        children.setdefault(ppid, []).append(int(entry))
    pids, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


def perf_counts(pids, fn):
    """Runs fn() while perf counts EVENTS over `pids`; {event: total}."""
    out = tempfile.NamedTemporaryFile(prefix="call-cost-", suffix=".csv", delete=False).name
    perf = subprocess.Popen(["perf", "stat", "-x,", "-o", out, "-e", ",".join(EVENTS),
                             "-p", ",".join(map(str, pids))], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)   # perf attaches to every thread before the window opens
        fn()
    finally:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=30)
    counts = {}
    with open(out) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) >= 3 and parts[2] in EVENTS:
                try:
                    counts[parts[2]] = float(parts[0])
                except ValueError:   # "<not counted>": the event is unavailable
                    pass
    os.unlink(out)
    return counts


def workloads(ray, batch):
    @ray.remote
    def small_value():
        return b"ok"

    @ray.remote
    class Actor:
        def small_value(self):
            return b"ok"

    @ray.remote
    class AsyncActor:
        async def small_value(self):
            return b"ok"

    def placement_groups(n):  # the microbenchmark's placement group line
        pgs = [ray.util.placement_group(bundles=[{"CPU": 0.001}]) for _ in range(n)]
        for pg in pgs:
            pg.wait(timeout_seconds=30)
        for pg in pgs:
            ray.util.remove_placement_group(pg)

    a, aa = Actor.remote(), AsyncActor.remote()
    threaded = Actor.options(max_concurrency=16).remote()
    ray.get([a.small_value.remote(), aa.small_value.remote(), threaded.small_value.remote()])
    value = ray.put(0)
    # (line, one round, calls per round), the lines of `microbenchmark`.
    return [
        ("single client get calls", lambda: ray.get(value), 1),
        ("single client put calls", lambda: ray.put(0), 1),
        ("single client tasks sync", lambda: ray.get(small_value.remote()), 1),
        ("single client tasks async", lambda: ray.get([small_value.remote() for _ in range(batch)]), batch),
        ("1:1 actor calls sync", lambda: ray.get(a.small_value.remote()), 1),
        ("1:1 actor calls async", lambda: ray.get([a.small_value.remote() for _ in range(batch)]), batch),
        ("1:1 actor calls concurrent",
         lambda: ray.get([threaded.small_value.remote() for _ in range(batch)]), batch),
        ("1:1 async-actor calls sync", lambda: ray.get(aa.small_value.remote()), 1),
        ("1:1 async-actor calls async",
         lambda: ray.get([aa.small_value.remote() for _ in range(batch)]), batch),
        ("placement group create/removal", lambda: placement_groups(100), 100),
    ]


def client_workloads(ray):
    """The `client:` lines of `microbenchmark` (Ray's ray_client_microbenchmark
    workloads): (line, one round, calls per round)."""
    import numpy as np

    @ray.remote(num_cpus=0)
    class Actor:
        def small_value(self):
            return b"ok"

    a = Actor.remote()
    ray.get(a.small_value.remote())
    value = ray.put(0)
    arr = np.zeros(100 * 1024 * 1024, dtype=np.int64)

    # The puts drop their refs at once, as the microbenchmark's do (the
    # measuring loop keeps what a round returns: 800 MB objects would pile
    # up in the store and spill).
    def put_small():
        ray.put(0)

    def put_large():
        ray.put(arr)
    return [
        ("client: get calls", lambda: ray.get(value), 1),
        ("client: put calls", put_small, 1),
        ("client: 1:1 actor calls sync", lambda: ray.get(a.small_value.remote()), 1),
        ("client: 1:1 actor calls async", lambda: ray.get([a.small_value.remote() for _ in range(1000)]), 1000),
        ("client: put gigabytes", put_large, 1),   # 800 MB a call: --calls / 500 of them
    ]


def connect_client(ray, is_ray, stack):
    """Connects this process as a client of a cluster started here (its
    processes are children of this one, so perf sees them)."""
    if is_ray:
        from ray.util.client.ray_client_helpers import ray_start_client_server

        def handler(job_config=None, **kw):   # what ray_client_microbenchmark does
            from ray._private.client_mode_hook import disable_client_hook
            with disable_client_hook():
                import ray as real_ray
                if not real_ray.is_initialized():
                    real_ray.init()
        return stack.enter_context(ray_start_client_server(ray_connect_handler=handler))
    from lumos._private.node import Node, free_port
    node = Node(head=True, client_server_port=free_port(), detached=False).start()
    stack.callback(node.stop)
    ray.init("lumos://127.0.0.1:%d" % node.client_server_port, _auth_token=node.auth_token)
    stack.callback(ray.shutdown)
    return ray


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ray", action="store_true", help="measure Ray (run with Ray's Python)")
    ap.add_argument("--filter", default="", help="only lines containing this")
    ap.add_argument("--calls", type=int, default=10000, help="calls per line (default 10000)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--client", action="store_true", help="the client-mode lines instead")
    args = ap.parse_args()
    if shutil.which("perf") is None:
        sys.exit("call_cost_benchmark: needs `perf` (Debian: linux-perf)")
    if args.ray:
        import ray
    else:
        import lumos as ray
    import contextlib
    stack = contextlib.ExitStack()
    if args.client:
        ray = connect_client(ray, args.ray, stack)
        lines = client_workloads(ray)
    else:
        ray.init(num_cpus=2, include_dashboard=False)
        stack.callback(ray.shutdown)
        lines = workloads(ray, 1000)
    results = []
    with stack:
        for name, fn, per_round in lines:
            if args.filter not in name:
                continue
            rounds = max(1, args.calls // per_round // (500 if "gigabytes" in name else 1))
            for _ in range(max(1, rounds // 10)):   # warm: workers up, caches filled
                fn()
            pids = cluster_pids()
            t0 = time.perf_counter()
            counts = perf_counts(pids, lambda: [fn() for _ in range(rounds)])
            wall = time.perf_counter() - t0
            calls = rounds * per_round
            row = {"line": name, "calls": calls, "processes": len(pids),
                   "syscalls_per_call": counts.get("raw_syscalls:sys_enter", float("nan")) / calls,
                   "context_switches_per_call": counts.get("context-switches", float("nan")) / calls,
                   "cpu_us_per_call": counts.get("task-clock", float("nan")) * 1000 / calls,
                   "wall_s": wall}
            results.append(row)
            print("%-32s syscalls/call %7.2f  ctx-switches/call %6.2f  cpu us/call %7.1f  (%d calls, %d processes)"
                  % (name, row["syscalls_per_call"], row["context_switches_per_call"],
                     row["cpu_us_per_call"], calls, len(pids)), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"system": "ray" if args.ray else "lumos", "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
