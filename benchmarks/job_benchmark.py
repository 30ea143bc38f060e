"""Job submission latency, lumos and Ray side by side (same API, same script).

    python benchmarks/job_benchmark.py                      # lumos: starts its own head
    python benchmarks/job_benchmark.py --address http://H:P # lumos: an existing head
    /work/ray-venv/bin/python benchmarks/job_benchmark.py --system ray --address http://127.0.0.1:8265

Per job, timed from the submit_job() call in this process:
  submit->RUNNING      `sleep 30` until get_job_status() says RUNNING (polled every 5 ms)
  ..., 1 entry CPU     the same with entrypoint_num_cpus=1 (lumos: run inside an actor holding it)
  submit->SUCCEEDED    `true` until it says SUCCEEDED
  driver job           a Python entrypoint that connects (init) and runs one task, until SUCCEEDED
Prints median and p90 of --n runs each (the first of each kind is a warm-up, not counted).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

POLL_S = 0.005


def _wait(client, sid, target, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        status = str(client.get_job_status(sid)).split(".")[-1]
        if status == target:
            return
        if status in ("FAILED", "STOPPED", "SUCCEEDED") or time.monotonic() > deadline:
            raise RuntimeError("job %s is %s while waiting for %s:\n%s" % (sid, status, target,
                                                                           client.get_job_logs(sid)))
        time.sleep(POLL_S)


def _timed(client, entrypoint, target, stop_after=False, **options):
    t0 = time.perf_counter()
    sid = client.submit_job(entrypoint=entrypoint, **options)
    _wait(client, sid, target)
    dt = time.perf_counter() - t0
    if stop_after:
        client.stop_job(sid)
        _wait(client, sid, "STOPPED")
    return dt


def run(client, system, n):
    mod = "ray" if system == "ray" else "lumos"
    driver = "%s -c %s" % (sys.executable if system == "lumos" else "/work/ray-venv/bin/python", json.dumps(
        "import %s as r; r.init(); print(r.get(r.remote(lambda: 1).remote()))" % mod))
    cases = (("submit->RUNNING", "sleep 30", "RUNNING", True, {}),
             ("submit->RUNNING, 1 entry CPU", "sleep 30", "RUNNING", True, {"entrypoint_num_cpus": 1}),
             ("submit->SUCCEEDED (true)", "true", "SUCCEEDED", False, {}),
             ("driver job (init + 1 task)", driver, "SUCCEEDED", False, {}))
    results = {}
    for name, entrypoint, target, stop, options in cases:
        _timed(client, entrypoint, target, stop, **options)  # warm-up
        times = sorted(_timed(client, entrypoint, target, stop, **options) for _ in range(n))
        p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
        results[name] = (statistics.median(times), p90)
        print("%-8s %-30s median %7.3f s   p90 %7.3f s   (n=%d)" % (system, name, results[name][0], p90, n),
              flush=True)
    return results


def _lumos_head():
    """(address, temp dir) of a head started for this run."""
    tmp = tempfile.mkdtemp(prefix="ljb", dir="/tmp")
    env = dict(os.environ, LUMOS_TMPDIR=tmp)
    r = subprocess.run([sys.executable, "-m", "lumos.scripts.cli", "start", "--head", "--num-cpus", "2",
                        "--temp-dir", tmp, "--dashboard-port", "0"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit("lumos start failed:\n%s%s" % (r.stdout, r.stderr))
    with open(os.path.join(tmp, "lumos_current_cluster")) as f:
        session = json.load(f)["session_dir"]
    with open(os.path.join(session, "dashboard_url")) as f:
        return f.read().strip(), tmp


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--system", choices=("lumos", "ray"), default="lumos")
    p.add_argument("--address", default=None, help="the dashboard's http address (lumos: default a new head)")
    p.add_argument("--n", type=int, default=10)
    args = p.parse_args()
    tmp = None
    if args.system == "ray":
        from ray.job_submission import JobSubmissionClient
        client = JobSubmissionClient(args.address)
    else:
        from lumos.job_submission import JobSubmissionClient
        address = args.address
        if address is None:
            address, tmp = _lumos_head()
        client = JobSubmissionClient(address, _temp_dir=tmp)
    try:
        run(client, args.system, args.n)
    finally:
        if tmp:
            import shutil
            subprocess.run([sys.executable, "-m", "lumos.scripts.cli", "stop", "--temp-dir", tmp],
                           capture_output=True, env=dict(os.environ, LUMOS_TMPDIR=tmp))
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
