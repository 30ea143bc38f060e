"""The dashboard over plain HTTP (urllib): the token door, every API on a
live cluster, the Prometheus endpoint, logs, live streams, and where it
listens. Browser tests are in test_dashboard_browser.py; starting it from
the CLI, Cluster and a port in use in test_dashboard_start.py."""
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request

import psutil
import pytest

import lumos
from lumos._private.node import free_port

from conftest import module_cluster, wait_until

pytestmark = pytest.mark.timeout(180)

API_PATHS = ["/api/overview", "/api/nodes", "/api/cluster_jobs", "/api/actors", "/api/tasks", "/api/tasks/summary",
             "/api/placement_groups", "/api/objects", "/api/task_stream", "/api/timeseries", "/api/app_metrics",
             "/api/logs", "/metrics"]
PAGES = ["/", "/jobs", "/actors", "/tasks", "/task_stream", "/placement_groups", "/objects", "/logs", "/charts"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(url, headers=None, data=None, method=None, timeout=30):
    """(status, headers, body bytes) without following redirects."""
    req = urllib.request.Request(url, headers=headers or {}, data=data, method=method)
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@pytest.fixture(scope="module")
def dash():
    gen = module_cluster(num_cpus=2, include_dashboard=True, dashboard_port=free_port())
    ctx = next(gen)
    token = open(os.path.join(ctx.session_dir, "auth_token")).read().strip()
    d = {"ctx": ctx, "base": "http://" + ctx.dashboard_url, "token": token}
    _workload(d)
    yield d
    next(gen, None)


def _workload(d):
    from lumos.util.metrics import Counter

    @lumos.remote
    def square(x):
        return x * x

    @lumos.remote
    def fails():
        raise ValueError("dashboard-test-boom")

    @lumos.remote
    class Greeter:
        def hello(self):
            print("hello from the greeter actor")
            Counter("dashboard_test_calls", description="calls").inc()
            return "hi"

    assert lumos.get([square.remote(i) for i in range(10)]) == [i * i for i in range(10)]
    with pytest.raises(ValueError):
        lumos.get(fails.remote())
    d["actor"] = Greeter.options(name="greeter").remote()
    assert lumos.get(d["actor"].hello.remote()) == "hi"
    d["pg"] = lumos.util.placement_group([{"CPU": 0.1}])
    lumos.get(d["pg"].ready(), timeout=30)
    d["ref"] = lumos.put(b"x" * 5_000_000)
    # Task events reach the GCS in batches (about a second apart).
    wait_until(lambda: _get(d, "/api/tasks?state=FAILED")["total"] >= 1, timeout=30)
    # Views are snapshots refreshed off the request path (at least every
    # 10 s): under a loaded suite the first node snapshot can predate the node.
    wait_until(lambda: _get(d, "/api/overview")["num_nodes_alive"] == 1, timeout=30)


def _get(d, path, raw=False):
    status, _, body = http(d["base"] + path, {"Authorization": "Bearer " + d["token"]})
    assert status == 200, (path, status, body[:300])
    return body if raw else json.loads(body)


# ---------------------------------------------------------------- the door

def test_no_token_is_401_without_data(dash):
    node_id = _get(dash, "/api/nodes")["nodes"][0]["node_id"]
    for path in API_PATHS + PAGES:
        status, headers, body = http(dash["base"] + path)
        assert status == 401, path
        assert node_id.encode() not in body and b"square" not in body, path
        assert "Bearer" in headers.get("WWW-Authenticate", "")


def test_wrong_token_is_401(dash):
    for headers, query in (({"Authorization": "Bearer wrong"}, ""), ({}, "?token=wrong"),
                           ({"Cookie": "lumos_dashboard=" + dash["token"]}, "")):
        status, _, body = http(dash["base"] + "/api/overview" + query, headers)
        assert status == 401
        assert b"nodes" not in body


def test_browser_without_token_gets_login_form(dash):
    status, headers, body = http(dash["base"] + "/tasks", {"Accept": "text/html"})
    assert status == 401
    assert headers["Content-Type"].startswith("text/html")
    assert b"<form" in body and b'name="token"' in body


def test_query_token_once_then_cookie(dash):
    status, headers, _ = http(dash["base"] + "/tasks?token=" + dash["token"] + "&state=FAILED",
                              {"Accept": "text/html"})
    assert status == 303
    assert headers["Location"] == "/tasks?state=FAILED"  # the token leaves the address bar
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert dash["token"] not in cookie  # an HMAC of it, not the token
    pair = cookie.split(";")[0]
    status, _, body = http(dash["base"] + "/api/overview", {"Cookie": pair})
    assert status == 200 and json.loads(body)["num_nodes_alive"] == 1
    status, _, body = http(dash["base"] + "/tasks", {"Cookie": pair, "Accept": "text/html"})
    assert status == 200 and b"/static/tasks.js" in body
    # A script's ?token gets the answer at once (and the cookie).
    status, headers, body = http(dash["base"] + "/api/nodes?token=" + dash["token"])
    assert status == 200 and "Set-Cookie" in headers


def test_login_form_post(dash):
    form = urllib.parse.urlencode({"token": dash["token"], "next": "/actors"}).encode()
    status, headers, _ = http(dash["base"] + "/login", data=form, method="POST")
    assert status == 303 and headers["Location"] == "/actors" and "HttpOnly" in headers["Set-Cookie"]
    bad = urllib.parse.urlencode({"token": "nope", "next": "//evil.example"}).encode()
    status, headers, body = http(dash["base"] + "/login", data=bad, method="POST")
    assert status == 401 and b"not this cluster" in body and "Set-Cookie" not in headers


def test_listens_on_the_node_ip_only(dash):
    port = int(dash["ctx"].dashboard_url.rsplit(":", 1)[1])
    dashboard = [p for p in psutil.Process().children(recursive=True)
                 if "lumos/dashboard/light_main.py" in " ".join(p.cmdline())]
    assert len(dashboard) == 1
    addrs = [c.laddr for c in dashboard[0].net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    assert addrs and all(a.ip == "127.0.0.1" for a in addrs) and port in [a.port for a in addrs]


# ---------------------------------------------------------------- the APIs

def test_every_api_answers(dash):
    for path in API_PATHS:
        _get(dash, path, raw=True)
    for path in PAGES:
        body = _get(dash, path, raw=True)
        assert b"<main" in body


def test_overview(dash):
    # Answers are cached for a second (cluster.CACHE_S).
    def ready(o):
        return o["store"]["used"] >= 5_000_000 and o["tasks"]["FINISHED"] >= 10 and o["actors"]["ALIVE"] >= 1
    assert wait_until(lambda: ready(_get(dash, "/api/overview")), timeout=30)
    o = _get(dash, "/api/overview")
    assert o["num_nodes_alive"] == 1
    assert o["resources"]["CPU"]["total"] == 2.0
    assert o["store"]["capacity"] > 0 and o["store"]["used"] >= 5_000_000
    assert "spilled_bytes" in o["store"]
    assert o["tasks"]["FINISHED"] >= 10 and o["tasks"]["FAILED"] >= 1, o["tasks"]
    assert o["actors"]["ALIVE"] >= 1


def test_tasks_filters_and_traceback(dash):
    failed = _get(dash, "/api/tasks?state=FAILED")
    assert failed["total"] >= 1 and all(t["state"] == "FAILED" for t in failed["tasks"])
    task = failed["tasks"][0]
    assert task["error_type"] == "TASK_EXECUTION_EXCEPTION"
    detail = _get(dash, "/api/tasks/" + task["task_id"])
    message = detail["attempts"][0]["error_message"]
    assert "Traceback" in message and "ValueError: dashboard-test-boom" in message
    squares = _get(dash, "/api/tasks?func=" + urllib.parse.quote(_func_of(dash, "square")))
    assert squares["total"] == 10
    assert _get(dash, "/api/tasks?q=boom")["total"] >= 1  # searches error types and names
    assert _get(dash, "/api/tasks?limit=3")["tasks"].__len__() == 3
    summary = _get(dash, "/api/tasks/summary")
    by_func = {e["func_or_class_name"]: e["state_counts"] for e in summary["summary"]}
    assert by_func[_func_of(dash, "square")] == {"FINISHED": 10}


def _func_of(dash, short):
    for e in _get(dash, "/api/tasks/summary")["summary"]:
        if e["func_or_class_name"].endswith(short):
            return e["func_or_class_name"]
    raise AssertionError("no function %s in the summary" % short)


def test_bad_requests(dash):
    status, _, body = http(dash["base"] + "/api/tasks/ffffffffffffffffffffffff00000001",
                           {"Authorization": "Bearer " + dash["token"]})
    assert status == 404 and b"no task" in body
    status, _, body = http(dash["base"] + "/api/tasks?limit=abc", {"Authorization": "Bearer " + dash["token"]})
    assert status == 400 and b"limit" in body
    status, _, body = http(dash["base"] + "/api/nope", {"Authorization": "Bearer " + dash["token"]})
    assert status == 404
    status, _, _ = http(dash["base"] + "/static/..%2Fserver.py", {"Authorization": "Bearer " + dash["token"]})
    assert status == 404
    status, _, body = http(dash["base"] + "/api/logs/file", {"Authorization": "Bearer " + dash["token"]})
    assert status == 400 and b"which log" in body


def test_actors_jobs_groups_objects(dash):
    assert wait_until(lambda: _get(dash, "/api/actors?name=greeter")["total"] == 1, timeout=30)
    actors = _get(dash, "/api/actors?state=ALIVE")["actors"]
    greeter = [a for a in actors if a["name"] == "greeter"][0]
    assert greeter["class_name"].endswith("Greeter") and greeter["num_restarts"] == 0
    one = _get(dash, "/api/actors/" + greeter["actor_id"])
    assert one["actor"]["pid"] == greeter["pid"]
    jobs = _get(dash, "/api/cluster_jobs")["jobs"]
    assert jobs[0]["status"] == "RUNNING" and jobs[0]["driver_info"]["pid"] == str(os.getpid())
    pgs = _get(dash, "/api/placement_groups")["placement_groups"]
    assert [p["state"] for p in pgs if p["placement_group_id"] == dash["pg"].id.hex()] == ["CREATED"]
    # Views are snapshots: a stale one is answered while a fresh one is made.
    assert wait_until(lambda: _get(dash, "/api/objects")["stores"][0]["store"]["used"] >= 5_000_000, timeout=30)
    objects = _get(dash, "/api/objects")
    assert dash["ref"].hex() in [o["object_id"] for o in objects["objects"]]


def test_task_stream(dash):
    s = _get(dash, "/api/task_stream?window=600")
    assert len(s["spans"]) >= 11 and s["workers"]
    assert all(s["since_us"] <= sp["start_us"] <= sp["end_us"] <= s["now_us"] for sp in s["spans"])


def test_metrics_endpoint_and_history(dash):
    assert wait_until(lambda: b"dashboard_test_calls" in _get(dash, "/metrics", raw=True), timeout=30)
    text = _get(dash, "/metrics", raw=True).decode()
    assert 'lumos_cluster_resources_total{resource="CPU"} 2.0' in text
    assert "# TYPE lumos_object_store_used_bytes gauge" in text
    line = [x for x in text.splitlines() if x.startswith("dashboard_test_calls{")][0]
    assert 'pid="' in line and 'host="' in line and line.endswith(" 1.0")
    assert wait_until(lambda: len(_get(dash, "/api/timeseries")["samples"]) >= 2, timeout=30)
    ts = _get(dash, "/api/timeseries")
    # Every sample reads the node list at sample time, and none is recorded
    # before the head's raylet registered: no sample shows a 0-CPU cluster.
    assert "cpu_total" in ts["series"]
    assert [s[1]["cpu_total"] for s in ts["samples"]] == [2.0] * len(ts["samples"])
    assert wait_until(lambda: "app:dashboard_test_calls" in _get(dash, "/api/timeseries")["series"], timeout=30)


def test_logs(dash):
    files = _get(dash, "/api/logs")["files"]
    assert any(files.values())
    actor_id = dash["actor"]._actor_id.hex()
    text = _get(dash, "/api/logs/file?actor_id=" + actor_id, raw=True)
    assert b"hello from the greeter actor" in text
    status, _, body = http(dash["base"] + "/api/logs/file?actor_id=" + "ab" * 16,
                           {"Authorization": "Bearer " + dash["token"]})
    assert status == 404 and b"not found" in body


def _first_sse_event(dash, path, event):
    req = urllib.request.Request(dash["base"] + path, headers={"Authorization": "Bearer " + dash["token"]})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["Content-Type"] == "text/event-stream"
        name, data = None, []
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif not line and name:
                if name == event:
                    return json.loads("\n".join(data))
                name, data = None, []
    raise AssertionError("the stream ended without a %s event" % event)


def test_live_streams(dash):
    assert wait_until(lambda: _get(dash, "/api/overview")["tasks"]["FINISHED"] >= 10, timeout=30)
    tick = _first_sse_event(dash, "/api/events", "tick")
    assert tick["nodes"] == 1 and tick["tasks"]["FINISHED"] >= 10
    log = _first_sse_event(dash, "/api/logs/stream?actor_id=" + dash["actor"]._actor_id.hex(), "log")
    assert "hello from the greeter actor" in log


def test_many_requests_at_once(dash):
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda p: _get(dash, p, raw=True), API_PATHS * 4))
    assert len(results) == len(API_PATHS) * 4
    sock = socket.create_connection(("127.0.0.1", int(dash["ctx"].dashboard_url.rsplit(":", 1)[1])), timeout=30)
    sock.sendall(b"GARBAGE\r\n\r\n")  # a malformed request: an error answer, and the server goes on
    sock.recv(1000)
    sock.close()
    _get(dash, "/api/overview")


