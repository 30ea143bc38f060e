"""`lumos microbenchmark`: the workloads and line names of `ray microbenchmark`
(for what lumos has built so far), so the two can be compared line by line."""
import os
import shutil
import tempfile
import time

import numpy as np

import lumos as ray

TRIALS = int(os.environ.get("LUMOS_BENCH_TRIALS", "3"))
SECONDS = float(os.environ.get("LUMOS_BENCH_SECONDS", "2"))


def timeit(name, fn, multiplier=1):
    # Warm up for a fraction of the trial time, then TRIALS timed windows.
    start = time.perf_counter()
    while time.perf_counter() - start < min(0.5, SECONDS / 4):
        fn()
    stats = []
    for _ in range(TRIALS):
        start = time.perf_counter()
        count = 0
        while time.perf_counter() - start < SECONDS:
            fn()
            count += 1
        stats.append(multiplier * count / (time.perf_counter() - start))
    mean = float(np.mean(stats))
    std = float(np.std(stats))
    print("%s per second %.2f +- %.2f" % (name, mean, std), flush=True)
    return [(name, mean, std)]


@ray.remote
def small_value():
    return b"ok"


@ray.remote
def do_put_small():
    for _ in range(100):
        ray.put(0)


@ray.remote
def do_put():
    for _ in range(10):
        ray.put(np.zeros(10 * 1024 * 1024, dtype=np.int64))


@ray.remote
def create_object_containing_ref():
    return [ray.put(1) for _ in range(10000)]


@ray.remote
def stream_small(n):
    for i in range(n):
        yield i


@ray.remote(retry_exceptions=True)
def fail_first_attempt(marker):
    # The first attempt creates the marker and fails; the retry finds it.
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return b"ok"
    raise RuntimeError("first attempt fails on purpose")


def retry_storm(n=1000):
    """n tasks that each fail once with a retryable exception: time to all results."""
    d = tempfile.mkdtemp(prefix="lumos-retry-storm-")
    try:
        ray.get([fail_first_attempt.remote(os.path.join(d, str(i))) for i in range(n)])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def streaming_items(n=10000):
    """Iterates a streaming generator of n small items (refs only)."""
    count = 0
    for _ in stream_small.remote(n):
        count += 1
    assert count == n


@ray.remote
class Actor:
    def small_value(self):
        return b"ok"

    def small_value_arg(self, x):
        return b"ok"

    def small_value_batch(self, n):
        ray.get([small_value.remote() for _ in range(n)])


@ray.remote
class AsyncActor:
    async def small_value(self):
        return b"ok"

    async def small_value_with_arg(self, i):
        return b"ok"


@ray.remote
class Client:
    def __init__(self, servers):
        if not isinstance(servers, list):
            servers = [servers]
        self.servers = servers

    def small_value_batch(self, n):
        results = []
        for s in self.servers:
            results.extend([s.small_value.remote() for _ in range(n)])
        ray.get(results)

    def small_value_batch_arg(self, n):
        x = ray.put(0)
        results = []
        for s in self.servers:
            results.extend([s.small_value_arg.remote(x) for _ in range(n)])
        ray.get(results)


