"""Dashboard pieces without a cluster: the token door, snapshots, the
metrics ring buffer and Prometheus merging, routing of a registered module,
and the light start that keeps the core worker out of the process."""
import os
import subprocess
import sys
import threading
import time

import pytest

from lumos.dashboard import app_metrics, http_auth, server, snapshots, timeseries
from lumos.dashboard.routing import DashboardContext, HttpError, Response

pytestmark = pytest.mark.timeout(60)


def test_authenticator():
    auth = http_auth.Authenticator("s3cret")
    assert auth.token_ok("s3cret") and not auth.token_ok("s3cre") and not auth.token_ok("")
    assert auth.bearer_ok({"authorization": "Bearer s3cret"})
    assert not auth.bearer_ok({"authorization": "Basic s3cret"})
    cookie = auth.set_cookie_header()
    assert "s3cret" not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    pair = cookie.split(";")[0]
    assert auth.cookie_ok({"cookie": "a=b; " + pair})
    assert not auth.cookie_ok({"cookie": "lumos_dashboard=s3cret"})
    assert http_auth.Authenticator("other").cookie_value != auth.cookie_value
    with pytest.raises(ValueError):
        http_auth.Authenticator("")


def test_redirect_targets_stay_on_site():
    assert http_auth.safe_next("/tasks?state=FAILED") == "/tasks?state=FAILED"
    for bad in ("//evil.example/x", "https://evil.example", "/\\evil", "tasks"):
        assert http_auth.safe_next(bad) == "/"
    assert http_auth.without_token("/a", {"token": "t", "b": "1"}) == "/a?b=1"
    page = http_auth.login_page('/x"><script>', failed=True)
    assert "<script>" not in page and "not this cluster" in page


def test_snapshots_serve_stale_and_bound_the_rate():
    calls = []

    def slow():
        calls.append(time.monotonic())
        time.sleep(0.05)
        return len(calls)

    bounded = snapshots.Snapshots(cost_factor=1000.0)
    assert bounded.get("k", slow, ttl=0.0) == 1  # the first computation is waited for
    # Stale at once (ttl 0), but its period is 1000 x its cost (capped at 10 s): not redone.
    assert bounded.get("k", slow, ttl=0.0) == 1 and len(calls) == 1
    eager = snapshots.Snapshots(cost_factor=0.0)
    assert eager.get("k", slow, ttl=0.0) == 2
    assert eager.get("k", slow, ttl=0.0) == 2  # the stale answer; a refresh starts
    deadline = time.monotonic() + 10
    while eager.get("k", slow, ttl=100.0) != 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert eager.get("k", slow, ttl=100.0) == 3 and len(calls) == 3
    assert eager.fresh("k", slow) == 4


