"""Profile spans (lumos.util.profiling.profile, Ray's
ray._private.profiling.profile): recorded inside tasks and actor calls, kept
by the GCS with their attempt, drawn by lumos.timeline() inside the task's
box on the same pid/tid."""
import json
import time

import pytest

import lumos as ray
from lumos.util.profiling import profile

pytestmark = pytest.mark.timeout(120)


@ray.remote
def traced(x):
    with profile("outer", extra_data={"x": x, "cname": "good"}):
        time.sleep(0.02)
        with profile("inner", extra_data={"name": "inner step"}):
            time.sleep(0.02)
    return x


@ray.remote
def fails_inside_span():
    with profile("doomed"):
        raise KeyError("span-boom")


@ray.remote
class Tracer:
    def work(self):
        import lumos._private.profiling as ray_path   # the module path Ray programs use
        with ray_path.profile("actor step"):
            time.sleep(0.01)
        return ray.get_runtime_context().get_task_id()


def _spans_of(task_id, want, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        events = ray.timeline()
        mine = [e for e in events if e["ph"] == "X" and e["args"].get("task_id") == task_id]
        spans = [e for e in mine if not e["cat"].startswith("task:")]
        tasks = [e for e in mine if e["cat"].startswith("task:")]
        if (len(spans) >= want and tasks) or time.monotonic() > deadline:
            return tasks, spans, events
        time.sleep(0.1)


def test_spans_nest_inside_their_task_on_its_row(ray_start, tmp_path):
    ref = traced.remote("7")
    assert ray.get(ref) == "7"
    tasks, spans, _ = _spans_of(ref.task_id().hex(), 2)
    assert len(tasks) == 1 and len(spans) == 2, (tasks, spans)
    task = tasks[0]
    by_cat = {s["cat"]: s for s in spans}
    outer, inner = by_cat["outer"], by_cat["inner"]
    assert outer["name"] == "outer" and inner["name"] == "inner step"  # extra_data "name" renames
    assert outer["cname"] == "good" and outer["args"]["x"] == "7"
    for s in spans:
        assert (s["pid"], s["tid"]) == (task["pid"], task["tid"])
        assert task["ts"] <= s["ts"] and s["ts"] + s["dur"] <= task["ts"] + task["dur"]
        assert s["args"]["attempt_number"] == 0 and s["args"]["func_or_class_name"] == "traced"
    assert outer["ts"] <= inner["ts"] and inner["ts"] + inner["dur"] <= outer["ts"] + outer["dur"]
    assert inner["dur"] >= 20_000 and outer["dur"] >= 40_000   # µs
    # The written trace is valid JSON holding the same spans.
    path = ray.timeline(str(tmp_path / "trace.json"))
    written = json.load(open(path))
    assert sum(1 for e in written if e.get("cat") in ("outer", "inner")
               and e["args"].get("task_id") == ref.task_id().hex()) == 2


def test_a_span_whose_block_raises_is_kept_with_the_error(ray_start):
    ref = fails_inside_span.remote()
    with pytest.raises(KeyError):
        ray.get(ref)
    _, spans, _ = _spans_of(ref.task_id().hex(), 1)
    assert len(spans) == 1
    assert spans[0]["args"]["error_type"] == "KeyError" and "span-boom" in spans[0]["args"]["error"]


def test_actor_call_spans_and_rays_module_path(ray_start):
    actor = Tracer.remote()
    task_id = ray.get(actor.work.remote())
    tasks, spans, _ = _spans_of(task_id, 1)
    assert [s["name"] for s in spans] == ["actor step"]
    assert (spans[0]["pid"], spans[0]["tid"]) == (tasks[0]["pid"], tasks[0]["tid"])


def test_outside_a_task_nothing_is_recorded_and_bad_input_is_named(ray_start):
    with profile("driver side") as span:   # Ray records driver spans only with RAY_PROFILING
        pass
    assert span is not None
    with pytest.raises(TypeError, match="event_type must be a non-empty str"):
        profile(3)
    with pytest.raises(TypeError, match="extra_data=.*dict with str keys"):
        profile("x", extra_data=["a"])
