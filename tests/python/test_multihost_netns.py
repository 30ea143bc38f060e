"""A real multi-host cluster: three network namespaces, each its own host IP.

The test makes a bridge, three namespaces (head `h`, nodes `a` and `b`) with a
veth pair from each into the bridge and addresses of its own (10.213.X.1-3/24,
no default route, no NAT: traffic stays between those namespaces). It starts
the head in `h` and joins `a` and `b` with `lumos start --address` and the
head's token, so every node has a different IP and the raylets, GCS and
object managers talk over TCP with the cluster token. The namespaces share the
filesystem (session dirs, /dev/shm), so the test also checks, by the byte
counters of each namespace's veth, that the objects really crossed the wire.

Checked: three nodes listed with their IPs; a ~50 MB array made on `a` read by
tasks on `b` (as an argument and through a nested ref) and by the driver on
`h`, with its locations; a put() on `h` read on `b` and by an actor on `a`; an
object made on `b` passed to the actor on `a`; node affinity; a second driver
attached from `a` by address; a join with a wrong token (and one with none)
refused with a message naming the token, and nothing added. Everything is
removed afterwards (lumos stop per temp dir inside its namespace, then the
namespaces, veths and bridge), and no recorded process may outlive it.

Skips (with the reason) where namespaces cannot be made: not root, no `ip`,
EPERM, or a host that drops bridged traffic.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from conftest import REPO, describe, env_with_lumos, processes_under, wait_gone

TIMEOUT_S = 180
CLEANUP_RESERVE_S = 60  # the test's own steps end this long before the timeout, leaving cleanup its time
pytestmark = pytest.mark.timeout(TIMEOUT_S)

IP = shutil.which("ip") or ("/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else None)
PID = os.getpid()
NS = {k: "lm%d%s" % (PID, k) for k in ("h", "a", "b")}
BRIDGE = "lmbr%d" % PID
GCS_PORT = 26379
_deadline = [float("inf")]  # monotonic time by which the test's steps must be done


def _budget(timeout):
    """`timeout`, cut so that a hanging step leaves cleanup its reserve."""
    return max(1.0, min(timeout, _deadline[0] - time.monotonic()))


def _ip(*args, check=True, timeout=15):
    proc = subprocess.run([IP] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError("ip %s failed (exit %d): %s" % (" ".join(args), proc.returncode,
                                                           (proc.stderr or proc.stdout).strip()))
    return proc


def _in_ns(ns, argv, env, timeout, cleanup=False):
    """Runs argv inside namespace `ns`; returns the CompletedProcess."""
    return subprocess.run([IP, "netns", "exec", ns] + argv, capture_output=True, text=True,
                          timeout=timeout if cleanup else _budget(timeout), env=env, cwd=REPO)


def _cli(ns, args, env, timeout=60, cleanup=False):
    return _in_ns(ns, [sys.executable, "-m", "lumos.scripts.cli"] + args, env, timeout, cleanup)


def _pick_subnet():
    """A 10.213.X.0/24 that no address or route of this host uses."""
    used = _ip("-o", "addr").stdout + _ip("route", "show", "table", "all", check=False).stdout
    for i in range(200):
        x = 20 + (PID + i) % 200
        if "10.213.%d." % x not in used:
            return "10.213.%d" % x
    pytest.skip("no free 10.213.X.0/24 subnet on this host")


# ---------------------------------------------------------------- network

def _no_ipv6(link):
    try:
        with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % link, "w") as f:
            f.write("1")
    except OSError:
        pass


@pytest.fixture
def netns():
    """The bridge and three namespaces; yields {name: (namespace, ip)}."""
    _deadline[0] = time.monotonic() + TIMEOUT_S - CLEANUP_RESERVE_S
    if IP is None:
        pytest.skip("iproute2 (`ip`) is not installed: cannot make network namespaces")
    if os.geteuid() != 0:
        pytest.skip("making network namespaces needs root (euid %d)" % os.geteuid())
    subnet = _pick_subnet()
    made_ns, made_links = [], []
    try:
        try:
            _ip("link", "add", BRIDGE, "type", "bridge")
        except RuntimeError as e:
            if "permitted" in str(e) or "EPERM" in str(e):
                pytest.skip("cannot make a bridge here: %s" % e)
            raise
        made_links.append(BRIDGE)
        _no_ipv6(BRIDGE)  # no link-local address: the host's namespace takes no part at L3
        _ip("link", "set", BRIDGE, "up")
        hosts = {}
        for i, (key, ns) in enumerate(sorted(NS.items(), key=lambda kv: "hab".index(kv[0]))):
            try:
                _ip("netns", "add", ns)
            except RuntimeError as e:
                if "permitted" in str(e):
                    pytest.skip("cannot make a network namespace here: %s" % e)
                raise
            made_ns.append(ns)
            outer, inner = "lv%d%s" % (PID, key), "lp%d%s" % (PID, key)
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            made_links.append(outer)
            _ip("link", "set", inner, "netns", ns)
            _no_ipv6(outer)
            _ip("link", "set", outer, "master", BRIDGE)
            _ip("link", "set", outer, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", inner, "name", "eth0")
            addr = "%s.%d" % (subnet, i + 1)
            _ip("-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            hosts[key] = (ns, addr)
        _check_bridge_passes_traffic(hosts)
        yield hosts
    finally:
        for ns in made_ns:
            _ip("netns", "del", ns, check=False)
        for link in reversed(made_links):  # veths usually went with their namespace
            if _ip("link", "show", link, check=False).returncode == 0:
                _ip("link", "del", link, check=False)
        left = [ns for ns in made_ns if ns in _ip("netns", "list", check=False).stdout.split()]
        left += [ln for ln in made_links if _ip("link", "show", ln, check=False).returncode == 0]
        assert not left, "network namespaces/links left behind: %s" % left


def _check_bridge_passes_traffic(hosts):
    """A plain TCP exchange h -> b before lumos: a host whose firewall drops
    bridged traffic cannot run this test (a skip, not a lumos failure)."""
    ns_b, ip_b = hosts["b"]
    ns_h, _ = hosts["h"]
    server = subprocess.Popen(
        [IP, "netns", "exec", ns_b, sys.executable, "-c", textwrap.dedent("""
            import socket, sys
            s = socket.socket(); s.bind((sys.argv[1], 26999)); s.listen(1); s.settimeout(8)
            print("ready", flush=True)
            c, _ = s.accept(); c.sendall(c.recv(16).upper()); c.close()
            """), ip_b], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready", server.stderr.read()
        client = _in_ns(ns_h, [sys.executable, "-c", textwrap.dedent("""
            import socket, sys
            c = socket.create_connection((sys.argv[1], 26999), timeout=4); c.sendall(b"ping")
            print(c.recv(16).decode())
            """), ip_b], env=None, timeout=15)
        if client.stdout.strip() != "PING":
            pytest.skip("TCP between network namespaces over a bridge does not pass on this host "
                        "(firewall on bridged traffic?): %s" % client.stderr.strip()[-300:])
    finally:
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


# ---------------------------------------------------------------- lumos nodes

def _recorded(tmp):
    """(pid, start time) of every process recorded in tmp's session pid files."""
    out = []
    for path in glob.glob(os.path.join(tmp, "session_*", "pids", "*.pid")):
        try:
            with open(path) as f:
                pid_s, start_s = f.read().split()[:2]
            out.append((int(pid_s), None if start_s == "None" else int(start_s)))
        except (OSError, ValueError):
            pass
    return out


