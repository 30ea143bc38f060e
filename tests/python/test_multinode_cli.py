"""Joining a cluster from the command line, and the bad inputs and faults of
issue 10: a wrong or missing token, an address without a port, an
unreachable head, a taken port, another lumos version, and a node that
leaves while holding objects."""
import json
import os
import socket
import time

import numpy as np
import pytest

import lumos
from lumos.cluster_utils import Cluster
from lumos.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from conftest import env_with_lumos, run_cli, short_tmpdir


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def head(no_cluster, monkeypatch):
    """A head started by `lumos start --head` in a temp dir of its own."""
    monkeypatch.delenv("LUMOS_AUTH_TOKEN", raising=False)
    tmp = short_tmpdir()
    env = env_with_lumos()
    port = _free_port()
    r = run_cli(["start", "--head", "--port", str(port), "--num-cpus", "1", "--temp-dir", tmp], env)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(tmp, "lumos_current_cluster")) as f:
        info = json.load(f)
    with open(os.path.join(info["session_dir"], "auth_token")) as f:
        token = f.read().strip()
    assert oct(os.stat(os.path.join(info["session_dir"], "auth_token")).st_mode & 0o777) == "0o600"
    state = {"tmp": tmp, "address": info["gcs_address"], "token": token, "env": env, "joined": []}
    yield state
    for d in state["joined"] + [tmp]:  # joined nodes first, the head last
        run_cli(["stop", "--temp-dir", d], env)


def _join(head, *extra, token=None, tmp=None):
    tmp = tmp or short_tmpdir()
    head["joined"].append(tmp)
    env = dict(head["env"])
    if token is not None:
        env["LUMOS_AUTH_TOKEN"] = token
    r = run_cli(["start", "--address", head["address"], "--temp-dir", tmp] + list(extra), env, timeout=60)
    return r, tmp


def _alive_nodes(head):
    from lumos import _raylet
    _raylet.set_cluster_identity(head["token"], "127.0.0.1")
    return [n for n in _raylet.GcsClient(head["address"]).get_all_node_info() if n["Alive"]]


def test_a_node_joins_from_the_command_line(head):
    r, tmp = _join(head, "--num-cpus", "2", "--resources", '{"side": 1}', token=head["token"])
    assert r.returncode == 0, r.stderr
    assert "Joined the lumos cluster" in r.stdout
    nodes = _alive_nodes(head)
    assert len(nodes) == 2
    side = [n["NodeID"] for n in nodes if n["Resources"].get("side")]
    assert len(side) == 1
    # A driver on this host attaches by address and runs work on the joined node.
    out = run_cli_python(head, """
import lumos
lumos.init(address=%r, _temp_dir=%r)
@lumos.remote(resources={"side": 1})
def f():
    return lumos.get_runtime_context().get_node_id()
print("ran on", lumos.get(f.remote()))
""" % (head["address"], head["tmp"]))
    assert "ran on " + side[0] in out


def run_cli_python(head, code):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=head["env"])
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_wrong_or_missing_token_is_refused_and_nothing_is_added(head):
    r, _ = _join(head, token="not-the-token")
    assert r.returncode != 0
    assert "token" in (r.stderr + r.stdout).lower()
    r, _ = _join(head)  # no token at all
    assert r.returncode != 0 and "LUMOS_AUTH_TOKEN" in r.stderr
    assert len(_alive_nodes(head)) == 1


