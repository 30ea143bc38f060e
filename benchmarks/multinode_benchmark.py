#!/usr/bin/env python3
"""Multi-node benchmarks of issue 10, runnable with lumos or with Ray.

    python3 benchmarks/multinode_benchmark.py --backend lumos [--json] [--quick]
    /path/to/ray-venv/bin/python benchmarks/multinode_benchmark.py --backend ray
    # side by side, alternating backends (lumos, ray, lumos, ray, ...):
    python3 benchmarks/multinode_benchmark.py --compare --ray-python /work/ray-venv/bin/python --rounds 2

The same code runs on both: `import lumos as ray` or `import ray`. Every
cluster is made on this host with cluster_utils.Cluster (head: 1 CPU; node B:
1 CPU and the custom resource "b"); the driver is attached to the head (node
A). Benchmarks, one output line each (name, median, unit, then every sample):

  tcp_loopback_stream   a raw Python-socket stream of --tcp-size bytes over
                        127.0.0.1 from another process (big buffers, receive
                        into a preallocated buffer): the ceiling to compare
                        transfers with, measured in the same run.
  transfer_get_<size>   a numpy array made by a task on node A (and sealed
                        there) is read with `get` by a task pinned to node B
                        (NodeAffinitySchedulingStrategy, hard); only that
                        `get` is timed, inside the task. GB = 1e9 bytes.
  tasks_async_node_b    N no-op tasks that can run only on node B
                        (resources={"b": 0.001}) submitted at once, then one
                        get of all; tasks/s.
  actor_calls_async_node_b  N calls a.f.remote() to an actor on node B, then
                        one get of all; calls/s.
  join_add_node         cluster.add_node() until the node is listed by the GCS
                        (two nodes are added for the broadcast).
  broadcast_<size>_4_nodes  one object made on node A read by one task pinned
                        on each of 4 nodes (A, B and the two added): wall time
                        from submitting the 4 tasks to having all results
                        (--reps times, a new object each time; the first one
                        also pays for first-touching the fresh stores).
  join_cli              after the cluster above is shut down: a head started
                        with `<backend> start --head --block`, then
                        `<backend> start --address=127.0.0.1:PORT --block` in a
                        subprocess, timed from spawning it until the driver
                        (attached to that head) sees the new node alive.

Every `get` has a timeout, so a hang shows up as a failure line (with the
error and, for lumos, the session dirs whose logs/ to read) instead of a stuck
run; a failed benchmark does not stop the others.
"""
import argparse
import faulthandler
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

GiB = 1 << 30
MiB = 1 << 20
GB = 1e9

ray = None  # the backend module (lumos or ray), set by main()
Cluster = None
NodeAffinity = None
BACKEND = None


def _import_backend(name):
    global ray, Cluster, NodeAffinity, BACKEND
    BACKEND = name
    if name == "lumos":
        import lumos as mod
        from lumos.cluster_utils import Cluster as cluster_cls
        from lumos.util.scheduling_strategies import NodeAffinitySchedulingStrategy as na
    else:
        import ray as mod
        from ray.cluster_utils import Cluster as cluster_cls
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy as na
    ray, Cluster, NodeAffinity = mod, cluster_cls, na


# ---------------------------------------------------------------- results

class Results:
    def __init__(self, quiet=False):
        self.rows = []
        self.quiet = quiet

    def add(self, name, samples, unit, higher_is_better=True, note=None):
        samples = [float(s) for s in samples]
        row = {"name": name, "value": statistics.median(samples), "unit": unit, "samples": samples,
               "min": min(samples), "max": max(samples), "higher_is_better": higher_is_better}
        if note:
            row["note"] = note
        self.rows.append(row)
        if self.quiet:
            return
        print("%-30s %12s %-8s samples: %s%s" % (
            name, _fmt(row["value"]), unit, ", ".join(_fmt(s) for s in samples),
            ("   (%s)" % note) if note else ""), flush=True)

    def fail(self, name, error, logs=None):
        row = {"name": name, "value": None, "error": error}
        if logs:
            row["logs"] = logs
        self.rows.append(row)
        print("%-30s FAILED: %s" % (name, error.strip().splitlines()[-1] if error.strip() else error), flush=True)
        for line in error.rstrip().splitlines():
            print("    | " + line, flush=True)
        if logs:
            print("    logs: %s" % ", ".join(logs), flush=True)


