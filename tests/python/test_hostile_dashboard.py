"""The dashboard's HTTP port against hostile input (issue 16; the node's
fastpath and gRPC ports are in test_hostile_peers.py): garbage and absurd
requests get an error answer, a client that connects and never speaks is
dropped after the idle timeout instead of holding a thread for ever, and
neither blocks anybody else."""
import os
import socket
import time
import urllib.error
import urllib.request

import psutil
import pytest

from conftest import module_cluster, wait_until
from lumos._private.node import free_port

IDLE_S = 1.0


@pytest.fixture(scope="module")
def dashboard():
    os.environ["LUMOS_DASHBOARD_IDLE_TIMEOUT_S"] = str(IDLE_S)  # inherited by the dashboard init starts
    try:
        port = free_port()
        for ctx in module_cluster(num_cpus=1, include_dashboard=True, dashboard_port=port):
            os.environ.pop("LUMOS_DASHBOARD_IDLE_TIMEOUT_S", None)
            assert wait_until(lambda: _answers(port), 20)
            proc = [c for c in psutil.Process().children(recursive=True)
                    if any("dashboard" in a for a in c.cmdline())]
            assert len(proc) == 1, proc
            yield port, proc[0]
    finally:
        os.environ.pop("LUMOS_DASHBOARD_IDLE_TIMEOUT_S", None)


def _answers(port):
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5)
    except urllib.error.HTTPError:
        return True  # 401 without the token: it answers
    except OSError:
        return False
    return True


def _closed_by_server(sock, timeout):
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_garbage_gets_an_error_answer(dashboard):
    port, proc = dashboard
    for junk in (bytes(range(256)) * 4, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\xff" * 300,
                 b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(junk)
        s.settimeout(10)
        assert s.recv(64), junk[:20]  # an HTTP error page or status line
        s.close()
    assert proc.is_running() and _answers(port)


def test_silent_clients_are_dropped_and_block_nobody(dashboard):
    port, proc = dashboard
    threads = proc.num_threads()
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    t0 = time.monotonic()
    assert _answers(port)  # served while they hang there
    assert all(_closed_by_server(s, IDLE_S + 20) for s in silent)
    assert time.monotonic() - t0 < IDLE_S + 20
    for s in silent:
        s.close()
    # Their threads are gone too.
    assert wait_until(lambda: proc.num_threads() <= threads + 2, 10), (threads, proc.num_threads())
    assert proc.is_running()
