"""The client lines of `lumos microbenchmark` (Ray's ray_client_microbenchmark
workloads and names): a head with a client server is started for them, this
process connects to it through lumos:// and times each workload.

Unlike Ray's (client and server threads in one process), the client here is
this process and the server side runs in the head's per-client driver
process, as in real use.
"""
import numpy as np

import lumos as ray


NAMES = ("client: get calls", "client: tasks and get batch", "client: put calls", "client: tasks and put batch",
         "client: put gigabytes", "client: 1:1 actor calls sync", "client: 1:1 actor calls async",
         "client: 1:1 actor calls concurrent")


def _workloads(run):
    value = ray.put(0)
    run("client: get calls", lambda: ray.get(value))

    @ray.remote
    def small_value():
        return b"ok"

    def small_value_batch():
        ray.get([small_value.remote() for _ in range(1000)])
    run("client: tasks and get batch", small_value_batch)
    run("client: put calls", lambda: ray.put(0))

    @ray.remote
    def do_put_small():
        for _ in range(100):
            ray.put(0)
    run("client: tasks and put batch", lambda: ray.get([do_put_small.remote() for _ in range(10)]), 1000)
    arr = np.zeros(100 * 1024 * 1024, dtype=np.int64)
    run("client: put gigabytes", lambda: ray.put(arr), 8 * 0.1)
    del arr

    @ray.remote(num_cpus=0)
    class Actor:
        def small_value(self):
            return b"ok"

    a = Actor.remote()
    run("client: 1:1 actor calls sync", lambda: ray.get(a.small_value.remote()))
    run("client: 1:1 actor calls async", lambda: ray.get([a.small_value.remote() for _ in range(1000)]), 1000)
    c = Actor.options(max_concurrency=16).remote()
    run("client: 1:1 actor calls concurrent", lambda: ray.get([c.small_value.remote() for _ in range(1000)]), 1000)


def main(timeit, filter_pattern=None, address=None, token=None):
    """Runs the client lines, each timed by `timeit` (ray_perf's); with
    `address` ("lumos://HOST:PORT") against that cluster, else against a head
    started (and stopped) here."""
    results = []

    def run(name, fn, multiplier=1):
        if filter_pattern and filter_pattern not in name:
            return
        results.extend(timeit(name, fn, multiplier))
    if filter_pattern and not any(filter_pattern in n for n in NAMES):
        return results   # nothing to run: start no head
    node = None
    if address is None:
        from lumos._private.node import Node, free_port
        node = Node(head=True, client_server_port=free_port(), detached=False).start()
        address, token = "lumos://127.0.0.1:%d" % node.client_server_port, node.auth_token
    try:
        ray.init(address, _auth_token=token)
        try:
            _workloads(run)
        finally:
            ray.shutdown()
    finally:
        if node is not None:
            node.stop()
    return results