def test_snapshot_first_computation_is_shared():
    started = threading.Event()
    count = []

    def fn():
        count.append(1)
        started.set()
        time.sleep(0.2)
        return "v"

    snaps = snapshots.Snapshots()
    out = []
    threads = [threading.Thread(target=lambda: out.append(snaps.get("x", fn, 1.0))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == ["v"] * 5 and len(count) == 1


def test_snapshot_encoding_is_reused_until_the_snapshot_changes(monkeypatch):
    snaps = snapshots.Snapshots()
    calls = []

    def encode(*parts):
        calls.append(parts)
        return repr(parts).encode()
    a, b = {"x": 1}, {"x": 1}
    assert snaps.encoded("k", (a,), encode) == snaps.encoded("k", (a,), encode) == b"({'x': 1},)"
    assert len(calls) == 1
    snaps.encoded("k", (b,), encode)  # an equal but new snapshot (a refresh): encoded again
    snaps.encoded("k", (b, a), encode)
    assert len(calls) == 3
    monkeypatch.setattr(snapshots, "MAX_ENCODED", 2)
    snaps.encoded("k2", (a,), encode)
    snaps.encoded("k3", (a,), encode)  # past the bound: the old entries go
    snaps.encoded("k", (b, a), encode)
    assert len(calls) == 6


def test_ring_keeps_the_last_samples():
    ring = timeseries.Ring(capacity=3)
    for i in range(5):
        ring.append(i, {"x": i})
    assert [t for t, _ in ring.snapshot()] == [2, 3, 4] and len(ring) == 3
    assert [t for t, _ in ring.snapshot(since_ms=3)] == [4]


class _FakeClusterData:
    """fresh_overview() answers from a list the test changes (the GCS's node table)."""

    def __init__(self):
        self.nodes = []

    def fresh_overview(self):
        cpu = float(len([n for n in self.nodes if n == "ALIVE"]) * 2)
        return {"nodes": list(self.nodes), "num_nodes_alive": self.nodes.count("ALIVE"),
                "resources": {"CPU": {"used": 0.0, "total": cpu}} if cpu else {},
                "store": {"used": 0, "capacity": 0, "spilled_bytes": 0}, "tasks": {}, "actors": {}}

    def cached(self, key, fn, ttl=1.0):
        assert key == "app_metrics"
        return []


def test_sampler_records_nothing_before_the_first_node():
    data = _FakeClusterData()
    sampler = timeseries.Sampler(data, interval_s=60)
    assert sampler.sample_once() is False and len(sampler.ring) == 0
    data.nodes.append("ALIVE")
    assert sampler.sample_once() is True
    assert [v["cpu_total"] for _, v in sampler.ring.snapshot()] == [2.0]
    data.nodes[0] = "DEAD"  # a cluster that had a node and lost it does have 0 CPUs
    assert sampler.sample_once() is True
    assert [v["cpu_total"] for _, v in sampler.ring.snapshot()] == [2.0, 0.0]


def test_app_metrics_merge_labels_and_sum():
    reports = [
        {"pid": 1, "host": "h", "metrics": [{"name": "c", "type": "counter", "description": "d", "tag_keys": ["r"],
                                             "samples": [{"tags": {"r": "a"}, "value": 2.0}]}]},
        {"pid": 2, "host": "h", "metrics": [{"name": "c", "type": "counter", "description": "d", "tag_keys": ["r"],
                                             "samples": [{"tags": {"r": "a"}, "value": 3.0}]}]},
    ]
    text = app_metrics.prometheus_text(app_metrics.merged(reports))
    assert text.count("# TYPE c counter") == 1
    assert 'c{r="a",pid="1",host="h"} 2.0' in text and 'c{r="a",pid="2",host="h"} 3.0' in text
    assert timeseries.app_sample(reports) == {"app:c": 5.0}


def test_router_built_from_modules(tmp_path, monkeypatch):
    mod = tmp_path / "dash_test_routes.py"
    mod.write_text("from lumos.dashboard.routing import Response, HttpError\n"
                   "def register(router, ctx):\n"
                   "    router.add('GET', '/api/x/{name}', lambda r, p: Response.json({'name': p['name']}))\n"
                   "    router.add('GET', '/api/bad', lambda r, p: (_ for _ in ()).throw(HttpError(418, 'no')))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ctx = DashboardContext("127.0.0.1:1", str(tmp_path), "t", "127.0.0.1", 0)
    router = server.build_router(ctx, ["dash_test_routes", "no_such_module_here"])  # a broken one is skipped
    handler, params = router.match("GET", "/api/x/abc/")
    assert isinstance(handler(None, params), Response) and params == {"name": "abc"}
    with pytest.raises(HttpError) as e:
        router.match("POST", "/api/x/abc")
    assert e.value.status == 405


def test_light_start_keeps_the_core_worker_out():
    code = ("import runpy, sys\n"
            "g = runpy.run_path(%r, run_name='light')\n"
            "g['_light_packages']()\n"
            "from lumos.dashboard import server\n"
            "import importlib\n"
            "for m in server.ROUTE_MODULES: importlib.import_module(m)\n"
            "import lumos.dashboard.cluster, lumos.util.state.logs\n"
            "print('lumos._raylet' in sys.modules, 'lumos._private.worker' in sys.modules)\n"
            % os.path.join(os.path.dirname(server.__file__), "light_main.py"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"], "a route module loads the core worker: " + out.stdout
