"""wheel-test's library check, run by the venv's Python inside the bare Debian
root while a `lumos start --head` cluster is up. It connects as a driver and
runs tasks, an actor and a shared-memory object (so workers load what they
load in real use), then reads /proc/PID/maps of every process in the test's
PID namespace (all are the test's; PID 1, the script that ran chroot, is
outside the root and skipped) and sorts each mapped ELF file into
  wheel  - a file the lumos wheel installed (its RECORD, lumos.libs included),
  deps   - a file another installed wheel put in the venv (numpy, grpcio, ...),
  base   - a file of a Debian package of the root (/var/lib/dpkg/info/*.list).
Anything else is a library from outside the wheel and the base system: the
check fails naming it. It also fails unless gcs_server, raylet and a worker
were seen, and unless gcs_server and raylet load their gRPC/protobuf from the
wheel's own lumos.libs (the point of the repair)."""
import glob
import importlib.metadata as md
import os
import sys

import numpy as np

import lumos


def installed_files():
    """realpath -> 'wheel' | 'deps' for every file of the venv's wheels."""
    owner = {}
    for dist in md.distributions():
        kind = "wheel" if dist.metadata["Name"] == "lumos" else "deps"
        for f in dist.files or ():
            owner[os.path.realpath(str(dist.locate_file(f)))] = kind
    return owner


def base_files():
    paths = set()
    for listing in glob.glob("/var/lib/dpkg/info/*.list"):
        with open(listing) as f:
            paths.update(os.path.realpath(p.strip()) for p in f if p.strip())
    return paths


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def mapped_files(pid):
    """{path: True if any mapping of it is executable} for the files `pid` maps."""
    out = {}
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                path = parts[5].rstrip("\n")
                out[path] = out.get(path, False) or "x" in parts[1]
    return out


def process_name(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return "?"
    if "lumos._private.workers.default_worker" in argv:
        return "worker"
    return " ".join(os.path.basename(a) for a in argv[:3])


@lumos.remote
def total(n):
    return float(np.arange(n).sum())


@lumos.remote
def mean(arr):
    return float(arr.mean())


@lumos.remote
class Counter:
    def __init__(self):
        self.n = 0

    def incr(self):
        self.n += 1
        return self.n


def run_workload():
    lumos.init(address="auto")
    assert lumos.get([total.remote(i) for i in range(20)]) == [float(i * (i - 1) // 2) for i in range(20)]
    c = Counter.remote()
    assert lumos.get([c.incr.remote() for _ in range(5)])[-1] == 5
    assert lumos.get(mean.remote(lumos.put(np.ones(2_000_000)))) == 1.0


def sort_process(pid, owner, base):
    """(counts by kind, libraries of `pid` from nowhere known, lumos.libs names
    it loaded). `owner`: installed_files(); `base`: base_files()."""
    counts, outside, from_libs = {"wheel": 0, "deps": 0, "base": 0}, [], set()
    for p, executable in sorted(mapped_files(pid).items()):
        if p.startswith(("/dev/", "/memfd:")):
            continue  # shared memory (the object store), not code
        if p.endswith(" (deleted)"):
            if executable:  # code from a file gone since: cannot say whose it was
                outside.append(p)
            continue
        real = os.path.realpath(p)
        if not is_elf(real):
            continue  # data files (session files, locale archives)
        kind = owner.get(real) or ("base" if real in base else None)
        if kind is None:
            outside.append(p)
            continue
        counts[kind] += 1
        if kind == "wheel" and "/lumos.libs/" in real:
            from_libs.add(os.path.basename(real).split("-")[0])
    return counts, outside, from_libs


def main():
    run_workload()
    owner = installed_files()
    base = base_files()
    outside, seen, from_libs = [], [], {}
    for d in sorted(glob.glob("/proc/[0-9]*"), key=lambda p: int(p.rsplit("/", 1)[1])):
        pid = int(os.path.basename(d))
        if pid == 1:
            continue  # the namespace's init (namespace.sh) runs outside the root, before chroot
        name = process_name(pid)
        try:
            counts, out, libs = sort_process(pid, owner, base)
        except OSError:
            continue  # exited meanwhile
        outside += ["pid %d (%s): %s" % (pid, name, p) for p in out]
        from_libs.setdefault(name.split()[0], set()).update(libs)
        seen.append(name)
        print("  pid %-6d %-40s wheel %3d  deps %3d  base %3d" % (pid, name[:40], counts["wheel"],
                                                                  counts["deps"], counts["base"]))
    lumos.shutdown()
    problems = list(outside)
    names = " ".join(seen)
    for need in ("gcs_server", "raylet", "worker"):
        if need not in names:
            problems.append("no %s process was running (seen: %s)" % (need, ", ".join(seen)))
    for exe in ("gcs_server", "raylet"):
        libs = from_libs.get(exe, set())
        if not any(lib.startswith(("libgrpc", "libprotobuf")) for lib in libs):
            problems.append("%s did not load gRPC/protobuf from lumos.libs (it loaded %s from there)"
                            % (exe, sorted(libs) or "nothing"))
    if problems:
        print("wheel-test: FAILED: libraries from outside the wheel and the base system, or missing processes:")
        print("\n".join("  " + p for p in problems))
        sys.exit(1)
    print("wheel-test: maps of %d processes: every library is the wheel's, its deps' or Debian's base system's"
          % len(seen))


if __name__ == "__main__":
    main()