def test_gcs_refuses_calls_without_the_token_or_from_another_version(head):
    import grpc
    from lumos._proto import gcs_service_pb2 as pb
    from lumos._proto import gcs_service_pb2_grpc as pb_grpc
    stub = pb_grpc.NodeInfoGcsServiceStub(grpc.insecure_channel(head["address"]))
    with pytest.raises(grpc.RpcError) as e:
        stub.GetAllNodeInfo(pb.GetAllNodeInfoRequest(), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as e:
        stub.GetAllNodeInfo(pb.GetAllNodeInfoRequest(), timeout=5,
                            metadata=(("authorization", "Bearer " + head["token"]), ("lumos-version", "0.0.1")))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "0.0.1" in e.value.details() and lumos.__version__ in e.value.details()
    ok = stub.GetAllNodeInfo(pb.GetAllNodeInfoRequest(), timeout=5,
                             metadata=(("authorization", "Bearer " + head["token"]),))
    assert len(ok.nodes) == 1


def test_tcp_ports_refuse_a_peer_without_the_token(head):
    """The raylet's TCP port answers a frame that is not AUTHENTICATE with an
    error and closes; nothing reaches its handlers."""
    node = _alive_nodes(head)[0]
    tcp = [p for p in node["RayletEndpoint"].split(";") if p.startswith("tcp:")][0]
    host, port = tcp[4:].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        # A REGISTER_CLIENT request frame (method 1) with an empty payload.
        s.sendall((0).to_bytes(4, "little") + (1).to_bytes(2, "little") + bytes([1, 0]) + (7).to_bytes(8, "little"))
        s.settimeout(5)
        reply = s.recv(4096)
        assert reply[6] == 2 and reply[7] & 1  # a reply frame with the error flag
        assert b"AUTHENTICATE" in reply
        assert s.recv(4096) == b""  # then closed


def test_bad_addresses_fail_fast_naming_the_address(no_cluster):
    env = env_with_lumos(LUMOS_AUTH_TOKEN="x")
    r = run_cli(["start", "--address", "127.0.0.1"], env)
    assert r.returncode != 0 and "HOST:PORT" in r.stderr
    port = _free_port()  # nothing listens there
    t0 = time.monotonic()
    r = run_cli(["start", "--address", "127.0.0.1:%d" % port, "--temp-dir", short_tmpdir()], env)
    assert r.returncode != 0
    assert "127.0.0.1:%d" % port in r.stderr
    assert time.monotonic() - t0 < 10
    with pytest.raises(ValueError, match="HOST:PORT"):
        lumos.init(address="127.0.0.1")


def test_a_taken_port_is_an_error_naming_it(no_cluster):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        tmp = short_tmpdir()
        r = run_cli(["start", "--head", "--port", str(port), "--temp-dir", tmp], env_with_lumos())
        try:
            assert r.returncode != 0
            assert str(port) in r.stderr
        finally:
            run_cli(["stop", "--temp-dir", tmp], env_with_lumos())


@pytest.fixture
def two_nodes(no_cluster):
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "temp_dir": tmp})
    side = c.add_node(num_cpus=1, resources={"side": 1}, temp_dir=tmp)
    c.connect()
    yield c, side
    c.shutdown()


def test_objects_of_a_node_that_left_are_lost_naming_it_or_rebuilt(two_nodes):
    cluster, side = two_nodes

    @lumos.remote(max_retries=0)
    def make_once():
        return np.ones(500_000)

    @lumos.remote(max_retries=2)
    def make_again():
        return np.arange(500_000)

    on_side = NodeAffinitySchedulingStrategy(side.node_id, soft=True)
    lost = make_once.options(scheduling_strategy=on_side).remote()
    rebuilt = make_again.options(scheduling_strategy=on_side).remote()
    lumos.wait([lost, rebuilt], num_returns=2)
    locations = lumos.experimental.get_object_locations([lost, rebuilt])
    assert locations[lost]["node_ids"] == [side.node_id]
    cluster.remove_node(side, allow_graceful=False)  # gone at once (a graceful removal drains: test_drain.py)
    with pytest.raises(lumos.exceptions.ObjectLostError) as e:
        lumos.get(lost, timeout=30)
    assert side.node_id in str(e.value)
    assert int(lumos.get(rebuilt, timeout=30)[-1]) == 499_999  # re-made by lineage on the head


def test_a_spilled_object_is_served_to_another_node(no_cluster):
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "temp_dir": tmp,
                                                       "object_store_memory": 64 << 20})
    c.add_node(num_cpus=1, resources={"b": 1}, temp_dir=tmp, object_store_memory=64 << 20)
    c.connect()
    try:
        refs = [lumos.put(np.full(2_000_000, i)) for i in range(6)]  # 6 x 16 MB into 64 MB: spills

        @lumos.remote(resources={"b": 1})
        def first(x):
            return int(x[0])
        assert lumos.get([first.remote(r) for r in refs]) == list(range(6))
        stats = lumos._private.worker.core_worker().store_stats()
        assert stats["bytes_spilled_total"] > 0
    finally:
        c.shutdown()
