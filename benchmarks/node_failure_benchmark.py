"""Issue 12's recovery numbers on a 2-node cluster on one host: after `kill -9`
of a worker node's raylet, how long until (1) the GCS lists the node dead,
(2) a task that was running there runs again elsewhere (its retry starts),
(3) an actor that lived there (max_restarts=-1) answers again.

    python3 benchmarks/node_failure_benchmark.py [--rounds 3]

Each round builds a fresh cluster; the figures are medians over rounds.
"""
import argparse
import json
import os
import signal
import statistics
import time

import lumos
from lumos.cluster_utils import Cluster
from lumos.util.scheduling_strategies import NodeAffinitySchedulingStrategy


@lumos.remote(max_retries=3)
def long_task():
    started = time.time()
    time.sleep(2.0)
    return started, lumos.get_runtime_context().get_node_id()


@lumos.remote(max_restarts=-1, max_task_retries=-1)
class Pinger:
    def ping(self):
        return lumos.get_runtime_context().get_node_id()


def one_round():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    node = c.add_node(num_cpus=2)
    c.connect()
    try:
        there = NodeAffinitySchedulingStrategy(node.node_id, soft=True)
        actor = Pinger.options(num_cpus=0, scheduling_strategy=there).remote()
        assert lumos.get(actor.ping.remote()) == node.node_id
        task = long_task.options(scheduling_strategy=there).remote()
        time.sleep(0.5)
        killed = time.time()
        os.kill(node._node.procs["raylet"].pid, signal.SIGKILL)
        while any(n["NodeID"] == node.node_id and n["Alive"] for n in lumos.nodes()):
            time.sleep(0.005)
        dead = time.time() - killed
        while True:  # the actor answers again once restarted elsewhere
            try:
                if lumos.get(actor.ping.remote(), timeout=10) != node.node_id:
                    break
            except lumos.exceptions.RayActorError:
                time.sleep(0.01)
        actor_back = time.time() - killed
        started, where = lumos.get(task, timeout=30)
        assert where != node.node_id
        return {"node_dead_s": dead, "task_running_elsewhere_s": started - killed, "actor_answers_s": actor_back}
    finally:
        c.shutdown()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rounds = [one_round() for _ in range(args.rounds)]
    summary = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    if args.json:
        print(json.dumps({"rounds": rounds, "median": summary}))
    else:
        for k, v in summary.items():
            print("%-28s %.3f s (median of %d; all: %s)" % (k, v, len(rounds),
                                                            ", ".join("%.3f" % r[k] for r in rounds)))


if __name__ == "__main__":
    main()