def test_task_views_past_the_small_bound(dash, monkeypatch):
    """Past task_views.SMALL kept attempts nothing moves every attempt: the
    list is the GCS's newest-first answer, the stream the newest attempts."""
    from lumos.dashboard import task_views
    from lumos.dashboard.cluster import ClusterData
    monkeypatch.setattr(task_views, "SMALL", 3)
    monkeypatch.setattr(task_views, "STREAM_ATTEMPTS", 4)
    data = ClusterData(dash["ctx"].gcs_address, dash["token"])
    summary = data.task_summary()
    assert summary["total"] > 3 and summary["by_function"] == "ok"
    assert summary["state_counts"]["FAILED"] >= 1
    listed = data.tasks(limit=2)
    assert listed["order"] == "newest first" and listed["scope"] == "all" and len(listed["tasks"]) == 2
    everything = data.tasks_view._query([], 0).events  # oldest first
    assert [t["task_id"] for t in listed["tasks"]] == [e.task_id.hex() for e in everything[::-1][:2]]
    failed = data.tasks(state="FAILED", limit=5)
    assert failed["total"] >= 1 and all(t["state"] == "FAILED" for t in failed["tasks"])
    stream = data.task_stream(600)
    assert stream["scope"] == "newest 4" and 1 <= len(stream["spans"]) <= 4
