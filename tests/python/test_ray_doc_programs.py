"""Small programs in the style of Ray's documentation (actor pools, queues,
multiprocessing maps, as_completed, metrics), run as scripts. The only
change from Ray's text is the import lines (`import lumos as ray`,
`lumos.util...` for `ray.util...`). Each runs in its own process with its
own cluster under a private LUMOS_TMPDIR."""
import subprocess
import sys
import textwrap

import pytest

from conftest import env_with_lumos

PROGRAMS = {
    "actor_pool": ("""
        import lumos as ray
        from lumos.util import ActorPool

        ray.init(num_cpus=2)

        @ray.remote
        class Actor:
            def double(self, n):
                return n * 2

        a1, a2 = Actor.remote(), Actor.remote()
        pool = ActorPool([a1, a2])

        # pool.map(..) returns a Python generator object ActorPool.map
        gen = pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4])
        print([v for v in gen])

        pool.submit(lambda a, v: a.double.remote(v), 1)
        pool.submit(lambda a, v: a.double.remote(v), 2)
        print(pool.get_next(), pool.get_next())
        print(sorted(pool.map_unordered(lambda a, v: a.double.remote(v), [5, 6, 7])))
        """, "[2, 4, 6, 8]\n2 4\n[10, 12, 14]\n"),
    "queue": ("""
        import lumos as ray
        from lumos.util.queue import Queue, Empty

        ray.init(num_cpus=2)
        # You can pass this object around to different tasks/actors
        queue = Queue(maxsize=100)

        @ray.remote
        def consumer(id, queue):
            got = []
            try:
                while True:
                    next_item = queue.get(block=True, timeout=1)
                    got.append(next_item)
            except Empty:
                pass
            return got

        [queue.put(i) for i in range(10)]
        print("Put work 1 - 10 to queue...")

        consumers = [consumer.remote(id, queue) for id in range(2)]
        results = ray.get(consumers)
        print(sorted(results[0] + results[1]))
        """, "Put work 1 - 10 to queue...\n[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"),
    "multiprocessing_pool": ("""
        from lumos.util.multiprocessing import Pool

        def f(index):
            return index * index

        pool = Pool()
        total = 0
        for result in pool.map(f, range(100)):
            total += result
        print(total)
        print(list(pool.imap(f, range(5))))
        print(sorted(pool.imap_unordered(f, range(5))))
        print(pool.apply_async(f, (12,)).get(timeout=30))
        pool.close()
        pool.join()
        """, "328350\n[0, 1, 4, 9, 16]\n[0, 1, 4, 9, 16]\n144\n"),
    "as_completed": ("""
        import time
        import lumos as ray

        @ray.remote
        def f(x):
            time.sleep(x)
            return x

        refs = [f.remote(i) for i in [1.0, 0.4, 0.6, 0.8, 0.2]]
        print(sorted(ray.util.as_completed(refs, chunk_size=2)))
        print(sorted(ray.util.map_unordered(f, [0.3, 0.1, 0.2], backpressure_size=2, chunk_size=1)))
        """, "[0.2, 0.4, 0.6, 0.8, 1.0]\n[0.1, 0.2, 0.3]\n"),
    "metrics": ("""
        import time
        import lumos as ray
        from lumos.util.metrics import Counter, Gauge, Histogram

        ray.init(num_cpus=1)

        @ray.remote
        class MyActor:
            def __init__(self, name):
                self._curr_count = 0
                self.counter = Counter("num_requests", description="Number of requests processed by the actor.",
                                       tag_keys=("actor_name",))
                self.counter.set_default_tags({"actor_name": name})
                self.gauge = Gauge("curr_count", description="Current count held by the actor. Goes up and down.",
                                   tag_keys=("actor_name",))
                self.gauge.set_default_tags({"actor_name": name})
                self.histogram = Histogram("request_latency", description="Latencies of requests in ms.",
                                           boundaries=[0.1, 1], tag_keys=("actor_name",))
                self.histogram.set_default_tags({"actor_name": name})

            def process_request(self, num):
                start = time.time()
                self._curr_count += num
                self.counter.inc()
                self.gauge.set(self._curr_count)
                self.histogram.observe(1000 * (time.time() - start))
                return self._curr_count

            def values(self):
                from lumos.util.metrics import collect
                return {m["name"]: m["samples"][0] for m in collect()}

        actor = MyActor.remote("my_actor")
        for i in range(5):
            ray.get(actor.process_request.remote(i))
        values = ray.get(actor.values.remote())
        print(values["num_requests"]["value"], values["curr_count"]["value"],
              values["request_latency"]["count"], values["num_requests"]["tags"])
        """, "5.0 10.0 5 {'actor_name': 'my_actor'}\n"),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program(name, tmp_short):
    source, expected = PROGRAMS[name]
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True, text=True,
                          timeout=180, env=env_with_lumos(LUMOS_TMPDIR=tmp_short))
    assert proc.returncode == 0, "%s failed:\nstdout:\n%s\nstderr:\n%s" % (name, proc.stdout, proc.stderr)
    assert proc.stdout == expected, "stderr:\n%s" % proc.stderr
