"""Client mode when things go wrong: a dropped connection (reconnect within
the grace period, clean-up after it), two clients isolated, bad input."""
import os
import sys
import textwrap
import time

import pytest

import lumos as ray
from client_cluster import Head, TcpProxy, free_port
from conftest import wait_until
from lumos.util.client import connect as client_api

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def head():
    if ray.is_initialized():
        ray.shutdown()
    h = Head()
    yield h
    h.stop()


@pytest.fixture
def proxied():
    """Puts a TCP proxy between the client and its driver; yields the list
    that receives it once connected."""
    made = []

    def hook(host, port):
        p = TcpProxy(host, port)
        made.append(p)
        return "127.0.0.1", p.port
    client_api.DRIVER_TARGET_HOOK = hook
    try:
        yield made
    finally:
        client_api.DRIVER_TARGET_HOOK = None
        if ray.is_initialized():
            ray.shutdown()
        for p in made:
            p.close()


@ray.remote
class Counter:
    def __init__(self):
        self.n = 0

    def add(self, k):
        self.n += k
        return self.n


def test_reconnects_after_a_dropped_connection(head, proxied):
    ray.init(head.address, _auth_token=head.token, namespace="reconnect")
    proxy = proxied[0]
    c = Counter.remote()
    assert ray.get(c.add.remote(1)) == 1
    kept = ray.put("kept")
    proxy.cut()
    # Calls made while the connection is down wait in the client and go out
    # (once) after the reconnect.
    refs = [c.add.remote(1) for _ in range(5)]
    late = ray.put("late")
    time.sleep(1.0)
    proxy.resume()
    assert ray.get(refs, timeout=60) == [2, 3, 4, 5, 6]
    assert ray.get([kept, late], timeout=60) == ["kept", "late"]
    # A get in flight when the connection drops is answered after it.
    proxy.cut()
    ref = c.add.remote(10)
    threading_result = {}

    def getter():
        threading_result["v"] = ray.get(ref, timeout=60)
    import threading
    t = threading.Thread(target=getter)
    t.start()
    time.sleep(0.5)
    proxy.resume()
    t.join(60)
    assert threading_result.get("v") == 16

    # A get the driver is still working on when the connection drops is
    # answered on the new connection.
    @ray.remote
    def slow(x):
        time.sleep(1.5)
        return x
    slow_ref = slow.remote(7)
    threading_result.clear()

    def getter2():
        threading_result["v"] = ray.get(slow_ref, timeout=60)
    t = threading.Thread(target=getter2)
    t.start()
    time.sleep(0.5)
    proxy.cut()
    time.sleep(0.3)
    proxy.resume()
    t.join(60)
    assert threading_result.get("v") == 7
    ray.shutdown()


def test_after_the_grace_period_the_driver_and_its_actors_end(head, proxied):
    ray.init(head.address, _auth_token=head.token, namespace="grace", _client_grace_s=2)
    proxy = proxied[0]
    Counter.options(name="ephemeral").remote()
    keeper = Counter.options(name="keeper", lifetime="detached").remote()
    assert ray.get(keeper.add.remote(1)) == 1
    proxy.cut()
    t = time.monotonic()
    with pytest.raises(ConnectionError, match="grace period"):
        ray.get(ray.put(1), timeout=60)
    assert time.monotonic() - t < 30
    ray.shutdown()
    # A new client: the first one's non-detached actor ended with its
    # driver; the detached one lives on.
    client_api.DRIVER_TARGET_HOOK = None
    ray.init(head.address, _auth_token=head.token, namespace="grace")

    def ephemeral_gone():
        try:
            ray.get_actor("ephemeral")
            return False
        except ValueError:
            return True
    assert wait_until(ephemeral_gone, timeout=60)
    k = ray.get_actor("keeper")
    assert ray.get(k.add.remote(1)) == 2
    ray.kill(k)
    ray.shutdown()


