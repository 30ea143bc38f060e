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
        print("lumos dashboard RSS: idle %.1f MB (after %d s), after reading every endpoint %.1f MB"
              % (idle, args.idle_s, used))
        lumos.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_ray_rss(args):
    import psutil
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    tmp = tempfile.mkdtemp(prefix="rdb", dir="/tmp")
    r = subprocess.run([ray_bin, "start", "--head", "--temp-dir", tmp, "--num-cpus=2", "--dashboard-port=0",
                        "--port=0", "--include-dashboard=true"], capture_output=True, text=True, timeout=120)
    try:
        if r.returncode != 0:
            sys.exit("ray start failed:\n" + r.stderr)
        time.sleep(args.idle_s)
        mine = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            try:
                if any(tmp in a for a in (p.info["cmdline"] or [])):
                    mine.append(p)
            except psutil.Error:
                pass
        head = [p for p in mine if any(a.endswith("dashboard/dashboard.py") for a in p.cmdline())]
        agents = [p for p in mine if any("dashboard/agent.py" in a for a in p.cmdline())]
        total = sum(p.memory_info().rss for p in mine) / 2**20
        print("ray dashboard RSS: dashboard.py %.1f MB, its per-node agent %.1f MB (all %d Ray processes %.1f MB)"
              % (sum(p.memory_info().rss for p in head) / 2**20, sum(p.memory_info().rss for p in agents) / 2**20,
                 len(mine), total))
    finally:
        # End only the processes of this Ray session, by PID.
        procs = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            try:
                if any(tmp in a for a in (p.info["cmdline"] or [])):
                    procs.append(p)
            except psutil.Error:
                pass
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(procs, timeout=10)
        for p in alive:
            try:
                p.kill()
            except psutil.Error:
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
        print("%-28s %10s %10s %10s" % ("endpoint", "cold ms", "warm ms", "bytes"))
        worst = 0.0
        for p in ENDPOINTS:
            cold = []
            for _ in range(args.repeat):
                time.sleep(1.1)  # past the 1 s cache
                cold.append(fetch(base, token, p)[0])
            warm, size = fetch(base, token, p)
            worst = max(worst, statistics.median(cold))
            print("%-28s %10.1f %10.1f %10d" % (p, statistics.median(cold), warm, size))
        print("slowest median (cold): %.1f ms; dashboard RSS now %.1f MB" % (worst, rss_mb(pid)))
        del actors
        lumos.shutdown()
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

    tmp = tempfile.mkdtemp(prefix="ldb", dir="/tmp")
    try:
        base, token, _ = start_lumos(tmp)
        idle, polled = [], []
        for _ in range(args.rounds):
            idle.append(line())
            poller = subprocess.Popen([sys.executable, "-c", POLLER, base, token] + ENDPOINTS)
            try:
                time.sleep(1.0)
                polled.append(line())
            finally:
                poller.kill()
                poller.wait()
        a, b = statistics.mean(idle), statistics.mean(polled)
        print("single client tasks async: dashboard idle %.0f/s, every endpoint polled once a second %.0f/s "
              "(%+.1f %%)" % (a, b, 100 * (b - a) / a))
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
