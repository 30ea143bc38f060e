"""lumos.util.metrics: Counter, Gauge and Histogram with tags, kept per
process and read with collect() / prometheus_text()."""
import pytest

import lumos as ray
from lumos.util import metrics
from lumos.util.metrics import Counter, Gauge, Histogram


def _metric(name):
    return next(m for m in metrics.collect() if m["name"] == name)


def _samples(name):
    m = _metric(name)
    if m["type"] == "histogram":
        return {tuple(sorted(s["tags"].items())): (s["buckets"], s["sum"], s["count"]) for s in m["samples"]}
    return {tuple(sorted(s["tags"].items())): s["value"] for s in m["samples"]}


def test_counter_with_tags_and_default_tags():
    c = Counter("t_requests", description="served requests", tag_keys=("route", "code"))
    c.set_default_tags({"code": "200"})
    c.inc(tags={"route": "/"})
    c.inc(2.5, tags={"route": "/"})
    c.inc(tags={"route": "/a", "code": "500"})
    assert _samples("t_requests") == {(("code", "200"), ("route", "/")): 3.5,
                                      (("code", "500"), ("route", "/a")): 1.0}
    assert _metric("t_requests")["type"] == "counter"
    assert c.info["default_tags"] == {"code": "200"}
    with pytest.raises(ValueError, match="value must be >0"):
        c.inc(0, tags={"route": "/"})
    with pytest.raises(ValueError, match="Missing value for tag key"):
        Counter("t_requests", tag_keys=("route", "code")).inc()
    with pytest.raises(ValueError, match="Unrecognized tag keys"):
        c.inc(tags={"route": "/", "zone": "x"})
    with pytest.raises(TypeError, match="Tag values must be str"):
        c.inc(tags={"route": 5})


def test_same_name_shares_values_and_mismatch_is_refused():
    Counter("t_shared").inc()
    Counter("t_shared").inc()
    assert _samples("t_shared") == {(): 2.0}
    with pytest.raises(ValueError, match="already exists"):
        Gauge("t_shared")


def test_gauge_keeps_the_last_value():
    g = Gauge("t_temperature", tag_keys=("room",))
    g.set(20, tags={"room": "a"})
    g.set(18.5, tags={"room": "a"})
    g.set(-3, tags={"room": "b"})
    assert _samples("t_temperature") == {(("room", "a"),): 18.5, (("room", "b"),): -3.0}


def test_histogram_buckets_sum_count_and_checks():
    h = Histogram("t_latency", description="s", boundaries=[0.1, 1, 10], tag_keys=("op",))
    for v in (0.05, 0.1, 0.5, 5, 50):
        h.observe(v, tags={"op": "get"})
    assert _samples("t_latency") == {(("op", "get"),): ([2, 1, 1, 1], 55.65, 5)}
    assert _metric("t_latency")["boundaries"] == [0.1, 1.0, 10.0]
    with pytest.raises(ValueError, match="boundaries"):
        Histogram("t_bad", boundaries=[])
    with pytest.raises(ValueError, match="positive, increasing"):
        Histogram("t_bad2", boundaries=[1, 1])
    with pytest.raises(ValueError, match="positive, increasing"):
        Histogram("t_bad3", boundaries=[-1, 2])


def test_bad_names_and_tag_keys():
    with pytest.raises(ValueError, match="Empty name"):
        Counter("")
    with pytest.raises(ValueError, match="not valid"):
        Counter("has space")
    with pytest.raises(TypeError, match="tuple"):
        Counter("t_list_keys", tag_keys=["a"])


def test_prometheus_text():
    Counter("t_prom", description="a counter", tag_keys=("k",)).inc(3, tags={"k": 'quote"d'})
    Histogram("t_prom_h", boundaries=[1]).observe(0.5)
    text = metrics.prometheus_text()
    assert "# TYPE t_prom counter" in text and "# HELP t_prom a counter" in text
    assert 't_prom{k="quote\\"d"} 3.0' in text
    assert 't_prom_h_bucket{le="1.0"} 1' in text and 't_prom_h_bucket{le="+Inf"} 1' in text
    assert "t_prom_h_count 1" in text


def test_metrics_recorded_in_a_worker_stay_in_that_process(ray_start_1cpu):
    @ray.remote
    def record(n):
        import os
        from lumos.util.metrics import Counter, collect
        Counter("t_worker_tasks").inc(n)
        return os.getpid(), [m for m in collect() if m["name"] == "t_worker_tasks"][0]["samples"][0]["value"]

    pid1, first = ray.get(record.remote(2))
    pid2, second = ray.get(record.remote(3))
    assert first >= 2
    # Each worker's own registry accumulates what ran there.
    assert second - first == 3 if pid1 == pid2 else second >= 3
    assert not any(m["name"] == "t_worker_tasks" for m in metrics.collect())
