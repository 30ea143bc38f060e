"""Scale envelope, tasks and objects (marked `scale`: `make scale` runs them,
`make test` does not). Each test asserts the issue's budget on this 2-core
machine and records its figures (scale_util.Report):

  1,000,000 tasks submitted before any runs, drained in < 60 s, driver < 2 GB
  one task with 10,000 ObjectRef arguments in < 1 s
  one task with num_returns=10,000
  get() of 100,000 refs
  1,000 placement groups created, ready and removed

Sizes can be lowered for a quick look (LUMOS_SCALE_TASKS=100000 etc.); the
budgets of the time-boxed items are then checked against the smaller size.
"""
import os
import time

import pytest

import lumos as ray
from lumos.util.placement_group import placement_group, remove_placement_group
from scale_util import make_report, peak_rss_mb, reset_peak_rss

pytestmark = pytest.mark.scale

N_TASKS = int(os.environ.get("LUMOS_SCALE_TASKS", 1_000_000))
N_ARGS = int(os.environ.get("LUMOS_SCALE_ARGS", 10_000))
N_RETURNS = int(os.environ.get("LUMOS_SCALE_RETURNS", 10_000))
N_GET = int(os.environ.get("LUMOS_SCALE_GET", 100_000))
N_PGS = int(os.environ.get("LUMOS_SCALE_PGS", 1_000))

TASKS_BUDGET_S = 60.0
DRIVER_BUDGET_MB = 2048.0
ARGS_BUDGET_S = 1.0
RETURNS_BUDGET_S = 5.0
GET_BUDGET_S = 5.0
PGS_BUDGET_S = 60.0


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return make_report(tmp_path_factory)


@ray.remote
def tiny():
    return 0


@ray.remote
def count_args(*args):
    return len(args)


@ray.remote
def many_returns(n):
    return tuple(range(n))


@pytest.mark.timeout(900)
def test_million_tasks_submitted_before_any_run(ray_start_fn, report):
    ray_start_fn(num_cpus=2)
    ray.get([tiny.remote() for _ in range(100)])  # workers up, function exported
    reset_peak_rss()
    start = time.perf_counter()
    refs = [tiny.remote() for _ in range(N_TASKS)]
    submitted = time.perf_counter() - start
    submit_peak = peak_rss_mb()
    values = ray.get(refs, timeout=TASKS_BUDGET_S * 10)
    total = time.perf_counter() - start
    peak = peak_rss_mb()
    assert len(values) == N_TASKS and sum(values) == 0
    del refs, values
    ok = total < TASKS_BUDGET_S and peak < DRIVER_BUDGET_MB
    report.record("tasks", "%d tasks < %.0f s, driver < %.0f MB" % (N_TASKS, TASKS_BUDGET_S, DRIVER_BUDGET_MB),
                  ok, tasks=N_TASKS, submit_s=round(submitted, 2), total_s=round(total, 2),
                  tasks_per_s=round(N_TASKS / total), driver_peak_mb_after_submit=round(submit_peak),
                  driver_peak_mb=round(peak))
    assert total < TASKS_BUDGET_S, "%d tasks took %.1f s" % (N_TASKS, total)
    assert peak < DRIVER_BUDGET_MB, "driver peak RSS %.0f MB" % peak


@pytest.mark.timeout(300)
def test_task_with_ten_thousand_ref_args(ray_start, report):
    refs = [ray.put(i) for i in range(N_ARGS)]
    assert ray.get(count_args.remote(*refs[:10])) == 10  # function exported, a worker leased
    start = time.perf_counter()
    n = ray.get(count_args.remote(*refs))
    elapsed = time.perf_counter() - start
    assert n == N_ARGS
    # The same with task outputs as arguments (owned by this driver, ready).
    outs = [tiny.remote() for _ in range(N_ARGS)]
    ray.get(outs)
    start = time.perf_counter()
    assert ray.get(count_args.remote(*outs)) == N_ARGS
    elapsed_outs = time.perf_counter() - start
    ok = max(elapsed, elapsed_outs) < ARGS_BUDGET_S
    report.record("ref_args", "1 task, %d ref args < %.0f s" % (N_ARGS, ARGS_BUDGET_S), ok, args=N_ARGS,
                  put_args_s=round(elapsed, 3), task_output_args_s=round(elapsed_outs, 3))
    assert ok, "a task with %d ref args took %.2f s (put) / %.2f s (task outputs)" % (N_ARGS, elapsed, elapsed_outs)


