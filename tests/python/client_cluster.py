"""A head started with `lumos start --head --client-server-port <free>` for
the client-mode tests (tests/python/test_client*.py), and helpers to connect
to it. The test process never runs a node: it is the client."""
import os
import shutil
import socket
import subprocess
import sys
import threading

from conftest import REPO, env_with_lumos, run_cli, short_tmpdir
from lumos._private.node import free_port


class Head:
    """A detached head (gcs, raylet, client server) in its own temp dir."""

    def __init__(self, num_cpus=2):
        self.tmp = short_tmpdir()
        self.port = free_port()
        self.env = env_with_lumos()
        self.env.pop("LUMOS_AUTH_TOKEN", None)
        r = run_cli(["start", "--head", "--temp-dir", self.tmp, "--num-cpus", str(num_cpus),
                     "--client-server-port", str(self.port), "--include-dashboard", "false"], self.env, timeout=60)
        if r.returncode != 0:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise RuntimeError("lumos start failed: %s%s" % (r.stdout, r.stderr))
        with open(os.path.join(self.tmp, "session_latest", "auth_token")) as f:
            self.token = f.read().strip()
        self.address = "lumos://127.0.0.1:%d" % self.port

    def stop(self):
        try:
            run_cli(["stop", "--temp-dir", self.tmp], self.env, timeout=60)
        finally:
            if os.environ.get("LUMOS_TEST_KEEP_TMP"):
                print("kept", self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def run_client(self, code, timeout=120, **env):
        """Runs `code` in a client subprocess (its own lumos.init); returns CompletedProcess."""
        e = env_with_lumos(LUMOS_AUTH_TOKEN=self.token, LUMOS_TEST_ADDRESS=self.address, **env)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                              env=e, cwd=REPO)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; cut() drops every connection
    (and refuses new ones until resume())."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.paused = False
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.paused:
                c.close()
                continue
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(1 << 16)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.paused = True
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def resume(self):
        self.paused = False

    def close(self):
        self.closed = True
        self.cut()
        self.sock.close()
