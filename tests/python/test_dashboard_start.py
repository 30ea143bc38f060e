"""Starting the dashboard: lumos.init, `lumos start --head`, cluster_utils.Cluster;
a port in use is an error naming it; include_dashboard=False starts the
cluster regardless; `lumos stop` and shutdown() end the dashboard."""
import os
import socket
import urllib.request

import psutil
import pytest

import lumos
from lumos._private.node import free_port
from lumos.cluster_utils import Cluster

from conftest import env_with_lumos, processes_under, run_cli, wait_gone

pytestmark = pytest.mark.timeout(120)


def _token(session_dir):
    with open(os.path.join(session_dir, "auth_token")) as f:
        return f.read().strip()


def _overview(url, token):
    req = urllib.request.Request(url + "/api/overview", headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=20) as r:
        return r.status


def _dashboards():
    return [p for p in psutil.Process().children(recursive=True) if "lumos/dashboard/light_main.py" in " ".join(p.cmdline())]


def test_init_prints_url_and_shutdown_ends_it(no_cluster, capfd):
    port = free_port()
    ctx = no_cluster(num_cpus=1, include_dashboard=True, dashboard_port=port)
    assert ctx.dashboard_url == "127.0.0.1:%d" % port
    assert "View the dashboard at http://127.0.0.1:%d" % port in capfd.readouterr().err
    assert _overview("http://" + ctx.dashboard_url, _token(ctx.session_dir)) == 200
    procs = _dashboards()
    assert len(procs) == 1
    with open(os.path.join(ctx.session_dir, "pids", "dashboard.pid")) as f:
        assert int(f.read().split()[0]) == procs[0].pid
    lumos.shutdown()
    assert not wait_gone(procs, 5.0)


def test_init_default_has_no_dashboard(no_cluster):
    ctx = no_cluster(num_cpus=1)
    assert ctx.dashboard_url is None and not _dashboards()


def test_port_in_use_is_an_error_naming_it(no_cluster):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="dashboard port %d" % port):
            no_cluster(num_cpus=1, include_dashboard=True, dashboard_port=port)
        assert not lumos.is_initialized()
        # No dashboard asked for: the cluster starts regardless.
        ctx = no_cluster(num_cpus=1, include_dashboard=False, dashboard_port=port)
        assert ctx.dashboard_url is None and lumos.is_initialized()


def test_cluster_utils_head_node_args():
    port = free_port()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": True,
                                                            "dashboard_port": port})
    try:
        url = cluster.head_node._node.dashboard_url
        assert url == "http://127.0.0.1:%d" % port
        assert _overview(url, _token(cluster.head_node.session_dir)) == 200
        procs = _dashboards()
        assert len(procs) == 1
    finally:
        cluster.shutdown()
    assert not wait_gone(procs, 5.0)


def test_cli_start_head_prints_url_and_stop_ends_it(tmp_short):
    env = env_with_lumos()
    port = free_port()
    r = run_cli(["start", "--head", "--num-cpus=1", "--temp-dir", tmp_short, "--dashboard-port", str(port)], env,
                timeout=60)
    try:
        assert r.returncode == 0, r.stderr
        assert "View the dashboard at http://127.0.0.1:%d" % port in r.stdout
        session = os.path.realpath(os.path.join(tmp_short, "session_latest"))
        assert _overview("http://127.0.0.1:%d" % port, _token(session)) == 200
        dash = [p for p in processes_under(tmp_short) if "lumos/dashboard/light_main.py" in " ".join(p.cmdline())]
        assert len(dash) == 1
    finally:
        stop = run_cli(["stop", "--temp-dir", tmp_short], env, timeout=60)
    assert stop.returncode == 0, stop.stderr
    assert not wait_gone(processes_under(tmp_short), 5.0)


def test_cli_port_in_use_and_include_dashboard_false(tmp_short):
    env = env_with_lumos()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = run_cli(["start", "--head", "--num-cpus=1", "--temp-dir", tmp_short, "--dashboard-port", str(port)],
                    env, timeout=60)
        assert r.returncode != 0 and "dashboard port %d" % port in r.stderr
        assert not wait_gone(processes_under(tmp_short), 5.0)
        r = run_cli(["start", "--head", "--num-cpus=1", "--temp-dir", tmp_short, "--dashboard-port", str(port),
                     "--include-dashboard", "false"], env, timeout=60)
        try:
            assert r.returncode == 0, r.stderr
            assert "dashboard" not in r.stdout.lower()
            assert not [p for p in processes_under(tmp_short) if "lumos/dashboard/" in " ".join(p.cmdline())]
        finally:
            run_cli(["stop", "--temp-dir", tmp_short], env, timeout=60)
    r = run_cli(["start", "--head", "--include-dashboard", "maybe"], env)
    assert r.returncode != 0 and "true or false" in r.stderr
