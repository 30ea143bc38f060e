"""The dashboard's built-in metrics history: a fixed-size ring buffer of
cluster samples taken every INTERVAL_S by one thread of the dashboard
process, so the metrics page draws charts with no Prometheus behind it.

Memory is bounded: CAPACITY samples of at most a few dozen numbers each
(an hour at the default interval, well under a megabyte). Application
metrics (lumos.util.metrics, reported by workers and drivers) are kept as
one series per metric name: the sum over processes and tags for counters
and gauges, the observation count for histograms.
"""
import sys
import threading
import time
import traceback

INTERVAL_S = 2.0
CAPACITY = 1800
MAX_APP_SERIES = 50


class Ring:
    """The last `capacity` (time_ms, {series: value}) samples. Thread safe."""

    def __init__(self, capacity=CAPACITY):
        self.capacity = capacity
        self._items = [None] * capacity
        self._next = 0
        self._count = 0
        self._lock = threading.Lock()

    def append(self, time_ms, values):
        with self._lock:
            self._items[self._next] = (time_ms, values)
            self._next = (self._next + 1) % self.capacity
            self._count = min(self._count + 1, self.capacity)

    def snapshot(self, since_ms=0):
        """Samples oldest first, newer than since_ms."""
        with self._lock:
            start = (self._next - self._count) % self.capacity
            items = [self._items[(start + i) % self.capacity] for i in range(self._count)]
        return [it for it in items if it[0] > since_ms]

    def __len__(self):
        return self._count


def cluster_sample(overview):
    """One sample's cluster series from ClusterData.overview()."""
    res = overview["resources"]
    tasks = overview["tasks"]

    def used(name):
        return res.get(name, {}).get("used", 0.0)

    def total(name):
        return res.get(name, {}).get("total", 0.0)
    return {
        "cpu_used": used("CPU"), "cpu_total": total("CPU"), "gpu_used": used("GPU"), "gpu_total": total("GPU"),
        "memory_used": used("memory"), "memory_total": total("memory"),
        "store_used": overview["store"]["used"], "store_capacity": overview["store"]["capacity"],
        "spilled_bytes": overview["store"]["spilled_bytes"],
        "tasks_running": tasks.get("RUNNING", 0),
        "tasks_pending": sum(tasks.get(s, 0) for s in ("PENDING_ARGS_AVAIL", "PENDING_NODE_ASSIGNMENT",
                                                       "SUBMITTED_TO_WORKER")),
        "tasks_finished": tasks.get("FINISHED", 0), "tasks_failed": tasks.get("FAILED", 0),
        "actors_alive": overview["actors"].get("ALIVE", 0), "nodes_alive": overview["num_nodes_alive"],
    }


def app_sample(reports):
    """{"app:<name>": value} from the processes' metric reports (see app_metrics)."""
    out = {}
    for report in reports:
        for m in report.get("metrics", ()):
            key = "app:" + m["name"]
            if key not in out and len(out) >= MAX_APP_SERIES:
                continue
            if m["type"] == "histogram":
                value = sum(s["count"] for s in m["samples"])
            else:
                value = sum(s["value"] for s in m["samples"])
            out[key] = out.get(key, 0.0) + value
    return out


class Sampler:
    """The thread that fills a Ring from a ClusterData every INTERVAL_S.

    Node and resource series come from a node list read at sample time (a
    cached overview can be up to MAX_PERIOD_S old, or predate the first node);
    task and actor counts from the shared snapshots, which bound their cost."""

    def __init__(self, data, interval_s=INTERVAL_S, capacity=CAPACITY):
        self.data = data
        self.interval_s = interval_s
        self.ring = Ring(capacity)
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)
        self._thread.start()

    def sample_once(self):
        """Records one sample; returns False (nothing recorded) while the GCS
        has listed no node yet: the dashboard starts before the head's raylet
        registers, and that moment is a cluster starting, not one of 0 CPUs."""
        from lumos.dashboard import app_metrics
        overview = self.data.fresh_overview()
        if not overview["nodes"]:
            return False
        values = cluster_sample(overview)
        values.update(app_sample(app_metrics.reports(self.data)))
        self.ring.append(int(time.time() * 1000), values)
        return True

    def _run(self):
        while True:
            try:
                self.sample_once()
            except Exception:  # noqa: BLE001 - a GCS hiccup skips one sample, not the history
                print("lumos dashboard: a metrics sample failed:\n%s" % traceback.format_exc(limit=3),
                      file=sys.stderr, flush=True)
            time.sleep(self.interval_s)
