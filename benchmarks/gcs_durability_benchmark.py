"""Cost of the durable GCS: actor creation rate and placement group
create/removal rate with the GCS tables in SQLite (default) and in memory
only (LUMOS_GCS_STORAGE=none), runs interleaved so that load on the machine
hits both alike. Each run is a fresh `lumos.init()` in its own process.

    python benchmarks/gcs_durability_benchmark.py [--runs 3] [--actors 40] [--groups 100]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import lumos
n_actors, n_groups = int(sys.argv[1]), int(sys.argv[2])
lumos.init(num_cpus=2)

@lumos.remote(num_cpus=0)
class A:
    def ping(self):
        return 1

def groups():
    pgs = [lumos.util.placement_group(bundles=[{"CPU": 0.001}]) for _ in range(n_groups)]
    for pg in pgs:
        pg.wait(timeout_seconds=30)
    for pg in pgs:
        lumos.util.remove_placement_group(pg)

groups()  # warm-up
best_pg = 0.0
for _ in range(3):
    t = time.perf_counter(); groups(); best_pg = max(best_pg, n_groups / (time.perf_counter() - t))
lumos.get(A.remote().ping.remote())  # warm-up: one worker start
t = time.perf_counter()
actors = [A.remote() for _ in range(n_actors)]
lumos.get([a.ping.remote() for a in actors])
actor_rate = n_actors / (time.perf_counter() - t)
print(json.dumps({"actors_per_s": actor_rate, "groups_per_s": best_pg}))
lumos.shutdown()
"""


def run(storage_on, args):
    env = dict(os.environ)
    env["LUMOS_GCS_STORAGE"] = "" if storage_on else "none"
    if storage_on:
        env.pop("LUMOS_GCS_STORAGE")
    out = subprocess.run([sys.executable, "-c", CHILD, str(args.actors), str(args.groups)], env=env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--actors", type=int, default=40)
    p.add_argument("--groups", type=int, default=100)
    args = p.parse_args()
    results = {True: [], False: []}
    for i in range(args.runs):
        for on in (i % 2 == 0, i % 2 != 0):
            r = run(on, args)
            results[on].append(r)
            print("run %d storage %-3s actors %6.1f/s  groups %7.1f/s" % (
                i, "on" if on else "off", r["actors_per_s"], r["groups_per_s"]), flush=True)
    for key, label in (("actors_per_s", "actor creation"), ("groups_per_s", "placement group create/removal")):
        on = statistics.median(r[key] for r in results[True])
        off = statistics.median(r[key] for r in results[False])
        print("%-32s storage on %7.1f/s  off %7.1f/s  on/off %.0f%%" % (label, on, off, 100 * on / off))


if __name__ == "__main__":
    main()
