"""Scale envelope, actors and the soak (marked `scale`: `make scale` runs
them, `make test` does not).

  1,000 actors alive at once (LUMOS_SCALE_ACTORS): each is its own Python
  worker process, so the figure that limits it here is memory per actor
  process; the test measures it (RSS and USS, i.e. what each process adds)
  and stops, failing with the count it reached, when the machine's
  available memory falls under MIN_AVAILABLE_MB.
  A soak of mixed tasks, actors and objects for LUMOS_SOAK_S seconds
  (`make scale` sets 1800): every process that lives through it is sampled
  and its RSS must stay flat (least-squares slope per process).
"""
import os
import time

import numpy as np
import psutil
import pytest

import lumos as ray
from scale_util import cluster_processes, linear_slope, make_report, rss_mb

pytestmark = pytest.mark.scale

N_ACTORS = int(os.environ.get("LUMOS_SCALE_ACTORS", 1_000))
ACTORS_BUDGET_S = 900.0
ACTOR_BATCH = 100
# Left for the machine's other users: an actor process adds ~16 MB (USS).
MIN_AVAILABLE_MB = 3072
SOAK_S = float(os.environ.get("LUMOS_SOAK_S", 120))
SOAK_SAMPLE_S = 5.0
# Flat: the fitted slope stays under this, or under 5 MB over the whole
# window for short soaks, where one allocator step dominates the fit.
SOAK_MAX_MB_PER_MIN = 0.5


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return make_report(tmp_path_factory)


@ray.remote(num_cpus=0)
class Idle:
    def ping(self):
        return os.getpid()


@pytest.mark.timeout(ACTORS_BUDGET_S + 300)
def test_thousand_actors_alive_at_once(ray_start_fn, report):
    ray_start_fn(num_cpus=2)
    actors, pids = [], []
    stopped = None
    start = time.perf_counter()
    # In batches, watching the machine's memory: it is shared, so the test
    # stops (and fails, saying where) rather than push it into the OOM killer.
    while len(actors) < N_ACTORS:
        avail_mb = psutil.virtual_memory().available / 2.0 ** 20
        if avail_mb < MIN_AVAILABLE_MB:
            stopped = "stopped at %d actors: %d MB available left" % (len(actors), avail_mb)
            break
        batch = [Idle.remote() for _ in range(min(ACTOR_BATCH, N_ACTORS - len(actors)))]
        pids += ray.get([a.ping.remote() for a in batch], timeout=ACTORS_BUDGET_S)
        actors += batch
    alive = time.perf_counter() - start
    assert len(set(pids)) == len(actors)
    # A second round of calls: every actor still answers.
    start = time.perf_counter()
    assert ray.get([a.ping.remote() for a in actors], timeout=120) == pids
    round_s = time.perf_counter() - start
    rss = uss = 0.0
    for pid in pids:
        m = psutil.Process(pid).memory_full_info()
        rss += m.rss
        uss += m.uss
    n = max(1, len(actors))
    procs = cluster_processes()
    daemons = {role: round(rss_mb(p)) for role, p in procs.values() if role in ("gcs_server", "raylet", "driver")}
    ok = stopped is None and alive < ACTORS_BUDGET_S
    report.record("actors", "%d actors alive < %.0f s" % (N_ACTORS, ACTORS_BUDGET_S), ok, actors=len(actors),
                  stopped=stopped, all_alive_s=round(alive, 1), ping_all_s=round(round_s, 2),
                  actor_rss_mb=round(rss / n / 2 ** 20, 1), actor_uss_mb=round(uss / n / 2 ** 20, 1),
                  all_actors_uss_gb=round(uss / 2 ** 30, 2), daemons_rss_mb=daemons)
    for a in actors:
        ray.kill(a)
    assert stopped is None, stopped
    assert ok, "%d actors alive after %.0f s" % (N_ACTORS, alive)


@ray.remote
def square(x):
    return x * x


@ray.remote
def total(arr):
    return float(arr.sum())


@ray.remote
def fan_out(n):
    return sum(ray.get([square.remote(i) for i in range(n)]))


@ray.remote(num_cpus=0)
class Counter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n

    def hold(self, arr):
        return int(arr.shape[0])


def _soak_round(i, counters):
    """One round of mixed work: tasks, nested tasks, inline and shared-memory
    objects, refs passed to tasks and actors, an actor created and killed."""
    assert ray.get([square.remote(j) for j in range(100)]) == [j * j for j in range(100)]
    assert ray.get(fan_out.remote(20)) == sum(j * j for j in range(20))
    small = [ray.put(j) for j in range(50)]
    assert ray.get(small) == list(range(50))
    big = ray.put(np.ones(200_000))  # 1.6 MB: the shared-memory store
    assert ray.get(total.remote(big)) == 200_000.0
    assert ray.get([c.hold.remote(big) for c in counters]) == [200_000] * len(counters)
    assert ray.get([c.add.remote(1) for c in counters]) == [i + 1] * len(counters)
    if i % 5 == 0:
        temp = Counter.remote()
        assert ray.get(temp.add.remote(2)) == 2
        ray.kill(temp)
    wait_refs = [square.remote(j) for j in range(20)]
    ready, rest = ray.wait(wait_refs, num_returns=20, timeout=60)
    assert len(ready) == 20 and not rest


@pytest.mark.timeout(SOAK_S + 600)
def test_soak_rss_stays_flat(ray_start_fn, report):
    ray_start_fn(num_cpus=2)
    counters = [Counter.remote() for _ in range(2)]
    ray.get([c.add.remote(0) for c in counters])
    samples = {}   # pid -> (role, [(t, rss_mb)])
    start = time.monotonic()
    next_sample = start
    rounds = 0
    while True:
        now = time.monotonic()
        if now >= next_sample:
            for pid, (role, p) in cluster_processes().items():
                try:
                    samples.setdefault(pid, (role, []))[1].append((now - start, rss_mb(p)))
                except psutil.Error:
                    pass
            next_sample = now + SOAK_SAMPLE_S
        if now - start >= SOAK_S:
            break
        _soak_round(rounds, counters)
        rounds += 1
    elapsed = time.monotonic() - start
    # The first fifth (at least 30 s) warms up: pools fill, caches, arenas.
    warm = max(30.0, elapsed / 5)
    window_min = (elapsed - warm) / 60.0
    limit = max(SOAK_MAX_MB_PER_MIN, 5.0 / window_min)
    slopes = {}
    for pid, (role, pts) in samples.items():
        pts = [(t, r) for t, r in pts if t >= warm]
        if len(pts) < 3 or pts[0][0] > warm + 2 * SOAK_SAMPLE_S or pts[-1][0] < elapsed - 2 * SOAK_SAMPLE_S:
            continue  # not alive through the whole window (a short-lived actor)
        slope = linear_slope([t / 60.0 for t, _ in pts], [r for _, r in pts])
        slopes["%s:%d" % (role, pid)] = {"mb_per_min": round(slope, 3), "rss_first_mb": round(pts[0][1], 1),
                                         "rss_last_mb": round(pts[-1][1], 1)}
    growing = {k: v for k, v in slopes.items() if v["mb_per_min"] > limit}
    report.record("soak", "%.0f s, every process' RSS slope < %.2f MB/min" % (SOAK_S, limit), not growing,
                  seconds=round(elapsed), rounds=rounds, warmup_s=round(warm), slopes=slopes)
    assert {"driver", "gcs_server", "raylet"} <= {k.split(":")[0] for k in slopes}, slopes
    assert not growing, "RSS grows: %s" % growing