def _fmt(v):
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.3f" % v


def _run(results, name, fn, logs=None):
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - every failure becomes a report line
        if isinstance(e, KeyboardInterrupt):
            raise
        results.fail(name, traceback.format_exc(), logs() if logs else None)


# ---------------------------------------------------------------- raw TCP

_TCP_SENDER = r"""
import socket, sys
port, size = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
buf = memoryview(bytearray(b"x" * min(size, 64 << 20)))
while True:
    go = s.recv(1)
    if not go or go == b"q":
        break
    left = size
    while left:
        n = min(left, len(buf))
        s.sendall(buf[:n])
        left -= n
"""


def bench_tcp(results, size, reps):
    """GB/s of a Python-socket stream over loopback, another process sending."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)
    proc = subprocess.Popen([sys.executable, "-c", _TCP_SENDER, str(srv.getsockname()[1]), str(size)])
    try:
        conn, _ = srv.accept()
        conn.settimeout(60)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        buf = bytearray(size)
        mv = memoryview(buf)
        chunk = 64 << 20
        samples = []
        for _ in range(reps + 1):  # the first pass faults the receive buffer in; not counted
            t0 = time.perf_counter()
            conn.sendall(b"g")
            got = 0
            while got < size:
                n = conn.recv_into(mv[got:got + chunk])
                if n == 0:
                    raise ConnectionError("sender closed after %d of %d bytes" % (got, size))
                got += n
            samples.append(size / (time.perf_counter() - t0) / GB)
        conn.sendall(b"q")
        conn.close()
    finally:
        srv.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    results.add("tcp_loopback_stream", samples[1:], "GB/s",
                note="%s, receive into a preallocated buffer" % _size_name(size))


def _size_name(n):
    return "%gGiB" % (n / GiB) if n >= GiB else "%gMiB" % (n / MiB)


# ---------------------------------------------------------------- remote functions

def _define_remotes():
    global make_array, timed_get, read_size, noop, where, Sink

    @ray.remote
    def make_array(nbytes):
        import numpy as np
        return np.ones(nbytes, dtype=np.uint8)

    @ray.remote
    def timed_get(box, timeout):
        """ray.get of box[0] (a ref inside a list, so it is not fetched as an
        argument); returns (seconds of the get alone, nbytes, node id)."""
        t0 = time.perf_counter()
        arr = ray.get(box[0], timeout=timeout)
        took = time.perf_counter() - t0
        ok = arr.nbytes == 0 or (arr[0] == 1 and arr[-1] == 1)
        return took, arr.nbytes, bool(ok), ray.get_runtime_context().get_node_id()

    @ray.remote
    def read_size(box, timeout):
        arr = ray.get(box[0], timeout=timeout)
        return arr.nbytes, ray.get_runtime_context().get_node_id()

    @ray.remote
    def noop():
        return b"ok"

    @ray.remote
    def where():
        return ray.get_runtime_context().get_node_id()

    @ray.remote
    class Sink:
        def f(self):
            return b"ok"

        def node(self):
            return ray.get_runtime_context().get_node_id()


def _on(node_id):
    return NodeAffinity(node_id=node_id, soft=False)


def _node_id(node):
    return node.node_id


# ---------------------------------------------------------------- cluster benchmarks

def bench_transfer(results, node_a, node_b, size, reps, timeout):
    samples = []
    for _ in range(reps):
        ref = make_array.options(scheduling_strategy=_on(node_a)).remote(size)
        ready, _ = ray.wait([ref], timeout=timeout)
        if not ready:
            raise TimeoutError("make_array(%d) on node A not ready in %s s" % (size, timeout))
        took, nbytes, ok, on = ray.get(
            timed_get.options(scheduling_strategy=_on(node_b)).remote([ref], timeout), timeout=timeout)
        if on != node_b or nbytes != size or not ok:
            raise AssertionError("timed_get ran on %s (want node B %s), read %d bytes of %d, contents ok: %s"
                                 % (on, node_b, nbytes, size, ok))
        samples.append(size / took / GB)
        del ref
    results.add("transfer_get_%s" % _size_name(size), samples, "GB/s",
                note="get on node B of an array made on node A; get alone timed")


def _rate_batches(submit_and_get, n, min_seconds, min_batches, max_batches):
    samples = []
    start = time.perf_counter()
    while len(samples) < max_batches and (len(samples) < min_batches or time.perf_counter() - start < min_seconds):
        t0 = time.perf_counter()
        submit_and_get(n)
        samples.append(n / (time.perf_counter() - t0))
    return samples


def bench_tasks_async(results, node_b, n, min_seconds, timeout):
    opts = noop.options(resources={"b": 0.001})
    on = ray.get(where.options(resources={"b": 0.001}).remote(), timeout=timeout)
    if on != node_b:
        raise AssertionError("a task needing resource b ran on %s, not node B %s" % (on, node_b))

    def run(k):
        refs = [opts.remote() for _ in range(k)]
        ray.get(refs, timeout=timeout)
    run(min(n, 100))  # warm-up (worker on B, leases)
    results.add("tasks_async_node_b", _rate_batches(run, n, min_seconds, 3, 20), "tasks/s",
                note="%d no-op tasks per batch, resources={'b': 0.001}" % n)


def bench_actor_calls(results, node_b, n, min_seconds, timeout):
    a = Sink.options(resources={"b": 0.001}).remote()
    on = ray.get(a.node.remote(), timeout=timeout)
    if on != node_b:
        raise AssertionError("actor needing resource b is on %s, not node B %s" % (on, node_b))

    def run(k):
        refs = [a.f.remote() for _ in range(k)]
        ray.get(refs, timeout=timeout)
    run(min(n, 100))
    results.add("actor_calls_async_node_b", _rate_batches(run, n, min_seconds, 3, 20), "calls/s",
                note="%d calls per batch to an actor on node B" % n)
    ray.kill(a)


def bench_broadcast(results, node_ids, size, reps, timeout):
    ray.get([where.options(scheduling_strategy=_on(n)).remote() for n in node_ids], timeout=timeout)  # warm-up
    samples = []
    for _ in range(reps):
        ref = make_array.options(scheduling_strategy=_on(node_ids[0])).remote(size)
        ready, _ = ray.wait([ref], timeout=timeout)
        if not ready:
            raise TimeoutError("make_array(%d) on node A not ready in %s s" % (size, timeout))
        t0 = time.perf_counter()
        out = ray.get([read_size.options(scheduling_strategy=_on(n)).remote([ref], timeout) for n in node_ids],
                      timeout=timeout)
        samples.append(time.perf_counter() - t0)
        if sorted(o[1] for o in out) != sorted(node_ids) or any(o[0] != size for o in out):
            raise AssertionError("broadcast results %r (want %d bytes on each of %s)" % (out, size, node_ids))
        del ref, out
    results.add("broadcast_%s_%d_nodes" % (_size_name(size), len(node_ids)), samples, "s",
                higher_is_better=False,
                note="one object made on node A, one task per node gets it; wall time")


# ---------------------------------------------------------------- join with the CLI

def _cli(*args):
    if BACKEND == "lumos":
        return [sys.executable, "-m", "lumos.scripts.cli"] + list(args)
    return [os.path.join(os.path.dirname(sys.executable), "ray")] + list(args)


def _alive_ids():
    return {n["NodeID"] for n in ray.nodes() if n.get("Alive")}


def _stop(proc, timeout=30):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_join_cli(results, reps, store, timeout, root=None):
    tmp = tempfile.mkdtemp(prefix="mj", dir=root or "/tmp")
    env = dict(os.environ)
    if BACKEND == "lumos":
        env["LUMOS_AUTH_TOKEN"] = os.environ["LUMOS_AUTH_TOKEN"] = secrets.token_hex(32)
    port = _free_port()
    common = ["--num-cpus", "1", "--object-store-memory", str(store), "--block"]
    head_args = ["start", "--head", "--port", str(port), "--temp-dir", tmp] + common
    if BACKEND == "ray":
        head_args += ["--include-dashboard=false"]
    log = open(os.path.join(tmp, "cli_head.out"), "w")
    head = subprocess.Popen(_cli(*head_args), env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    joiners = []
    ok = False
    try:
        address = "127.0.0.1:%d" % port
        deadline = time.monotonic() + timeout
        while True:
            if head.poll() is not None:
                raise RuntimeError("head exited with %s: %s" % (head.returncode, _read(log.name)))
            try:
                if _port_open(port):
                    ray.init(address=address)
                    break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError("head at %s not up in %s s: %s" % (address, timeout, _read(log.name)))
            time.sleep(0.1)
        while not _alive_ids():
            time.sleep(0.05)
        samples = []
        for i in range(reps):
            before = _alive_ids()
            jlog = open(os.path.join(tmp, "cli_join%d.out" % i), "w")
            args = ["start", "--address", address, "--temp-dir", tmp] + common
            t0 = time.perf_counter()
            p = subprocess.Popen(_cli(*args), env=env, stdout=jlog, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            joiners.append(p)
            while not (_alive_ids() - before):
                if p.poll() is not None:
                    raise RuntimeError("`start --address` exited with %s: %s" % (p.returncode, _read(jlog.name)))
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError("joined node not listed in %s s: %s" % (timeout, _read(jlog.name)))
                time.sleep(0.005)
            samples.append(time.perf_counter() - t0)
            _stop(p)
            # wait until the GCS has the node as gone, so the next join is counted alone
            t1 = time.monotonic()
            while (_alive_ids() - before) and time.monotonic() - t1 < 60:
                time.sleep(0.1)
        results.add("join_cli", samples, "s", higher_is_better=False,
                    note="`%s start --address` spawned until listed alive (process start included)" % BACKEND)
        ok = True
    except BaseException as e:
        ok = False
        raise RuntimeError("%s (session dirs and CLI output kept under %s)" % (e, tmp)) from e
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for p in joiners:
            _stop(p)
        _stop(head)
        log.close()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)


def _read(path, limit=2000):
    try:
        with open(path) as f:
            return f.read()[-limit:]
    except OSError as e:
        return str(e)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- one backend

def _build_stamp():
    """Where the backend's native parts come from and when they were built (a
    run during a rebuild can mix old and new binaries)."""
    import glob
    import importlib
    raylet_mod = importlib.import_module(ray.__name__ + "._raylet")
    base = os.path.dirname(raylet_mod.__file__)
    files = [raylet_mod.__file__] + glob.glob(os.path.join(base, "core", "**", "raylet"), recursive=True)
    if not files:
        return base
    return "%s, native parts built %s" % (base, time.strftime(
        "%Y-%m-%d %H:%M:%S", time.gmtime(max(os.path.getmtime(f) for f in files))))


def run_backend(args):
    _import_backend(args.backend)
    quick = args.quick
    sizes = [4 * MiB, 8 * MiB] if quick else [GiB // 2, GiB]
    bcast = 8 * MiB if quick else int(args.broadcast_mib * MiB)
    store = 256 * MiB if quick else 3 * GiB
    reps = 1 if quick else args.reps
    n_tasks = 50 if quick else args.tasks
    min_seconds = 0 if quick else 2.0
    timeout = 60 if quick else args.get_timeout
    tcp_size = 32 * MiB if quick else GiB
    results = Results()
    faulthandler.dump_traceback_later(120 if quick else 1800, exit=True)  # a hang ends the run, with stacks
    print("backend %s %s (%s), python %s, %d CPUs" % (args.backend, getattr(ray, "__version__", "?"), _build_stamp(),
                                                     sys.version.split()[0], os.cpu_count()), flush=True)

    if "tcp" in args.only:
        _run(results, "tcp_loopback_stream", lambda: bench_tcp(results, tcp_size, 1 if quick else 3))

    cluster = None
    sessions = []

    def logs():
        if BACKEND != "lumos":
            return None
        return [os.path.join(d, "logs") for d in sessions]

    cluster_benches = {"transfer", "tasks", "actors", "broadcast", "join_add_node"}
    if cluster_benches & set(args.only):
        t0 = time.perf_counter()
        tmp = {"temp_dir": args.temp_dir} if args.temp_dir else {}
        head_args = dict(num_cpus=1, object_store_memory=store, include_dashboard=False, **tmp)
        cluster = Cluster(initialize_head=True, head_node_args=head_args)
        node_b = cluster.add_node(num_cpus=1, resources={"b": 1}, object_store_memory=store, **tmp)
        cluster.wait_for_nodes()
        cluster.connect()
        sessions[:] = [getattr(n, "session_dir", None) or getattr(n, "get_session_dir_path", lambda: "?")()
                       for n in (cluster.head_node, node_b)]
        print("2-node cluster up in %.2f s (head %s, node B %s)" % (
            time.perf_counter() - t0, _node_id(cluster.head_node)[:12], _node_id(node_b)[:12]), flush=True)
        _define_remotes()
        a_id, b_id = _node_id(cluster.head_node), _node_id(node_b)
        try:
            # first a tiny transfer: worker on B up, connections made
            if "transfer" in args.only or "broadcast" in args.only:
                _run(results, "warmup",
                     lambda: bench_transfer(Results(quiet=True), a_id, b_id, 1 * MiB, 1, timeout), logs)
            if "transfer" in args.only:
                for size in sizes:
                    _run(results, "transfer_get_%s" % _size_name(size),
                         lambda size=size: bench_transfer(results, a_id, b_id, size, reps, timeout), logs)
            if "tasks" in args.only:
                _run(results, "tasks_async_node_b",
                     lambda: bench_tasks_async(results, b_id, n_tasks, min_seconds, timeout), logs)
            if "actors" in args.only:
                _run(results, "actor_calls_async_node_b",
                     lambda: bench_actor_calls(results, b_id, n_tasks, min_seconds, timeout), logs)
            if "broadcast" in args.only or "join_add_node" in args.only:
                extra = []

                def add_two():
                    joins = []
                    for _ in range(2):
                        t1 = time.perf_counter()
                        node = cluster.add_node(num_cpus=1, object_store_memory=store, **tmp)
                        joins.append(time.perf_counter() - t1)
                        extra.append(node)
                        sessions.append(getattr(node, "session_dir", None) or "?")
                    cluster.wait_for_nodes()
                    results.add("join_add_node", joins, "s", higher_is_better=False,
                                note="cluster.add_node() until listed")
                _run(results, "join_add_node", add_two, logs)
                if "broadcast" in args.only and len(extra) == 2:
                    ids = [a_id, b_id] + [_node_id(n) for n in extra]
                    _run(results, "broadcast_%s_4_nodes" % _size_name(bcast),
                         lambda: bench_broadcast(results, ids, bcast, reps, timeout), logs)
        finally:
            if ray.is_initialized():
                ray.shutdown()  # Ray's Cluster.shutdown() refuses while a driver is attached
            cluster.shutdown()

    if "join_cli" in args.only:
        join_store = store if quick else store // 4
        _run(results, "join_cli", lambda: bench_join_cli(results, 1 if quick else args.reps, join_store,
                                                         30 if quick else 60, args.temp_dir))

    if args.json:
        print("JSON " + json.dumps({"backend": args.backend, "version": getattr(ray, "__version__", None),
                                    "quick": quick, "results": results.rows}), flush=True)
    return 1 if any(r.get("error") for r in results.rows if r["name"] != "warmup") else 0


# ---------------------------------------------------------------- side by side

def compare(args):
    """Runs the script once per backend per round (lumos first), prints a table."""
    runs = []
    for rnd in range(args.rounds):
        for backend, python in (("lumos", args.lumos_python), ("ray", args.ray_python)):
            cmd = [python, os.path.abspath(__file__), "--backend", backend, "--json", "--only", ",".join(args.only)]
            cmd += ["--reps", str(args.reps), "--tasks", str(args.tasks), "--get-timeout", str(args.get_timeout)]
            cmd += ["--quick"] if args.quick else []
            print("== round %d: %s" % (rnd + 1, backend), flush=True)
            summary = None
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            deadline = time.monotonic() + args.timeout
            for line in proc.stdout:  # streamed, so a slow or stuck run shows where it is
                if line.startswith("JSON "):
                    summary = json.loads(line[5:])
                else:
                    print("   " + line.rstrip("\n"), flush=True)
                if time.monotonic() > deadline:
                    print("   (run exceeded --timeout %d s; stopped)" % args.timeout, flush=True)
                    proc.terminate()
            proc.wait()
            runs.append((rnd + 1, backend, summary))
    names = []
    for _, _, s in runs:  # noqa: B007
        for r in (s or {}).get("results", []):
            if r["name"] not in names and r["name"] != "warmup":
                names.append(r["name"])
    def value(rnd, backend, name):
        for r_, b, s in runs:
            if r_ == rnd and b == backend:
                for r in (s or {}).get("results", []):
                    if r["name"] == name:
                        return r
        return None

    print("\nratio: how many times better lumos is (Ray/lumos for times). For GB/s rows, "
          "'of tcp' is the value over the raw TCP stream measured in the same run.")
    print("%-28s %-6s %10s %10s %8s  %-8s %s" % ("benchmark", "round", "lumos", "ray", "ratio", "unit", "of tcp"))
    for name in names:
        for rnd in range(1, args.rounds + 1):
            lr, rr = value(rnd, "lumos", name), value(rnd, "ray", name)
            lv = lr["value"] if lr else None
            rv = rr["value"] if rr else None
            ref = lr or rr or {}
            unit, hib = ref.get("unit", ""), ref.get("higher_is_better", True)
            ratio = "-"
            if lv and rv and name != "tcp_loopback_stream":
                ratio = "%.2fx" % ((lv / rv) if hib else (rv / lv))
            of_tcp = ""
            if unit == "GB/s" and name != "tcp_loopback_stream":
                parts = []
                for backend, v in (("lumos", lv), ("ray", rv)):
                    tcp = value(rnd, backend, "tcp_loopback_stream")
                    if v and tcp and tcp.get("value"):
                        parts.append("%s %.0f%%" % (backend, 100 * v / tcp["value"]))
                of_tcp = ", ".join(parts)
            print("%-28s %-6d %10s %10s %8s  %-8s %s" % (name, rnd, _fmt(lv) if lv is not None else "FAIL/-",
                                                         _fmt(rv) if rv is not None else "FAIL/-", ratio, unit, of_tcp))
    return 0


ALL = ["tcp", "transfer", "tasks", "actors", "join_add_node", "broadcast", "join_cli"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["lumos", "ray"], default="lumos")
    p.add_argument("--json", action="store_true", help="also print one line 'JSON {...}' with every sample")
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repetition (a smoke test)")
    p.add_argument("--only", default=",".join(ALL), help="comma-separated subset of: " + ",".join(ALL))
    p.add_argument("--reps", type=int, default=3, help="repetitions of each transfer and join")
    p.add_argument("--broadcast-mib", type=float, default=1024, help="size of the broadcast object (MiB)")
    p.add_argument("--tasks", type=int, default=1000, help="tasks/calls per batch")
    p.add_argument("--get-timeout", type=float, default=120, help="timeout of every get (a hang becomes an error)")
    p.add_argument("--temp-dir", help="root of the clusters' session dirs (default: the backend's)")
    p.add_argument("--compare", action="store_true", help="run both backends, alternating, and tabulate")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ray-python", default="python3")
    p.add_argument("--lumos-python", default=sys.executable)
    p.add_argument("--timeout", type=int, default=1200, help="per backend run in --compare")
    args = p.parse_args(argv)
    args.only = [x for x in args.only.split(",") if x]
    bad = set(args.only) - set(ALL)
    if bad:
        p.error("unknown benchmark(s): %s" % ", ".join(sorted(bad)))
    if args.compare:
        return compare(args)
    return run_backend(args)


if __name__ == "__main__":
    sys.exit(main())