def _same_process_alive(pid, start):
    from lumos._private.node import process_start_time
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return start is None or process_start_time(pid) == start


def logs_of(tmp, tail=3000):
    """The non-empty *.err logs of every session under tmp (their tails)."""
    out = []
    for path in sorted(glob.glob(os.path.join(tmp, "session_*", "logs", "*.err"))):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if data.strip():
            out.append("---- %s (last %d bytes)\n%s" % (path, tail, data[-tail:].decode("utf-8", "replace")))
    return "\n".join(out) or "(no non-empty *.err log under %s)" % tmp


class Nodes:
    def __init__(self, hosts):
        self.hosts = hosts
        self.base = tempfile.mkdtemp(prefix="lmn", dir="/tmp")  # short: socket paths < 108 bytes
        self.dirs = {}       # key -> temp dir
        self.ns_of = {}      # temp dir -> namespace
        self.seen = {}       # temp dir -> recorded (pid, start) seen while running

    def temp_dir(self, key, ns):
        d = os.path.join(self.base, key)
        os.makedirs(d, exist_ok=True)
        self.dirs[key] = d
        self.ns_of[d] = ns
        return d

    def remember(self):
        for d in self.ns_of:
            self.seen.setdefault(d, set()).update(_recorded(d))

    def all_logs(self):
        return "\n".join(logs_of(d) for d in self.ns_of)

    def stop_all(self):
        """lumos stop in each temp dir's namespace; then no recorded process
        (nor any process naming the temp dir) may be alive."""
        self.remember()
        before = {d: processes_under(d) for d in self.ns_of}
        problems = []
        for d, ns in reversed(list(self.ns_of.items())):
            try:
                r = _cli(ns, ["stop", "--temp-dir", d, "--grace-period", "5"], env_with_lumos(), timeout=12,
                         cleanup=True)
                if r.returncode != 0:
                    problems.append("lumos stop --temp-dir %s (in %s) exited %d: %s" % (
                        d, ns, r.returncode, (r.stderr or r.stdout)[-500:]))
            except subprocess.TimeoutExpired:
                problems.append("lumos stop --temp-dir %s (in %s) took over 12 s" % (d, ns))
        deadline = time.monotonic() + 10
        alive = []
        while time.monotonic() < deadline:
            alive = [(d, pid) for d, recs in self.seen.items() for pid, start in recs
                     if _same_process_alive(pid, start)]
            if not alive:
                break
            time.sleep(0.1)
        stragglers = wait_gone([p for procs in before.values() for p in procs], 3.0)
        stragglers += [p for d in self.ns_of for p in processes_under(d) if p not in stragglers]
        print("cleanup: %d recorded processes, %d more by command line; lumos stop in each namespace" % (
            sum(len(v) for v in self.seen.values()),
            len({p.pid for v in before.values() for p in v} - {pid for v in self.seen.values() for pid, _ in v})))
        if alive or stragglers:
            problems.append("alive after lumos stop: recorded %s; by command line %s" % (
                alive, describe(stragglers)))
            for _, pid in alive:  # our own recorded processes only, by pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            for p in stragglers:
                try:
                    p.kill()
                except Exception:  # noqa: BLE001
                    pass
        return problems


