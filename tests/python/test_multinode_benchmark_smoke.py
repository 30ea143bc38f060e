"""benchmarks/multinode_benchmark.py still runs: --backend lumos --quick (tiny
sizes, a 2- then 4-node cluster on this host, one repetition), every
benchmark reports a value, and nothing it started outlives it."""
import json
import os
import subprocess
import sys

import psutil
import pytest

from conftest import REPO, describe, env_with_lumos, processes_under, wait_gone

pytestmark = pytest.mark.timeout(90)

SCRIPT = os.path.join(REPO, "benchmarks", "multinode_benchmark.py")
EXPECTED = ["tcp_loopback_stream", "transfer_get_4MiB", "transfer_get_8MiB", "tasks_async_node_b",
            "actor_calls_async_node_b", "join_add_node", "broadcast_8MiB_4_nodes", "join_cli"]


@pytest.mark.skipif(psutil.virtual_memory().available < 3 << 30,
                    reason="needs ~3 GiB of free memory (4 nodes with 256 MiB stores, workers, a driver)")
def test_multinode_benchmark_quick(no_cluster, tmp_short):
    proc = subprocess.run([sys.executable, SCRIPT, "--backend", "lumos", "--quick", "--json",
                           "--temp-dir", tmp_short], capture_output=True, text=True, timeout=80,
                          env=env_with_lumos(), cwd=REPO)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    summary = [json.loads(line[5:]) for line in proc.stdout.splitlines() if line.startswith("JSON ")]
    assert len(summary) == 1, out
    rows = {r["name"]: r for r in summary[0]["results"]}
    for name in EXPECTED:
        assert name in rows, "%s missing:\n%s" % (name, out)
        assert rows[name].get("error") is None, "%s failed:\n%s" % (name, rows[name]["error"])
        assert rows[name]["value"] > 0, rows[name]
        assert "%s " % name in proc.stdout  # the human-readable line too
    left = wait_gone(processes_under(tmp_short), timeout=5)
    assert not left, "processes outlived the benchmark: %s" % describe(left)
