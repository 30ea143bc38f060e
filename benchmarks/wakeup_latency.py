"""What one wake-up costs on this machine: two processes ping-pong a byte
over a pair of pipes, both on one CPU, then each on its own CPU. A round trip
is two wake-ups; a synchronous actor call is a chain of four hand-offs
(docs/ARCHITECTURE.md, "What bounds the lines still under 10x Ray"), so
the cross-CPU figure bounds the sync lines from below on this machine.
Python adds a few µs to every round trip; the difference between the two
placements is the kernel's (and, in a VM, the hypervisor's) cross-CPU wake-up.

    .venv/bin/python benchmarks/wakeup_latency.py [--rounds 20000]
"""
import argparse
import os
import time


def ping_pong(parent_cpu, child_cpu, rounds):
    """Mean round-trip time in µs with the two sides pinned as given."""
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {child_cpu})
        for _ in range(rounds + 1):
            os.read(to_child_r, 1)
            os.write(to_parent_w, b"x")
        os._exit(0)
    os.sched_setaffinity(0, {parent_cpu})
    os.write(to_child_w, b"x")   # warm-up round
    os.read(to_parent_r, 1)
    start = time.perf_counter()
    for _ in range(rounds):
        os.write(to_child_w, b"x")
        os.read(to_parent_r, 1)
    elapsed = time.perf_counter() - start
    os.waitpid(pid, 0)
    for fd in (to_child_r, to_child_w, to_parent_r, to_parent_w):
        os.close(fd)
    return elapsed / rounds * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    original = set(cpus)
    try:
        same = ping_pong(cpus[0], cpus[0], args.rounds)
        print("pipe round trip, both on CPU %d:        %6.1f us" % (cpus[0], same))
        if len(cpus) > 1:
            cross = ping_pong(cpus[0], cpus[1], args.rounds)
            print("pipe round trip, CPU %d <-> CPU %d:      %6.1f us  (%.1f us per cross-CPU wake-up more)"
                  % (cpus[0], cpus[1], cross, (cross - same) / 2))
    finally:
        os.sched_setaffinity(0, original)


if __name__ == "__main__":
    main()
