"""Starting and stopping the processes of a local lumos node.

A Node owns a session directory (/tmp/lumos/session_<time>_<pid>, mode 0700:
sockets/, logs/, pids/) and the gcs_server (head only) and raylet processes it
started. Processes started for `lumos.init()` die with the driver (lifeline:
PR_SET_PDEATHSIG, set by the binaries themselves); `lumos start` starts them
detached and `lumos stop` ends them by the pids recorded in pids/.
"""
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time

from lumos import exceptions
from lumos._private import accelerators
from lumos._private import auth

DEFAULT_ROOT = "/tmp/lumos"
CURRENT_CLUSTER_FILE = "lumos_current_cluster"
GCS_ARGV_FILE = "gcs_argv.json"  # a detached head's gcs_server argv, for restarting only it


def session_root(temp_dir=None):
    return temp_dir or os.environ.get("LUMOS_TMPDIR") or DEFAULT_ROOT


def bin_dir():
    from lumos import _raylet
    return os.path.join(os.path.dirname(os.path.abspath(_raylet.__file__)), "core", "bin")


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def process_start_time(pid):
    """Start time (clock ticks since boot) of a process, to detect pid reuse."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def wait_for_gcs(address, timeout, proc=None, session_dir=None):
    """Waits until the GCS at host:port accepts connections (it binds only
    after loading its storage, so then it serves). Raises RaySystemError when
    `proc` exits first or the time runs out, naming the log."""
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    logs = os.path.join(session_dir, "logs", "gcs_server.err") if session_dir else "the gcs_server log"
    while True:
        if proc is not None and proc.poll() is not None:
            raise exceptions.RaySystemError("gcs_server exited during start-up (exit code %s); see %s"
                                            % (proc.returncode, logs))
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=0.5):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise exceptions.RaySystemError("the GCS at %s did not come up within %.0f s; see %s"
                                            % (address, timeout, logs))
        time.sleep(0.01)


def total_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 8 << 30


def default_object_store_memory():
    # 30% of RAM. The arena is a memfd: its pages come from the kernel's
    # internal shmem mount, which /dev/shm's size limit does not apply to (only
    # RAM, swap and the memory cgroup do), so /dev/shm's size is not a cap here.
    return int(total_memory() * 0.3)


class Node:
    """The processes of one node started by this Python process."""

    def __init__(self, head=True, gcs_address=None, num_cpus=None, num_gpus=None, resources=None,
                 object_store_memory=None, temp_dir=None, gcs_port=0, system_config=None,
                 detached=False, node_ip="127.0.0.1", spill_dir=None, auth_token=None, raylet_port=0,
                 object_manager_port=0, labels=None, gcs_storage=None, include_dashboard=False,
                 dashboard_host=None, dashboard_port=None, client_server_port=0):
        self.head = head
        # Head only: the client-mode server's port (lumos.util.client), 0 = none.
        self.client_server_port = client_server_port if head else 0
        # Head only: the dashboard process (lumos.dashboard); port None = 8265 or the next free one.
        self.include_dashboard = bool(include_dashboard) and head
        self.dashboard_host = dashboard_host
        self.dashboard_port = dashboard_port
        self.dashboard_url = None
        # The GCS tables' SQLite file (head only): None = <session_dir>/gcs.db,
        # "" = memory only. LUMOS_GCS_STORAGE overrides ("none": memory only).
        env_storage = os.environ.get("LUMOS_GCS_STORAGE")
        if env_storage is not None:
            gcs_storage = "" if env_storage.lower() in ("", "none", "off", "0") else env_storage
        self.gcs_storage = gcs_storage
        self._gcs_argv = None
        # Head: the given token or a new one; other nodes must be given the head's.
        self.auth_token = auth_token or (auth.generate() if head else None)
        if self.auth_token is None:
            raise ConnectionError("joining a cluster needs its token: set LUMOS_AUTH_TOKEN or pass "
                                  "--auth-token-file (the head wrote it to <session_dir>/auth_token)")
        self.node_id = os.urandom(16).hex()
        self.raylet_port = raylet_port
        self.object_manager_port = object_manager_port
        self.labels = dict(labels or {})
        self.node_ip = node_ip
        self.num_cpus = os.cpu_count() if num_cpus is None else num_cpus
        self.num_gpus, self.accelerator_type = accelerators.node_gpus(num_gpus)
        self.custom_resources = dict(resources or {})
        self.object_store_memory = int(object_store_memory or default_object_store_memory())
        self.root = session_root(temp_dir)
        self.gcs_port = gcs_port
        self.gcs_address = gcs_address
        self.system_config = system_config or {}
        self.spill_dir = spill_dir  # None: <session_dir>/spill
        self.detached = detached
        self.procs = {}
        self.session_dir = None

    # ---------------------------------------------------------------- layout
    def _make_session_dir(self):
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")
        self.session_dir = os.path.join(self.root, "session_%s_%d" % (stamp, os.getpid()))
        for sub in ("", "sockets", "logs", "pids"):
            os.makedirs(os.path.join(self.session_dir, sub), mode=0o700, exist_ok=True)
        latest = os.path.join(self.root, "session_latest")
        try:
            tmp = latest + ".%d" % os.getpid()
            os.symlink(self.session_dir, tmp)
            os.replace(tmp, latest)
        except OSError:
            pass

    @property
    def raylet_socket(self):
        return os.path.join(self.session_dir, "sockets", "raylet")

    @property
    def store_socket(self):
        return os.path.join(self.session_dir, "sockets", "store")

    def resource_list(self):
        res = {"CPU": float(self.num_cpus)}
        if self.num_gpus:
            res["GPU"] = float(self.num_gpus)
            if self.accelerator_type:
                res[accelerators.accelerator_resource(self.accelerator_type)] = 1.0
        res.update({k: float(v) for k, v in self.custom_resources.items()})
        res["memory"] = float(max(1, int(total_memory() * 0.7)))
        res["object_store_memory"] = float(self.object_store_memory)
        res["node:%s" % self.node_ip] = 1.0
        if self.head:
            res["node:__internal_head__"] = 1.0
        return res

    # ---------------------------------------------------------------- start
    def _env(self):
        env = dict(os.environ)
        for k, v in self.system_config.items():
            env["LUMOS_" + k.upper()] = str(int(v) if isinstance(v, bool) else v)
        return env

    def _spawn(self, name, argv):
        out = open(os.path.join(self.session_dir, "logs", name + ".out"), "ab")
        err = open(os.path.join(self.session_dir, "logs", name + ".err"), "ab")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=self._env(), close_fds=True,
                                    start_new_session=self.detached)
        finally:
            out.close()
            err.close()
        self._record(name, proc)
        return proc

    def _record(self, name, proc):
        """Keeps `proc` as this node's `name` and records its pid (for `lumos stop`)."""
        self.procs[name] = proc
        with open(os.path.join(self.session_dir, "pids", name + ".pid"), "w") as f:
            f.write("%d %s\n" % (proc.pid, process_start_time(proc.pid)))

    def start(self):
        self._make_session_dir()
        token_file = auth.write(self.session_dir, self.auth_token)
        lifeline = [] if self.detached else ["--lifeline-pid=%d" % os.getpid()]
        bins = bin_dir()
        if self.head:
            port = self.gcs_port or free_port(self.node_ip)
            self.gcs_address = "%s:%d" % (self.node_ip, port)
            if self.gcs_storage is None:
                self.gcs_storage = os.path.join(self.session_dir, "gcs.db")
            self._gcs_argv = ([os.path.join(bins, "gcs_server"), "--host=" + self.node_ip,
                               "--port=%d" % port, "--session-dir=" + self.session_dir,
                               "--auth-token-file=" + token_file]
                              + (["--gcs-storage=" + self.gcs_storage] if self.gcs_storage else []) + lifeline)
            self._spawn("gcs_server", self._gcs_argv)
            if self.include_dashboard:
                self._start_dashboard()
            if self.client_server_port:
                self._spawn("client_server", [
                    sys.executable, "-m", "lumos.util.client.client_server", "--host", self.node_ip,
                    "--port", str(self.client_server_port), "--gcs-address", self.gcs_address,
                    "--session-dir", self.session_dir, "--auth-token-file", token_file]
                    + (["--lifeline-pid=%d" % os.getpid()] if not self.detached else []))
            if self.detached:  # `lumos start --head` may start it again (gcs_restart.py)
                with open(os.path.join(self.session_dir, GCS_ARGV_FILE), "w") as f:
                    json.dump(self._gcs_argv, f)
        resources = ",".join("%s=%r" % (k, v) for k, v in self.resource_list().items())
        self._spawn("raylet", [
            os.path.join(bins, "raylet"), "--session-dir=" + self.session_dir, "--node-id=" + self.node_id,
            "--gcs-address=" + self.gcs_address, "--resources=" + resources,
            "--object-store-memory=%d" % self.object_store_memory,
            "--raylet-socket=" + self.raylet_socket, "--store-socket=" + self.store_socket,
            "--python=" + sys.executable, "--num-prestart-workers=%d" % int(self.num_cpus),
            "--node-ip=" + self.node_ip, "--auth-token-file=" + token_file,
            "--port=%d" % self.raylet_port, "--object-manager-port=%d" % self.object_manager_port]
            + (["--labels=" + "\n".join("%s=%s" % kv for kv in self.labels.items())] if self.labels else [])
            + (["--head"] if self.head else [])
            + (["--spill-dir=" + self.spill_dir] if self.spill_dir else []) + lifeline)
        with open(os.path.join(self.session_dir, auth.GCS_ADDRESS_FILE), "w") as f:
            f.write(self.gcs_address)
        with open(os.path.join(self.session_dir, auth.NODE_IP_FILE), "w") as f:
            f.write(self.node_ip)
        self._wait_ready()
        return self

    def _start_dashboard(self):
        from lumos.dashboard import launch
        try:
            proc, self.dashboard_url = launch.start(
                self.session_dir, self.gcs_address, self.dashboard_host or self.node_ip, self.dashboard_port,
                lifeline_pid=None if self.detached else os.getpid(), detached=self.detached, env=self._env())
        except (OSError, ValueError):
            self.stop()  # the GCS already runs: a failed start leaves nothing behind
            raise
        self._record("dashboard", proc)

    def _wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.raylet_socket):
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    err = self.read_log(name)
                    self.stop()
                    raise exceptions.RaySystemError(
                        "%s exited during start-up (exit code %s):\n%s\nLogs: %s" % (
                            name, proc.returncode, err, os.path.join(self.session_dir, "logs")))
            if time.monotonic() > deadline:
                self.stop()
                raise exceptions.RaySystemError(
                    "the local node did not start within %.0f s; logs: %s" % (
                        timeout, os.path.join(self.session_dir, "logs")))
            time.sleep(0.002)

    def kill_gcs_server(self):
        """SIGKILLs this head's gcs_server (tests of a GCS restart)."""
        proc = self.procs.get("gcs_server")
        if proc is None:
            raise ValueError("this node runs no gcs_server (not the head)")
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def restart_gcs_server(self, timeout=30.0):
        """Starts the gcs_server again with the same port, token and storage, and
        waits until it answers. REQUIRES: the previous one has exited."""
        if self._gcs_argv is None:
            raise ValueError("this node runs no gcs_server (not the head)")
        old = self.procs.get("gcs_server")
        if old is not None and old.poll() is None:
            raise RuntimeError("the gcs_server (pid %d) is still running; kill it first" % old.pid)
        self._spawn("gcs_server", self._gcs_argv)
        wait_for_gcs(self.gcs_address, timeout, self.procs["gcs_server"], self.session_dir)

    def read_log(self, name, tail=2000):
        try:
            with open(os.path.join(self.session_dir, "logs", name + ".err"), "rb") as f:
                return f.read()[-tail:].decode("utf-8", "replace")
        except OSError:
            return ""

    def write_cluster_file(self):
        with open(os.path.join(self.root, CURRENT_CLUSTER_FILE), "w") as f:
            json.dump({"gcs_address": self.gcs_address, "session_dir": self.session_dir,
                       "node_ip": self.node_ip}, f)

    # ---------------------------------------------------------------- stop
    def stop(self, grace_s=2.0):
        """SIGTERM every process this node started, then SIGKILL after grace_s."""
        order = ["client_server", "dashboard", "raylet", "gcs_server"]
        procs = [self.procs[n] for n in order if n in self.procs]
        for p in procs:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace_s
            while p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs.clear()
        for sock in (self.raylet_socket, self.store_socket):
            try:
                os.unlink(sock)
            except OSError:
                pass