def test_two_clients_are_isolated(head):
    ray.init(head.address, _auth_token=head.token)
    mine = ray.put("mine")
    other = head.run_client(textwrap.dedent("""
        import os, lumos
        ctx = lumos.init(os.environ["LUMOS_TEST_ADDRESS"])
        print("JOB", ctx["job_id"], flush=True)
        refs = [lumos.put(b"x" * 1000) for _ in range(100)]   # its objects
        @lumos.remote
        class A:
            def v(self): return 1
        a = A.remote()
        assert lumos.get(a.v.remote()) == 1
        os._exit(3)   # crashes without shutdown
    """))
    assert other.returncode == 3, other.stderr
    other_job = other.stdout.split("JOB", 1)[1].split()[0]
    # This client carries on, its objects intact.
    assert ray.get(mine) == "mine"

    @ray.remote
    def f(x):
        return x + 1
    assert ray.get([f.remote(i) for i in range(20)]) == list(range(1, 21))
    # Each client is its own job (its own driver process).
    ctx = ray.init(head.address, _auth_token=head.token, ignore_reinit_error=True)
    assert ctx["job_id"] != other_job
    ray.shutdown()


def test_wrong_token_is_refused(head):
    with pytest.raises(ConnectionError, match="token"):
        ray.init(head.address, _auth_token="not-the-token")
    assert not ray.is_initialized()


def test_missing_token_names_the_fix(head, monkeypatch):
    monkeypatch.delenv("LUMOS_AUTH_TOKEN", raising=False)
    with pytest.raises(ConnectionError, match="LUMOS_AUTH_TOKEN"):
        ray.init(head.address)


def test_unreachable_address_fails_within_10s(head):
    address = "lumos://127.0.0.1:%d" % free_port()
    t = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        ray.init(address, _auth_token=head.token)
    assert time.monotonic() - t < 10.5
    assert address in str(info.value)


def test_version_mismatch_names_both_versions(head):
    r = head.run_client(textwrap.dedent("""
        import os, lumos
        from lumos.util.client import protocol
        protocol.version_string = lambda: "9.9.9 (client protocol 1)"
        try:
            lumos.init(os.environ["LUMOS_TEST_ADDRESS"])
        except RuntimeError as e:
            print("ERR", e)
    """))
    assert "ERR" in r.stdout, r.stderr
    assert "9.9.9" in r.stdout and ray.__version__ in r.stdout


def test_value_the_server_cannot_unpickle_names_its_type(head, tmp_path):
    (tmp_path / "client_side_types.py").write_text("class OnlyHere:\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import client_side_types
        ray.init(head.address, _auth_token=head.token)
        ref = ray.put(client_side_types.OnlyHere())
        with pytest.raises(ray.exceptions.RaySystemError, match="client_side_types.OnlyHere"):
            ray.get(ref, timeout=60)

        @ray.remote
        def use(x):
            return 1
        with pytest.raises(Exception, match="client_side_types.OnlyHere"):
            ray.get(use.remote(client_side_types.OnlyHere()), timeout=60)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("client_side_types", None)
        ray.shutdown()


def test_client_mode_refuses_local_cluster_arguments(head):
    with pytest.raises(ValueError, match="num_cpus"):
        ray.init(head.address, _auth_token=head.token, num_cpus=2)
    with pytest.raises(TypeError, match="bogus"):
        ray.init(head.address, _auth_token=head.token, bogus=1)


def test_driver_port_refuses_a_wrong_token(head):
    import socket
    from lumos.util.client import transport
    ray.init(head.address, _auth_token=head.token)
    try:
        from lumos._private import worker
        host, port = worker._client.conn.target
        for token, client_id in (("not-the-token", "x"), (head.token, "another-client")):
            s = socket.create_connection((host, port), timeout=10)
            try:
                transport.write_frames(s, [transport.hello_frame(token, client_id)])
                frame = transport.FrameReader(s).read()
                assert frame[:1] == b"X"
            finally:
                s.close()
        # Junk instead of a hello is dropped without an answer.
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"\xff" * 64)
        s.settimeout(10)
        assert s.recv(10) == b""
        s.close()
        assert ray.get(ray.put("still-fine")) == "still-fine"
    finally:
        ray.shutdown()
