"""`make demo`: start a local lumos cluster and run the seed documents' task and
object examples (Monte Carlo pi, processing chunks of a shared array), printing
results and timings."""
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402

import lumos as ray  # noqa: E402

t_import = time.perf_counter() - t0


@ray.remote
def compute_pi(n_samples: int) -> float:
    """Monte Carlo estimate of pi (the seed's loop, unchanged)."""
    count_inside = 0
    for _ in range(n_samples):
        x, y = np.random.random(2)
        if x * x + y * y <= 1:
            count_inside += 1
    return 4.0 * count_inside / n_samples


@ray.remote
def process_array_chunk(array, start_row: int, end_row: int) -> float:
    # A top-level ObjectRef argument arrives as its value: a read-only,
    # zero-copy view of the array in shared memory.
    chunk = array[start_row:end_row, :]
    return float(np.mean(chunk))


@ray.remote
class Counter:
    """The seeds' Counter actor."""

    def __init__(self):
        self.value = 0

    def increment(self):
        self.value += 1
        return self.value


@ray.remote
def bump(counter, times):
    # An actor handle passed to a task: the task calls the actor directly.
    return ray.get([counter.increment.remote() for _ in range(times)])[-1]


def main():
    t = time.perf_counter()
    ctx = ray.init()
    t_init = time.perf_counter() - t

    @ray.remote
    def square(x):
        return x * x
    t = time.perf_counter()
    first = ray.get(square.remote(7))
    t_first = time.perf_counter() - t
    print("lumos cluster up: GCS %s, session %s" % (ctx.address, ctx.session_dir))
    print("resources: %s" % {k: v for k, v in ray.cluster_resources().items() if not k.startswith("node:")})
    print("import %.3f s, init %.3f s, first task %.3f s (result %d)" % (t_import, t_init, t_first, first))

    t = time.perf_counter()
    futures = [compute_pi.remote(200_000) for _ in range(4)]
    results = ray.get(futures)
    pi_estimate = sum(results) / len(results)
    print("Monte Carlo pi: %.5f from %d tasks in %.2f s" % (pi_estimate, len(results), time.perf_counter() - t))

    t = time.perf_counter()
    large_array = np.random.rand(1000, 1000)
    array_ref = ray.put(large_array)
    print("put %s, shape %s, %.2f MB" % (array_ref, large_array.shape, large_array.nbytes / 2**20))
    num_chunks = 4
    chunk_size = 1000 // num_chunks
    chunk_futures = [process_array_chunk.remote(array_ref, i * chunk_size, (i + 1) * chunk_size)
                     for i in range(num_chunks)]
    chunk_means = ray.get(chunk_futures)
    overall_mean = sum(chunk_means) / len(chunk_means)
    print("chunk means: %s" % ["%.5f" % m for m in chunk_means])
    print("overall mean %.5f (numpy says %.5f) in %.3f s" % (overall_mean, large_array.mean(),
                                                             time.perf_counter() - t))

    t = time.perf_counter()
    counter = Counter.remote()
    ray.get(counter.increment.remote())
    t_actor = time.perf_counter() - t
    final = ray.get([bump.remote(counter, 100) for _ in range(4)])
    print("Counter actor: created + first call %.3f s; 4 tasks x 100 increments -> %d (in %.3f s)" % (
        t_actor, max(final), time.perf_counter() - t))

    t = time.perf_counter()
    n = 2000
    ray.get([square.remote(i) for i in range(n)])
    dt = time.perf_counter() - t
    print("%d small tasks in %.3f s (%.0f tasks/s)" % (n, dt, n / dt))
    ray.shutdown()
    print("done; total %.2f s" % (time.perf_counter() - t0))


if __name__ == "__main__":
    main()
