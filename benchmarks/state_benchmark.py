"""State API over 100,000 finished tasks and 10,000 actors: how long each
call answers (issue 13's budget: < 200 ms). Runs under lumos or, with
--ray, under Ray 2.60 (/work/ray-venv/bin/python benchmarks/state_benchmark.py --ray)
so the two can be compared side by side.

The actors are real registered actors that stay pending (they ask for a
resource no node has), so 10,000 of them need no processes. Each call is
timed --repeat times; the median and the best are printed in ms.
"""
import argparse
import statistics
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ray", action="store_true", help="benchmark Ray instead of lumos")
    p.add_argument("--tasks", type=int, default=100_000)
    p.add_argument("--actors", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    if args.ray:
        import ray
        from ray.util import state
        ctx = ray.init(num_cpus=2, include_dashboard=True, logging_level="ERROR")
        # Several Ray clusters may run on this host: name this one's dashboard.
        where = {"address": "http://" + ctx.dashboard_url}
    else:
        import lumos as ray
        from lumos.util import state
        ray.init(num_cpus=2)
        where = {}

    @ray.remote
    def noop(i):
        return i

    @ray.remote
    class Idle:
        def ping(self):
            return 1

    t0 = time.time()
    for start in range(0, args.tasks, 10_000):
        ray.get([noop.remote(i) for i in range(start, min(args.tasks, start + 10_000))])
    print("ran %d tasks in %.1f s" % (args.tasks, time.time() - t0))
    t0 = time.time()
    actors = [Idle.options(resources={"state_benchmark_none": 1}).remote() for _ in range(args.actors)]
    print("registered %d pending actors in %.1f s" % (len(actors), time.time() - t0))
    # Ray raises when its answer was truncated unless told not to.
    lenient = dict(where, **({"raise_on_missing_output": False} if args.ray else {}))
    # Let the task events reach the GCS.
    deadline = time.time() + 120
    while time.time() < deadline:
        s = state.summarize_tasks(timeout=60, **lenient)
        done = sum(v["state_counts"].get("FINISHED", 0) for v in s["cluster"]["summary"].values())
        if done >= min(args.tasks, 100_000) * 0.99:
            break
        time.sleep(1)
    calls = [
        ("summarize_tasks()", lambda: state.summarize_tasks(timeout=60, **lenient)),
        ("list_tasks(state=RUNNING)",
         lambda: state.list_tasks(filters=[("state", "=", "RUNNING")], timeout=60, **lenient)),
        ("list_tasks(limit=100)", lambda: state.list_tasks(limit=100, timeout=60, **lenient)),
        ("list_tasks(name=noop, limit=100)",
         lambda: state.list_tasks(filters=[("name", "=", "noop")], limit=100, timeout=60, **lenient)),
        ("list_actors(limit=100)", lambda: state.list_actors(limit=100, timeout=60, **lenient)),
        ("list_actors(state=ALIVE)",
         lambda: state.list_actors(filters=[("state", "=", "ALIVE")], timeout=60, **lenient)),
        ("summarize_actors()", lambda: state.summarize_actors(timeout=60, **lenient)),
    ]
    import warnings
    warnings.simplefilter("ignore")
    print("%-36s %10s %10s" % ("call (%s)" % ("ray" if args.ray else "lumos"), "median ms", "best ms"))
    for name, fn in calls:
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        print("%-36s %10.1f %10.1f" % (name, statistics.median(times), min(times)))
    ray.shutdown()


if __name__ == "__main__":
    main()