@pytest.fixture
def lumos_nodes(netns):
    nodes = Nodes(netns)
    try:
        yield nodes
    finally:
        problems = nodes.stop_all()
        if os.environ.get("LUMOS_NETNS_KEEP"):
            print("kept temp dirs under", nodes.base)
        else:
            shutil.rmtree(nodes.base, ignore_errors=True)
        assert not problems, "\n".join(problems)


def _start(nodes, key, args, env, what):
    ns, ip = nodes.hosts[key]
    t0 = time.monotonic()
    r = _cli(ns, ["start"] + args + ["--node-ip-address", ip], env, timeout=60)
    took = time.monotonic() - t0
    nodes.remember()
    assert r.returncode == 0, "%s failed (exit %d) in %s:\nstdout: %s\nstderr: %s\n%s" % (
        what, r.returncode, ns, r.stdout, r.stderr, nodes.all_logs())
    return r, took


# ---------------------------------------------------------------- the drivers

DRIVER_H = r'''
import hashlib, json, sys, time
import numpy as np
import lumos
import lumos.experimental
from lumos.util.scheduling_strategies import NodeAffinitySchedulingStrategy

cfg = json.loads(sys.argv[1])
IPS = cfg["ips"]
timings = {}
failures = []  # checks that fail are collected, so one run shows every failure


def log(*a):
    print("[driver h]", *a, flush=True)


def expect(cond, what):
    if not cond:
        failures.append(what)
        log("FAILED:", what)
    return cond


def here():
    return lumos.util.get_node_ip_address(), lumos.get_runtime_context().get_node_id()


def digest(arr):
    return hashlib.sha256(memoryview(np.ascontiguousarray(arr)).cast("B")).hexdigest()


worker_ips = {}  # node -> {ip a worker there reported: [what]}


def check_where(got, key, what):
    # the node id decides where it ran; the IP its worker reports is checked at the end
    assert got[1] == node_of[key], "%s ran on node %s, not on %s (%s)" % (what, got[1], key, node_of[key])
    worker_ips.setdefault(key, {}).setdefault(got[0], []).append(what)


t0 = time.monotonic()
ctx = lumos.init(address="auto")  # LUMOS_TMPDIR names the head's temp dir
timings["init"] = time.monotonic() - t0
assert ctx["gcs_address"] == cfg["gcs"], ctx["gcs_address"]

nodes = lumos.nodes()
log("nodes:", [(n["NodeManagerAddress"], n["NodeID"][:8], n["Alive"]) for n in nodes])
assert len(nodes) == 3, "expected exactly 3 nodes (the refused join adds none): %s" % nodes
assert all(n["Alive"] for n in nodes), nodes
by_ip = {n["NodeManagerAddress"]: n["NodeID"] for n in nodes}
assert sorted(by_ip) == sorted(IPS.values()), (sorted(by_ip), IPS)
node_of = {k: by_ip[ip] for k, ip in IPS.items()}
assert here() == (IPS["h"], node_of["h"]), ("the driver should attach to the node of its host", here())
res = lumos.cluster_resources()
expect(res.get("CPU") == 5 and res.get("a") == 2 and res.get("b") == 2 and res.get("h") == 1,
       "cluster_resources: %s" % res)
assert "intruder" not in res, res

N = 50 * 1024 * 1024 // 8  # 50 MiB of int64


@lumos.remote(resources={"a": 1}, num_returns=2)
def make(n):
    return np.arange(n, dtype=np.int64) * 3 + 7, here()


@lumos.remote(resources={"b": 1})
def consume(arr):
    return here(), arr.dtype.str, arr.shape, digest(arr)


@lumos.remote(resources={"b": 1})
def consume_nested(refs):
    arr = lumos.get(refs[0], timeout=60)
    return here(), digest(arr)


@lumos.remote(resources={"b": 1})
def make_on_b(n):
    return np.full(n, 5, dtype=np.uint8)


@lumos.remote(resources={"b": 1})
def say(text):
    print(text, flush=True)
    return here()


@lumos.remote
def where():
    return here()


@lumos.remote(resources={"a": 1})
class Keeper:
    def __init__(self):
        self.n = 0

    def where(self):
        return here()

    def add(self, k):
        self.n += k
        return self.n

    def digest_of(self, arr):
        return here(), digest(arr)


expected = np.arange(N, dtype=np.int64) * 3 + 7
want = digest(expected)

# 0. a task on b prints: its line is forwarded to this driver (the test reads it, with b's IP in the prefix)
check_where(lumos.get(say.remote("hello-from-node-b"), timeout=60), "b", "say() with resources={'b': 1}")

# 1. ~50 MB made on a, read on b as a task argument (a -> b over TCP)
t0 = time.monotonic()
arr_ref, made_where = make.remote(N)
check_where(lumos.get(made_where, timeout=60), "a", "make() with resources={'a': 1}")
timings["make_on_a"] = time.monotonic() - t0
t0 = time.monotonic()
got = lumos.get(consume.remote(arr_ref), timeout=60)
timings["read_on_b_arg"] = time.monotonic() - t0
check_where(got[0], "b", "consume() with resources={'b': 1}")
expect(got[1:] == (expected.dtype.str, expected.shape, want), "50 MB array read on b differs: %s" % (got[1:],))
log("50 MB a -> b (argument): %.2f s" % timings["read_on_b_arg"])

# 2. the same ref inside a list, got by the task on b itself
got = lumos.get(consume_nested.remote([arr_ref]), timeout=60)
check_where(got[0], "b", "consume_nested()")
expect(got[1] == want, "50 MB array got inside a task on b differs")
log("nested ref get on b: done")

# 3. the driver on h reads it (a -> h)
t0 = time.monotonic()
arr = lumos.get(arr_ref, timeout=60)
timings["read_on_h"] = time.monotonic() - t0
expect(arr.shape == expected.shape and np.array_equal(arr, expected), "50 MB array read on h differs")
log("50 MB a -> h (driver get): %.2f s" % timings["read_on_h"])
try:
    locs = lumos.experimental.get_object_locations([arr_ref])[arr_ref]
except Exception as e:  # noqa: BLE001 - recorded as a failure; the rest of the workload still runs
    locs = None
    expect(False, "get_object_locations raised %s: %s" % (type(e).__name__, e))
if locs is not None:
    log("locations of the 50 MB object:", {k: node_of[k] in locs["node_ids"] for k in IPS}, locs)
    expect(node_of["a"] in locs["node_ids"] and node_of["h"] in locs["node_ids"],
           "get_object_locations after reads on b and h lacks a or h: %s (nodes %s)" % (locs, node_of))
    expect(bool(locs["object_size"]) and locs["object_size"] >= N * 8, "object_size: %s" % locs)
del arr

# 4. a put() on h read by a task on b (h -> b)
big = np.random.default_rng(7).integers(0, 2**62, size=20 * 1024 * 1024 // 8, dtype=np.int64)
pref = lumos.put(big)
got = lumos.get(consume.remote(pref), timeout=60)
check_where(got[0], "b", "consume(put ref)")
expect(got[3] == digest(big), "20 MB put read on b differs")
log("20 MB put on h read on b: done")

# 5. node affinity (hard) to b and to a
for k in ("b", "a"):
    s = NodeAffinitySchedulingStrategy(node_id=node_of[k], soft=False)
    check_where(lumos.get(where.options(scheduling_strategy=s).remote(), timeout=60), k,
                "NodeAffinitySchedulingStrategy(%s, soft=False)" % k)
log("node affinity: done")

# 6. an actor on a, called from the driver; it reads the put (h -> a) and an object made on b (b -> a)
keeper = Keeper.remote()
check_where(lumos.get(keeper.where.remote(), timeout=60), "a", "actor with resources={'a': 1}")
t0 = time.monotonic()
totals = lumos.get([keeper.add.remote(i) for i in range(1, 201)], timeout=60)
timings["200_actor_calls"] = time.monotonic() - t0
expect(totals == [i * (i + 1) // 2 for i in range(1, 201)], "actor call results: %s..." % totals[:5])
got = lumos.get(keeper.digest_of.remote(pref), timeout=60)
expect(got[1] == digest(big), "20 MB put read by the actor on a differs")
bref = make_on_b.remote(8 * 1024 * 1024)
got = lumos.get(keeper.digest_of.remote(bref), timeout=60)
expect(got[1] == digest(np.full(8 * 1024 * 1024, 5, np.uint8)), "8 MB made on b read by the actor on a differs")
log("actor on a: done")

for key, seen in sorted(worker_ips.items()):
    for ip, whats in seen.items():
        expect(ip == IPS[key], "lumos.util.get_node_ip_address() in workers on node %s (IP %s) returned %r "
               "(in %s)" % (key, IPS[key], ip, "; ".join(whats)))

lumos.shutdown()
print("DRIVER-H-OK " + json.dumps({"node_of": node_of, "timings": timings, "failures": failures}), flush=True)
'''

