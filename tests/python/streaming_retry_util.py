"""Helpers shared by the streaming-retry tests: a run counter kept in a file
(a retried generator starts again in a fresh attempt) and a generator that
raises in its first runs."""
import os

import lumos as ray


def next_run(path):
    """Counts runs in a file; returns this run's number (0 for the first)."""
    n = int(open(path).read()) if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(str(n + 1))
    return n


def runs(path):
    return int(open(path).read())


@ray.remote
def raises_in_first_runs(path, fail_runs, fail_at, n, exc_name="ValueError"):
    run = next_run(path)
    for i in range(n):
        if i == fail_at and run < fail_runs:
            raise {"ValueError": ValueError, "KeyError": KeyError}[exc_name]("run %d fails at %d" % (run, i))
        yield (i, run)
