"""Chaos (issue 12): a 3-node cluster runs 10,000 tasks with max_retries=-1
and calls on 20 actors with max_restarts=-1 / max_task_retries=-1 while a
killer SIGKILLs a random worker every 0.5 s and one raylet (not the head)
once -- and, in the second test, the GCS too, started again 3 s later. Every
result must be present and correct, the surviving nodes' CPUs free again
within 30 s, and no process besides the killed ones died."""
import os
import random
import signal
import threading
import time

import psutil
import pytest

import lumos
from lumos.cluster_utils import Cluster

from conftest import short_tmpdir, wait_until

pytestmark = pytest.mark.timeout(420)

NUM_TASKS = 10_000
NUM_ACTORS = 20
NUM_CALLS = 1_000


def test_work_survives_killed_workers_and_a_killed_raylet(no_cluster):
    _chaos(kill_gcs=False)


def test_work_survives_a_gcs_sigkill_and_restart_in_the_middle(no_cluster):
    _chaos(kill_gcs=True)


def _chaos(kill_gcs):
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "temp_dir": tmp})
    nodes = [c.add_node(num_cpus=2, temp_dir=tmp) for _ in range(2)]
    c.connect()
    try:
        @lumos.remote(max_retries=-1)
        def square(i):
            time.sleep(0.001)
            return i * i

        @lumos.remote(max_restarts=-1, max_task_retries=-1, num_cpus=0)
        class Adder:
            def add(self, x):
                return x + 1

        actors = [Adder.options(scheduling_strategy="SPREAD").remote() for _ in range(NUM_ACTORS)]
        lumos.get([a.add.remote(0) for a in actors])
        doomed = nodes[1]._node.procs["raylet"]
        raylets = [c.head_node._node.procs["raylet"], nodes[0]._node.procs["raylet"], doomed]
        survivors = raylets[:2] + ([] if kill_gcs else [c.head_node._node.procs["gcs_server"]])
        stop = threading.Event()
        killed = []
        gcs_events = []
        raylet_events = []

        def killer():
            rng = random.Random(7)
            t0 = time.monotonic()
            raylet_killed = False
            while not stop.wait(0.5):
                workers = []
                for r in raylets:
                    try:
                        workers += [p for p in psutil.Process(r.pid).children()
                                    if "default_worker" in " ".join(p.cmdline())]
                    except psutil.Error:
                        pass
                if workers:
                    w = rng.choice(workers)
                    try:
                        w.kill()
                        killed.append(w.pid)
                    except psutil.Error:
                        pass
                # Early (the first round), before the GCS kill: a fast run of the
                # workload once ended while this thread slept through the GCS
                # outage, before the raylet's turn came.
                if not raylet_killed and time.monotonic() - t0 > 0.4:
                    doomed.kill()
                    raylet_killed = True
                    raylet_events.append(time.monotonic())
                if kill_gcs and not gcs_events and time.monotonic() - t0 > 1:
                    c.head_node.kill_gcs_server()
                    gcs_events.append(("killed", time.monotonic()))
                    time.sleep(3)
                    c.head_node.restart_gcs_server()
                    gcs_events.append(("restarted", time.monotonic()))

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        refs = [square.remote(i) for i in range(NUM_TASKS)]
        calls = [(i, actors[i % len(actors)].add.remote(i)) for i in range(NUM_CALLS)]
        started = time.monotonic()
        try:
            results = lumos.get(refs, timeout=180)
        except lumos.exceptions.GetTimeoutError:
            ready, _ = lumos.wait(refs, num_returns=len(refs), timeout=0)
            pytest.fail("after %.0f s only %d of %d tasks finished" % (time.monotonic() - started, len(ready),
                                                                       len(refs)))
        assert results == [i * i for i in range(NUM_TASKS)]
        tasks_done_at = time.monotonic()
        assert lumos.get([r for _, r in calls], timeout=90) == [i + 1 for i, _ in calls]
        stop.set()
        thread.join()
        assert killed, "the killer killed no worker"
        assert [e for e, _ in gcs_events] == (["killed", "restarted"] if kill_gcs else [])
        if kill_gcs:  # the workload really ran through the outage
            assert gcs_events[0][1] < tasks_done_at, "the tasks were done before the GCS was killed"
        assert doomed.poll() is not None
        assert raylet_events and raylet_events[0] < tasks_done_at, "the tasks were done before the raylet was killed"
        assert all(p.poll() is None for p in survivors), "a process nobody killed died"
        alive_cpus = 4  # the head and the surviving node
        assert wait_until(lambda: lumos.available_resources().get("CPU") == alive_cpus, 30), \
            lumos.available_resources()
    finally:
        c.shutdown()