@pytest.mark.timeout(300)
def test_task_with_ten_thousand_returns(ray_start, report):
    assert ray.get(many_returns.options(num_returns=3).remote(3)) == [0, 1, 2]
    start = time.perf_counter()
    refs = many_returns.options(num_returns=N_RETURNS).remote(N_RETURNS)
    submitted = time.perf_counter() - start
    values = ray.get(refs)
    elapsed = time.perf_counter() - start
    assert values == list(range(N_RETURNS))
    ok = elapsed < RETURNS_BUDGET_S
    report.record("returns", "1 task, num_returns=%d < %.0f s" % (N_RETURNS, RETURNS_BUDGET_S), ok,
                  returns=N_RETURNS, submit_s=round(submitted, 3), total_s=round(elapsed, 3))
    assert ok, "num_returns=%d took %.2f s" % (N_RETURNS, elapsed)


@pytest.mark.timeout(300)
def test_get_of_a_hundred_thousand_refs(ray_start, report):
    start = time.perf_counter()
    refs = [ray.put(i) for i in range(N_GET)]
    put_s = time.perf_counter() - start
    start = time.perf_counter()
    values = ray.get(refs)
    get_s = time.perf_counter() - start
    assert values == list(range(N_GET))
    # Refs of task outputs, got while the tasks still run.
    start = time.perf_counter()
    outs = [tiny.remote() for _ in range(N_GET)]
    assert sum(ray.get(outs)) == 0
    tasks_s = time.perf_counter() - start
    start = time.perf_counter()
    ray.get(outs)
    get_done_s = time.perf_counter() - start
    ok = get_s < GET_BUDGET_S and get_done_s < GET_BUDGET_S
    report.record("get", "get of %d refs < %.0f s" % (N_GET, GET_BUDGET_S), ok, refs=N_GET,
                  put_s=round(put_s, 2), get_put_refs_s=round(get_s, 2), tasks_submit_and_get_s=round(tasks_s, 2),
                  get_finished_task_refs_s=round(get_done_s, 2))
    assert ok, "get of %d refs took %.2f s (puts) / %.2f s (finished tasks)" % (N_GET, get_s, get_done_s)


@pytest.mark.timeout(600)
def test_thousand_placement_groups(ray_start_fn, report):
    ray_start_fn(num_cpus=2, resources={"slot": N_PGS})
    start = time.perf_counter()
    pgs = [placement_group([{"slot": 1}]) for _ in range(N_PGS)]
    created = time.perf_counter() - start
    ray.get([pg.ready() for pg in pgs], timeout=PGS_BUDGET_S * 5)
    ready = time.perf_counter() - start
    # A task in the last group runs there.
    last = pgs[-1]
    assert ray.get(tiny.options(num_cpus=0, resources={"slot": 0.5}, placement_group=last).remote()) == 0
    start = time.perf_counter()
    for pg in pgs:
        remove_placement_group(pg)

    def freed():
        return ray.available_resources().get("slot", 0) >= N_PGS

    deadline = time.monotonic() + PGS_BUDGET_S * 5
    while not freed() and time.monotonic() < deadline:
        time.sleep(0.1)
    removed = time.perf_counter() - start
    assert freed(), ray.available_resources()
    ok = ready < PGS_BUDGET_S and removed < PGS_BUDGET_S
    report.record("placement_groups", "%d PGs ready and removed, each < %.0f s" % (N_PGS, PGS_BUDGET_S), ok,
                  pgs=N_PGS, create_calls_s=round(created, 2), all_ready_s=round(ready, 2),
                  all_removed_s=round(removed, 2))
    assert ok, "%d PGs: ready after %.1f s, removed after %.1f s" % (N_PGS, ready, removed)
