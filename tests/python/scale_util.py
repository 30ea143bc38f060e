"""Helpers of the scale suite (tests marked `scale`, run by `make scale`, not
by `make test`): peak-RSS measurement, per-process RSS sampling with a linear
fit, and the figures report every scale test appends to.

Figures go to stdout (run with -s to see them as they come) and to
<pytest basetemp>/scale_figures.json and .md (or the dir LUMOS_SCALE_OUT
names), one entry per item, so a run leaves a table behind.
"""
import json
import os
import time

import psutil


def reset_peak_rss():
    """Resets this process's VmHWM to its current RSS (Linux clear_refs 5), so
    the next peak_rss_mb() is the peak of what follows."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb():
    """This process's peak RSS (VmHWM) in MB since start or reset_peak_rss()."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status")


def rss_mb(proc):
    return proc.memory_info().rss / 2.0 ** 20


def linear_slope(xs, ys):
    """Least-squares slope of ys over xs (0 when fewer than 2 distinct xs)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def cluster_processes():
    """{pid: (role, psutil.Process)} of this driver and every process under
    it: gcs_server, raylet, workers (role names the worker's pid)."""
    me = psutil.Process()
    out = {me.pid: ("driver", me)}
    for p in me.children(recursive=True):
        try:  # read once: a worker may exit between two reads (a soak kills actors)
            argv = p.cmdline()
        except psutil.Error:
            continue
        cmd = " ".join(argv)
        if "gcs_server" in cmd:
            role = "gcs_server"
        elif "bin/raylet" in cmd:
            role = "raylet"
        elif "default_worker" in cmd:
            role = "worker"
        else:
            role = os.path.basename(argv[0]) if argv else "?"
        out[p.pid] = (role, p)
    return out


class Report:
    """Collects one scale run's figures and writes them as JSON and markdown."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.json_path = os.path.join(out_dir, "scale_figures.json")
        self.md_path = os.path.join(out_dir, "scale_figures.md")

    def record(self, item, budget, passed, **figures):
        entry = {"item": item, "budget": budget, "passed": bool(passed), "at": time.strftime("%H:%M:%S")}
        entry.update(figures)
        print("\nSCALE %s: %s" % (item, json.dumps(entry, sort_keys=True)), flush=True)
        entries = []
        if os.path.exists(self.json_path):
            with open(self.json_path) as f:
                entries = json.load(f)
        entries.append(entry)
        with open(self.json_path, "w") as f:
            json.dump(entries, f, indent=1, sort_keys=True)
        with open(self.md_path, "w") as f:
            f.write("| item | budget | passed | figures |\n|---|---|---|---|\n")
            for e in entries:
                rest = {k: v for k, v in e.items() if k not in ("item", "budget", "passed", "at")}
                f.write("| %s | %s | %s | %s |\n" % (e["item"], e["budget"], e["passed"],
                                                     ", ".join("%s=%s" % kv for kv in sorted(rest.items()))))
        return entry


def make_report(tmp_path_factory):
    out = os.environ.get("LUMOS_SCALE_OUT") or str(tmp_path_factory.getbasetemp())
    os.makedirs(out, exist_ok=True)
    return Report(out)