DRIVER_A = r'''
import json, sys
import numpy as np
import lumos

cfg = json.loads(sys.argv[1])
IPS, node_of = cfg["ips"], cfg["node_of"]


def here():
    return lumos.util.get_node_ip_address(), lumos.get_runtime_context().get_node_id()


lumos.init(address=cfg["gcs"])  # by address, from node a's host (LUMOS_TMPDIR: a's temp dir)
assert lumos.get_runtime_context().get_node_id() == node_of["a"], "a driver on a attaches to a's node"
assert lumos.util.get_node_ip_address() == IPS["a"], lumos.util.get_node_ip_address()


@lumos.remote(resources={"h": 1})
def on_h(n):
    return np.arange(n, dtype=np.int32), here()


arr, where = lumos.get(on_h.remote(10 * 1024 * 1024 // 4), timeout=60)  # h -> a
assert where[1] == node_of["h"], where  # (the IP a worker reports is checked by the driver on h)
assert np.array_equal(arr, np.arange(10 * 1024 * 1024 // 4, dtype=np.int32))
lumos.shutdown()
print("DRIVER-A-OK", flush=True)
'''


def _run_driver(nodes, key, source, cfg, tmp_dir, marker):
    ns, _ = nodes.hosts[key]
    path = os.path.join(nodes.base, "driver_%s.py" % key)
    with open(path, "w") as f:
        f.write(source)
    env = env_with_lumos(LUMOS_TMPDIR=tmp_dir)
    env.pop("LUMOS_AUTH_TOKEN", None)  # the driver finds the token in its host's session dir
    t0 = time.monotonic()
    try:
        r = _in_ns(ns, [sys.executable, path, json.dumps(cfg)], env, timeout=100)
    except subprocess.TimeoutExpired as e:
        nodes.remember()
        pytest.fail("driver in %s did not finish in time\nstdout: %s\nstderr: %s\n%s" % (
            ns, e.stdout, e.stderr, nodes.all_logs()))
    took = time.monotonic() - t0
    nodes.remember()
    print(r.stdout, end="")
    line = [ln for ln in r.stdout.splitlines() if ln.startswith(marker)]
    assert r.returncode == 0 and line, (
        "driver in %s failed (exit %d); repro: %s\nstdout:\n%s\nstderr:\n%s\n%s" % (
            ns, r.returncode, "ip netns exec %s env LUMOS_TMPDIR=%s %s %s '%s'" % (
                ns, tmp_dir, sys.executable, path, json.dumps(cfg)), r.stdout, r.stderr[-6000:],
            nodes.all_logs()))
    return r, line[0][len(marker):].strip(), took


