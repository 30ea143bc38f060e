"""Chaos (issue 12, scaled to the suite): a 3-node cluster runs tasks with
max_retries=-1 and actor calls with max_restarts=-1 / max_task_retries=-1
while a killer SIGKILLs a random worker every 0.5 s and one raylet (not the
head) once. Every result must be present and correct, the surviving nodes'
CPUs free again afterwards, and no process besides the killed ones died."""
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

pytestmark = pytest.mark.timeout(180)


def test_work_survives_killed_workers_and_a_killed_raylet(no_cluster):
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

        actors = [Adder.options(scheduling_strategy="SPREAD").remote() for _ in range(6)]
        lumos.get([a.add.remote(0) for a in actors])
        doomed = nodes[1]._node.procs["raylet"]
        raylets = [c.head_node._node.procs["raylet"], nodes[0]._node.procs["raylet"], doomed]
        survivors = [c.head_node._node.procs["gcs_server"]] + raylets[:2]
        stop = threading.Event()
        killed = []

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
                if not raylet_killed and time.monotonic() - t0 > 2:
                    doomed.kill()
                    raylet_killed = True

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        n = 6000
        refs = [square.remote(i) for i in range(n)]
        calls = [(i, actors[i % len(actors)].add.remote(i)) for i in range(600)]
        assert lumos.get(refs, timeout=150) == [i * i for i in range(n)]
        assert lumos.get([r for _, r in calls], timeout=60) == [i + 1 for i, _ in calls]
        stop.set()
        thread.join()
        assert killed, "the killer killed no worker"
        assert doomed.poll() is not None
        assert all(p.poll() is None for p in survivors), "a process nobody killed died"
        alive_cpus = 4  # the head and the surviving node
        assert wait_until(lambda: lumos.available_resources().get("CPU") == alive_cpus, 30), \
            lumos.available_resources()
    finally:
        c.shutdown()
