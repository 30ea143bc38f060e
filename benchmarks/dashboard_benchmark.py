"""The dashboard's budgets (issue 13):

  rss       the dashboard process's RSS idle (after --idle-s seconds of
            sampling) and after every endpoint was read; < 60 MB.
  ray-rss   the same for Ray 2.60's dashboard (run with /work/ray-venv/bin/python):
            `ray start --head` in a private temp dir, then its processes are
            ended by their PIDs (never `ray stop`, which ends every Ray on the host).
  latency   every page and API over --tasks finished tasks and --actors
            registered actors (pending: they ask for a resource no node has,
            so they need no processes); cold (cache expired) and warm; < 200 ms.
  polling   `single client tasks async` (lumos microbenchmark's line) with the
            dashboard idle and while another process reads every endpoint once
            a second, interleaved rounds; <= 2 % apart.

    python benchmarks/dashboard_benchmark.py rss latency polling
    /work/ray-venv/bin/python benchmarks/dashboard_benchmark.py ray-rss
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ENDPOINTS = ["/", "/tasks", "/api/overview", "/api/nodes", "/api/cluster_jobs", "/api/actors", "/api/tasks",
             "/api/tasks?state=RUNNING", "/api/tasks?state=FAILED", "/api/tasks/summary", "/api/placement_groups",
             "/api/objects", "/api/task_stream", "/api/timeseries", "/api/app_metrics", "/metrics", "/api/logs"]

POLLER = r"""
import sys, time, urllib.request
base, token, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
while True:
    t = time.monotonic()
    for p in paths:
        req = urllib.request.Request(base + p, headers={"Authorization": "Bearer " + token})
        urllib.request.urlopen(req, timeout=30).read()
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
"""


def rss_mb(pid):
    import psutil
    return psutil.Process(pid).memory_info().rss / 2**20


def fetch(base, token, path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    return (time.perf_counter() - t) * 1000, len(body)


def start_lumos(tmp, num_cpus=2):
    import lumos
    from lumos._private.node import free_port
    ctx = lumos.init(num_cpus=num_cpus, include_dashboard=True, dashboard_port=free_port(), _temp_dir=tmp)
    with open(os.path.join(ctx.session_dir, "auth_token")) as f:
        token = f.read().strip()
    return "http://" + ctx.dashboard_url, token, lumos._private.worker._state.node.procs["dashboard"].pid


def bench_rss(args):
    import lumos
    tmp = tempfile.mkdtemp(prefix="ldb", dir="/tmp")
    try:
        base, token, pid = start_lumos(tmp)
        fetch(base, token, "/api/overview")
        time.sleep(args.idle_s)
        idle = rss_mb(pid)
        for p in ENDPOINTS:
            fetch(base, token, p)
        used = rss_mb(pid)
        print("lumos dashboard RSS: idle %.1f MB (PSS %.1f MB) after %d s, after reading every endpoint %.1f MB"
              % (idle, _pss_of(pid), args.idle_s, used))
        lumos.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _procs_naming(text):
    """(pid, argv) of live processes whose command line names `text` (via /proc:
    Ray's venv has no psutil)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if any(text in a for a in argv) and int(entry) != os.getpid():
            out.append((int(entry), argv))
    return out


def _rss_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(f.read().split("VmRSS:")[1].split()[0]) / 1024
    except (OSError, IndexError):
        return 0.0


def _pss_of(pid):
    """Proportional set size (shared pages divided among their users), MB."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _ray_processes(tmp):
    """The processes of the Ray session under `tmp`: those naming it, and their descendants."""
    found = dict(_procs_naming(tmp))
    everyone = dict(_procs_naming(""))
    grew = True
    while grew:
        grew = False
        for pid, argv in everyone.items():
            if pid not in found and _ppid(pid) in found:
                found[pid] = argv
                grew = True
    return sorted(found.items())


def bench_ray_rss(args):
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    tmp = tempfile.mkdtemp(prefix="rdb", dir="/tmp")
    r = subprocess.run([ray_bin, "start", "--head", "--temp-dir", tmp, "--num-cpus=2", "--port=0",
                        "--dashboard-port=0", "--include-dashboard=true"], capture_output=True, text=True, timeout=180)
    try:
        if r.returncode != 0:
            sys.exit("ray start failed:\n" + r.stderr)
        time.sleep(args.idle_s)
        # Ray's processes name the session dir (under tmp) in their arguments.
        mine = _ray_processes(tmp)
        head = [p for p, argv in mine if any(a.endswith("dashboard/dashboard.py") for a in argv)]
        tree = list(head)  # dashboard.py, its forkserver and the module processes forked from it
        for pid, _ in mine:
            if pid not in tree and _ppid(pid) in tree:
                tree.append(pid)
        for pid, _ in mine:
            if pid not in tree and _ppid(pid) in tree:
                tree.append(pid)
        agents = [p for p, argv in mine if argv and argv[0] == "ray::DashboardAgent"]
        for pid, argv in mine:
            print("  %7d %7.1f MB rss %7.1f MB pss  %s" % (pid, _rss_of(pid), _pss_of(pid), " ".join(argv)[:90]))
        print("ray dashboard: dashboard.py RSS %.1f MB; with its %d module processes RSS %.1f MB, PSS %.1f MB; "
              "the node's DashboardAgent RSS %.1f MB (all %d Ray processes PSS %.1f MB)"
              % (sum(map(_rss_of, head)), len(tree) - len(head), sum(map(_rss_of, tree)), sum(map(_pss_of, tree)),
                 sum(map(_rss_of, agents)), len(mine), sum(_pss_of(p) for p, _ in mine)))
    finally:
        # End only the processes of this Ray session, by PID (never `ray stop`).
        pids = [p for p, _ in _ray_processes(tmp)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while time.time() < deadline and any(os.path.exists("/proc/%d" % p) and _rss_of(p) for p in pids):
            time.sleep(0.2)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def bench_latency(args):
    import lumos
    tmp = tempfile.mkdtemp(prefix="ldb", dir="/tmp")
    try:
        base, token, pid = start_lumos(tmp)

        @lumos.remote
        def noop(i):
            return i

        @lumos.remote
        class Idle:
            def ping(self):
                return 1

        t0 = time.time()
        for start in range(0, args.tasks, 10_000):
            lumos.get([noop.remote(i) for i in range(start, min(args.tasks, start + 10_000))])
        print("ran %d tasks in %.1f s" % (args.tasks, time.time() - t0))
        actors = [Idle.options(resources={"dashboard_benchmark_none": 1}).remote() for _ in range(args.actors)]
        deadline = time.time() + 120
        while time.time() < deadline:
            o = json.loads(urllib.request.urlopen(urllib.request.Request(
                base + "/api/overview", headers={"Authorization": "Bearer " + token}), timeout=60).read())
            if o["tasks"].get("FINISHED", 0) >= args.tasks and sum(o["actors"].values()) >= len(actors):
                break
            time.sleep(1)
        # first: the view's first computation (the request waits for it); polled: a
        # page polling it (each read past the 1 s period, answered from the snapshot
        # while a fresh one is made).
        print("%-28s %10s %10s %10s %10s" % ("endpoint", "first ms", "polled ms", "max ms", "bytes"), flush=True)
        worst = 0.0
        for p in ENDPOINTS:
            first, size = fetch(base, token, p)
            polled = []
            for _ in range(args.repeat):
                time.sleep(1.1)
                polled.append(fetch(base, token, p)[0])
            worst = max(worst, statistics.median(polled))
            print("%-28s %10.1f %10.1f %10.1f %10d" % (p, first, statistics.median(polled), max(polled), size),
                  flush=True)
        print("slowest median (polled): %.1f ms; dashboard RSS now %.1f MB" % (worst, rss_mb(pid)), flush=True)
        lumos.shutdown()
        # The 10k handles outlive the cluster; their release would wait on the gone GCS.
        os._exit(0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_polling(args):
    import lumos
    from lumos._private import ray_perf

    @lumos.remote
    def small_value():
        return b"ok"

    def line():
        return ray_perf.timeit("single client tasks async",
                               lambda: lumos.get([small_value.remote() for _ in range(1000)]), 1000)[0][1]

    def cpu_s(pid):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def measured(pids):
        """The line's rate, and the CPU (in cores) each of `pids` used meanwhile."""
        before, t0 = [cpu_s(p) for p in pids], time.monotonic()
        rate = line()
        wall = time.monotonic() - t0
        return rate, [(cpu_s(p) - b) / wall for p, b in zip(pids, before)]

    tmp = tempfile.mkdtemp(prefix="ldb", dir="/tmp")
    try:
        base, token, dash_pid = start_lumos(tmp)
        gcs_pid = lumos._private.worker._state.node.procs["gcs_server"].pid
        pids = [dash_pid, gcs_pid]
        idle, polled, idle_cpu, polled_cpu = [], [], [], []
        for _ in range(args.rounds):
            rate, cpu = measured(pids)
            idle.append(rate)
            idle_cpu.append(cpu)
            poller = subprocess.Popen([sys.executable, "-c", POLLER, base, token] + ENDPOINTS)
            try:
                time.sleep(1.0)
                rate, cpu = measured(pids + [poller.pid])
                polled.append(rate)
                polled_cpu.append(cpu)
            finally:
                poller.kill()
                poller.wait()
        a, b = statistics.mean(idle), statistics.mean(polled)
        print("single client tasks async: dashboard idle %.0f/s, every endpoint polled once a second %.0f/s "
              "(%+.1f %%)" % (a, b, 100 * (b - a) / a))
        mean = lambda rows, i: statistics.mean(r[i] for r in rows)  # noqa: E731
        print("CPU meanwhile (cores): dashboard %.3f idle, %.3f polled; gcs_server %.3f idle, %.3f polled; "
              "the polling client %.3f" % (mean(idle_cpu, 0), mean(polled_cpu, 0), mean(idle_cpu, 1),
                                           mean(polled_cpu, 1), mean(polled_cpu, 2)))
        lumos.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", nargs="+", choices=["rss", "ray-rss", "latency", "polling"])
    p.add_argument("--idle-s", type=int, default=15)
    p.add_argument("--tasks", type=int, default=100_000)
    p.add_argument("--actors", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    for what in args.what:
        {"rss": bench_rss, "ray-rss": bench_ray_rss, "latency": bench_latency, "polling": bench_polling}[what](args)


if __name__ == "__main__":
    main()