def actor_benchmarks(run):
    n_cpu = max(1, (os.cpu_count() or 2) // 2)
    a = Actor.remote()
    run("1:1 actor calls sync", lambda: ray.get(a.small_value.remote()))
    run("1:1 actor calls async", lambda: ray.get([a.small_value.remote() for _ in range(1000)]), 1000)
    c = Actor.options(max_concurrency=16).remote()
    run("1:1 actor calls concurrent", lambda: ray.get([c.small_value.remote() for _ in range(1000)]), 1000)

    n = 1000
    actors = [Actor.remote() for _ in range(n_cpu)]
    client = Client.remote(actors)
    run("1:n actor calls async", lambda: ray.get(client.small_value_batch.remote(n)), n * len(actors))

    m = 4
    servers = [Actor.remote() for _ in range(n_cpu)]

    @ray.remote
    def work(actors):
        ray.get([actors[i % n_cpu].small_value.remote() for i in range(n)])
    run("n:n actor calls async", lambda: ray.get([work.remote(servers) for _ in range(m)]), m * n)

    arg_servers = [Actor.remote() for _ in range(n_cpu)]
    clients = [Client.remote(s) for s in arg_servers]
    run("n:n actor calls with arg async",
        lambda: ray.get([cl.small_value_batch_arg.remote(n) for cl in clients]), n * len(clients))

    aa = AsyncActor.remote()
    run("1:1 async-actor calls sync", lambda: ray.get(aa.small_value.remote()))
    run("1:1 async-actor calls async", lambda: ray.get([aa.small_value.remote() for _ in range(1000)]), 1000)
    run("1:1 async-actor calls with args async",
        lambda: ray.get([aa.small_value_with_arg.remote(i) for i in range(1000)]), 1000)
    async_actors = [AsyncActor.remote() for _ in range(n_cpu)]
    async_client = Client.remote(async_actors)
    run("1:n async-actor calls async", lambda: ray.get(async_client.small_value_batch.remote(n)),
        n * len(async_actors))
    async_servers = [AsyncActor.remote() for _ in range(n_cpu)]
    run("n:n async-actor calls async", lambda: ray.get([work.remote(async_servers) for _ in range(m)]), m * n)

    task_actors = [Actor.remote() for _ in range(4)]
    run("multi client tasks async",
        lambda: ray.get([ta.small_value_batch.remote(n) for ta in task_actors]), n * len(task_actors))
    # A --filter may have skipped every line above while their actors' workers
    # still start (~20 interpreters): let them finish before the next line is
    # measured, as in a full run where the lines above used them.
    ray.get([x.small_value.remote() for x in [a, c, aa, *actors, *servers, *arg_servers, *async_actors,
                                              *async_servers, *task_actors]]
            + [cl.small_value_batch.remote(0) for cl in [client, async_client, *clients]])


def placement_group_create_removal(num_pgs):
    # Ray's workload, with bundles of 0.001 CPU instead of a custom resource.
    pgs = [ray.util.placement_group(bundles=[{"CPU": 0.001}]) for _ in range(num_pgs)]
    for pg in pgs:
        pg.wait(timeout_seconds=30)
    for pg in pgs:
        ray.util.remove_placement_group(pg)


def main(filter_pattern=None):
    ray.init()
    results = []

    def run(name, fn, multiplier=1):
        if filter_pattern and filter_pattern not in name:
            return
        results.extend(timeit(name, fn, multiplier))

    value = ray.put(0)
    run("single client get calls (Plasma Store)", lambda: ray.get(value))
    run("single client put calls (Plasma Store)", lambda: ray.put(0))
    run("multi client put calls (Plasma Store)",
        lambda: ray.get([do_put_small.remote() for _ in range(10)]), 1000)
    arr = np.zeros(100 * 1024 * 1024, dtype=np.int64)
    run("single client put gigabytes", lambda: ray.put(arr), 8 * 0.1)
    # The yardstick for the line above (not a Ray line): a put copies the
    # array once, so it is bound by memory bandwidth; a warm copy of the same
    # array into memory already touched, timed the same way, says what that is.
    copy_target = np.empty_like(arr)
    copy_target[:] = arr
    run("memcpy gigabytes (yardstick for put gigabytes)", lambda: np.copyto(copy_target, arr), 8 * 0.1)
    del copy_target

    def small_value_batch():
        submitted = [small_value.remote() for _ in range(1000)]
        ray.get(submitted)
        return 0
    run("single client tasks and get batch", small_value_batch)
    run("multi client put gigabytes", lambda: ray.get([do_put.remote() for _ in range(10)]), 10 * 8 * 0.1)

    obj_containing_ref = create_object_containing_ref.remote()
    run("single client get object containing 10k refs", lambda: ray.get(obj_containing_ref))

    def wait_multiple_refs():
        not_ready = [small_value.remote() for _ in range(1000)]
        for _ in range(1000):
            _ready, not_ready = ray.wait(not_ready)
    run("single client wait 1k refs", wait_multiple_refs)
    run("single client tasks sync", lambda: ray.get(small_value.remote()))
    run("single client tasks async", lambda: ray.get([small_value.remote() for _ in range(1000)]), 1000)
    run("streaming generator 10k small items", streaming_items, 10000)
    run("1000-task retry storm", retry_storm, 1000)
    actor_benchmarks(run)
    run("placement group create/removal", lambda: placement_group_create_removal(100), 100)
    ray.shutdown()
    # Ray's client lines, through lumos:// against a head of their own.
    from lumos.util.client import benchmark as client_benchmark
    results.extend(client_benchmark.main(timeit, filter_pattern))
    return results


if __name__ == "__main__":
    main()