def _eth0_bytes(hosts):
    """{key: (rx bytes, tx bytes)} of each namespace's eth0 (its veth into the bridge)."""
    out = {}
    for key, (ns, _) in hosts.items():
        stats = json.loads(_ip("-n", ns, "-s", "-j", "link", "show", "eth0").stdout)[0]["stats64"]
        out[key] = (stats["rx"]["bytes"], stats["tx"]["bytes"])
    return out


# ---------------------------------------------------------------- the test

def test_cluster_across_network_namespaces(lumos_nodes):
    nodes = lumos_nodes
    hosts = nodes.hosts
    ips = {k: ip for k, (_, ip) in hosts.items()}
    gcs = "%s:%d" % (ips["h"], GCS_PORT)
    base_env = env_with_lumos()
    base_env.pop("LUMOS_AUTH_TOKEN", None)
    base_env.pop("LUMOS_TMPDIR", None)
    timings = {}

    # head in h: makes the token
    d_h = nodes.temp_dir("h", hosts["h"][0])
    r, timings["start_head"] = _start(nodes, "h", ["--head", "--port", str(GCS_PORT), "--temp-dir", d_h,
                                                   "--num-cpus", "1", "--resources", '{"h": 1}'],
                                      base_env, "lumos start --head")
    assert gcs in r.stdout, r.stdout
    with open(os.path.join(d_h, "lumos_current_cluster")) as f:
        current = json.load(f)
    assert current["gcs_address"] == gcs and current["node_ip"] == ips["h"], current
    token_path = os.path.join(current["session_dir"], "auth_token")
    assert oct(os.stat(token_path).st_mode & 0o777) == "0o600", oct(os.stat(token_path).st_mode)
    with open(token_path) as f:
        token = f.read().strip()
    assert token

    # a and b join with the token
    for key in ("a", "b"):
        d = nodes.temp_dir(key, hosts[key][0])
        env = dict(base_env, LUMOS_AUTH_TOKEN=token)
        r, timings["join_" + key] = _start(
            nodes, key, ["--address", gcs, "--temp-dir", d, "--num-cpus", "2",
                         "--resources", json.dumps({key: 2})], env, "lumos start --address (%s)" % key)
        assert "Joined" in r.stdout and ips[key] in r.stdout, r.stdout

    # a 4th node with a wrong token (from b's namespace, its own temp dir): refused, nothing added
    d_bad = nodes.temp_dir("bad", hosts["b"][0])
    wrong = "0" * len(token) if token != "0" * len(token) else "1" * len(token)
    t0 = time.monotonic()
    r = _cli(hosts["b"][0], ["start", "--address", gcs, "--node-ip-address", ips["b"], "--temp-dir", d_bad,
                             "--num-cpus", "1", "--resources", '{"intruder": 1}'],
             dict(base_env, LUMOS_AUTH_TOKEN=wrong), timeout=60)
    timings["wrong_token_refused"] = time.monotonic() - t0
    nodes.remember()
    out = r.stdout + r.stderr
    print("wrong-token join (exit %d): %s" % (r.returncode, out.strip()))
    assert r.returncode != 0, "a join with a wrong token succeeded:\n%s" % out
    assert "token" in out.lower(), "the refusal does not mention the token:\n%s\n%s" % (out, logs_of(d_bad))
    assert timings["wrong_token_refused"] < 30, timings
    left = [(pid, st) for pid, st in _recorded(d_bad) if _same_process_alive(pid, st)]
    assert not left, "processes of the refused join still alive: %s\n%s" % (left, logs_of(d_bad))

    # ... and one with no token at all: refused before anything starts
    d_none = nodes.temp_dir("none", hosts["a"][0])
    r = _cli(hosts["a"][0], ["start", "--address", gcs, "--node-ip-address", ips["a"], "--temp-dir", d_none,
                             "--num-cpus", "1"], base_env, timeout=30)
    assert r.returncode != 0 and "LUMOS_AUTH_TOKEN" in r.stdout + r.stderr, r.stdout + r.stderr

    # ... and one towards an address of the subnet where no host answers: an error naming it within 10 s
    nowhere = "%s.9:%d" % (ips["h"].rsplit(".", 1)[0], GCS_PORT)
    d_nowhere = nodes.temp_dir("nowhere", hosts["a"][0])
    t0 = time.monotonic()
    r = _cli(hosts["a"][0], ["start", "--address", nowhere, "--node-ip-address", ips["a"], "--temp-dir", d_nowhere,
                             "--num-cpus", "1"], dict(base_env, LUMOS_AUTH_TOKEN=token), timeout=30)
    timings["unreachable_head_refused"] = time.monotonic() - t0
    assert r.returncode != 0 and nowhere in r.stdout + r.stderr, r.stdout + r.stderr
    assert timings["unreachable_head_refused"] < 10, timings

    # the workload, from a driver on h
    cfg = {"gcs": gcs, "ips": ips}
    before = _eth0_bytes(hosts)
    r, payload, timings["driver_h"] = _run_driver(nodes, "h", DRIVER_H, cfg, d_h, "DRIVER-H-OK")
    after = _eth0_bytes(hosts)
    result = json.loads(payload)
    # a worker's output on b reaches the driver on h, its prefix naming b's IP (Ray: "(say pid=N, ip=IP)")
    said = [ln for ln in (r.stdout + r.stderr).splitlines() if "hello-from-node-b" in ln]
    if not said:
        result["failures"].append("the line printed by a task on b never reached the driver on h")
    elif not any(ips["b"] in ln for ln in said):
        result["failures"].append("the line printed by a task on b reached the driver without b's IP (%s) "
                                  "in its prefix: %r" % (ips["b"], said))
    timings.update({"h." + k: round(v, 3) for k, v in result["timings"].items()})

    # The objects really crossed the veths (TCP between the namespaces, not a
    # Unix socket or /dev/shm they happen to share): b received the 50 MiB array
    # (only a had it) and the 20 MiB put (only h had it); h received the array
    # (from a or b); a sent the array and received the put (from h or b) and
    # the 8 MiB object made on b.
    moved = {k: (after[k][0] - before[k][0], after[k][1] - before[k][1]) for k in hosts}
    print("eth0 bytes during the workload (rx, tx):", moved)
    MiB = 1024 * 1024
    want = {"b rx": (moved["b"][0], 70 * MiB), "h rx": (moved["h"][0], 50 * MiB),
            "a tx": (moved["a"][1], 50 * MiB), "a rx": (moved["a"][0], 28 * MiB)}
    short = {k: v for k, v in want.items() if v[0] < v[1]}
    assert not short, "less data crossed the veths than the objects moved: %s (all: %s)" % (short, moved)

    # a second driver, by address from a's host, attaches to node a
    cfg["node_of"] = result["node_of"]
    _, _, timings["driver_a"] = _run_driver(nodes, "a", DRIVER_A, cfg, nodes.dirs["a"], "DRIVER-A-OK")

    print("netns cluster timings (s):", json.dumps({k: round(v, 3) for k, v in timings.items()}))
    assert not result["failures"], "lumos failures found by the workload:\n  " + "\n  ".join(result["failures"])
