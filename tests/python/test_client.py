"""Client mode: the tasks, actors and objects behaviour tests re-run through
lumos:// (this process is the client of a head started by `lumos start`),
plus what only a client has (uploads, logs printed here, stand-ins)."""
import os
import textwrap
import time

import numpy as np
import pytest

import lumos as ray
from client_cluster import Head

import test_actors
import test_basic
import test_errors
import test_objects
import test_streaming

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def client():
    """This process connected to a fresh head through lumos://."""
    if ray.is_initialized():
        ray.shutdown()
    head = Head()
    try:
        ray.init(head.address, _auth_token=head.token)
        yield head
    finally:
        ray.shutdown()
        head.stop()


# Bodies of existing behaviour tests (they take the cluster fixture only to
# have one connected): each runs here through the client.
REUSED = [
    test_basic.test_remote_and_get, test_basic.test_put_and_get, test_basic.test_put_ref_as_argument,
    test_basic.test_kwargs, test_basic.test_kwargs_varargs, test_basic.test_nested_refs_in_containers_stay_refs,
    test_basic.test_nested_refs_in_put_containers, test_basic.test_task_returns_refs_in_container,
    test_basic.test_num_returns, test_basic.test_num_returns_zero, test_basic.test_options_chained,
    test_basic.test_tasks_submit_tasks, test_basic.test_wait_basic, test_basic.test_wait_timeout_zero,
    test_basic.test_wait_preserves_order, test_basic.test_closure_and_lambda_functions,
    test_actors.test_remote_returns_handle_at_once_and_methods_return_refs, test_actors.test_state_persists,
    test_actors.test_calls_run_in_submission_order, test_actors.test_method_options_num_returns,
    test_actors.test_method_decorator_num_returns, test_actors.test_calling_class_directly_is_type_error,
    test_actors.test_unknown_method_is_attribute_error_at_call_site,
    test_actors.test_wrong_constructor_args_is_type_error_at_remote,
    test_actors.test_wrong_method_args_is_type_error_at_remote,
    test_actors.test_method_exception_fails_that_call_only, test_actors.test_object_ref_args_are_resolved,
    test_actors.test_async_method_exception, test_actors.test_handle_passed_to_tasks,
    test_actors.test_handle_passed_to_another_actor, test_actors.test_handle_in_a_container_and_returned,
    test_actors.test_named_actor_get_actor, test_actors.test_get_actor_missing_name,
    test_actors.test_duplicate_name_is_value_error, test_actors.test_get_if_exists,
    test_actors.test_get_actor_after_kill_is_value_error, test_actors.test_async_actor_runs_calls_concurrently,
    test_actors.test_threaded_actor_max_concurrency,
    test_objects.test_numpy_round_trip, test_objects.test_numpy_in_container,
    test_objects.test_numpy_arg_in_task_is_read_only,
    test_streaming.test_generator_function_streams_by_default, test_streaming.test_explicit_streaming_and_next,
    test_streaming.test_empty_generator, test_streaming.test_large_items_go_through_the_store,
    test_streaming.test_exception_mid_stream, test_streaming.test_async_generator_task,
    test_streaming.test_async_for_in_the_driver, test_streaming.test_actor_method_streaming,
    test_streaming.test_generator_cannot_be_pickled, test_streaming.test_cancel_a_streaming_task,
    test_streaming.test_items_holding_refs,
    test_errors.test_task_error_is_ray_task_error, test_errors.test_task_error_catchable_as_original_class,
    test_errors.test_task_error_in_list_get, test_errors.test_builtin_exception_classes,
    test_errors.test_traceback_mentions_function_and_line, test_errors.test_actor_traceback_names_its_file,
    test_errors.test_error_propagates_through_dependent_task, test_errors.test_error_raised_by_nested_get,
    test_errors.test_unpicklable_exception, test_errors.test_worker_crash_gives_worker_crashed_error,
    test_errors.test_worker_crash_propagates_to_dependent, test_errors.test_system_exit_in_task,
]


@pytest.mark.parametrize("body", REUSED, ids=lambda f: "%s.%s" % (f.__module__, f.__name__))
def test_reused_behaviour(client, body):
    body(None)


def test_is_client_and_stand_ins_behave(client):
    assert ray.is_initialized()
    r = ray.put(5)
    assert isinstance(r, ray.ObjectRef)
    assert r == r and hash(r) == hash(r) and len({r, r}) == 1
    assert ray.get({"a": r}) == {"a": 5}
    assert ray.get([r, r]) == [5, 5]


def test_get_timeout(client):
    @ray.remote
    def slow():
        time.sleep(30)

    ref = slow.remote()
    t = time.monotonic()
    with pytest.raises(ray.exceptions.GetTimeoutError):
        ray.get(ref, timeout=0.5)
    assert time.monotonic() - t < 10
    ready, not_ready = ray.wait([ref], timeout=0.2)
    assert ready == [] and not_ready == [ref]
    ray.cancel(ref, force=True)
    with pytest.raises((ray.exceptions.TaskCancelledError, ray.exceptions.WorkerCrashedError)):
        ray.get(ref, timeout=30)


def test_remote_traceback_reaches_the_client(client):
    @ray.remote
    def fails():
        raise KeyError("missing-thing")

    with pytest.raises(KeyError) as info:
        ray.get(fails.remote())
    assert "missing-thing" in str(info.value) and "fails" in str(info.value)
    assert isinstance(info.value, ray.exceptions.RayTaskError)


def test_streaming_generator(client):
    @ray.remote
    def count(n):
        for i in range(n):
            yield i * 10

    gen = count.remote(5)
    assert [ray.get(r) for r in gen] == [0, 10, 20, 30, 40]
    gen2 = count.remote(3)
    ready, _ = ray.wait([gen2], timeout=30)
    assert ready == [gen2]
    assert ray.get(next(gen2)) == 0


def test_async_actor_and_detached_named_actor(client):
    @ray.remote
    class Counter:
        def __init__(self):
            self.n = 0

        async def add(self, k):
            self.n += k
            return self.n

    c = Counter.options(name="client-detached", lifetime="detached").remote()
    assert ray.get([c.add.remote(1) for _ in range(3)])[-1] == 3
    same = ray.get_actor("client-detached")
    assert ray.get(same.add.remote(10)) == 13
    ray.kill(same)


def test_large_put_and_get_stream_in_chunks(client):
    arr = np.arange(3_000_000, dtype=np.int64)   # 24 MB: several 4 MB chunks each way
    ref = ray.put(arr)

    @ray.remote
    def total(a):
        return int(a.sum()), a.nbytes

    assert ray.get(total.remote(ref)) == (int(arr.sum()), arr.nbytes)
    back = ray.get(ref)
    assert np.array_equal(back, arr)

    @ray.remote
    def make(n):
        return np.ones(n, dtype=np.uint8)

    assert ray.get(make.remote(20_000_000)).sum() == 20_000_000


def test_large_messages_reusing_a_receive_buffer_keep_their_values(client):
    # Both ends reuse a large message's buffer for the next one once nothing
    # references it: values still alive must never be overwritten.
    a, b = np.full(1_000_000, 1, dtype=np.int64), np.full(1_000_000, 2, dtype=np.int64)
    ra, rb = ray.put(a), ray.put(b)          # the driver receives b where a may have been
    got_a = ray.get(ra)
    got_b = ray.get(rb)                      # the client receives b while got_a is alive
    assert got_a.sum() == 1_000_000 and got_b.sum() == 2_000_000
    assert ray.get(ra).sum() == 1_000_000 and got_a.sum() == 1_000_000


def test_a_held_fire_and_forget_call_goes_out_with_no_later_call(client, tmp_path):
    # Calls in a burst are held for the next request; with none coming, the
    # background thread must still write them (within ~1 ms).
    @ray.remote(num_cpus=0)
    class Toucher:
        def touch(self, path):
            open(path, "w").close()

    t = Toucher.remote()
    ray.get(t.touch.remote(str(tmp_path / "warm")))
    marks = [tmp_path / ("m%d" % i) for i in range(20)]
    for m in marks:            # a burst: these are held behind each other
        t.touch.remote(str(m))
    deadline = time.monotonic() + 20
    while not all(m.exists() for m in marks):   # no lumos call here: nothing else flushes them
        assert time.monotonic() < deadline, "held calls were never written"
        time.sleep(0.01)


def test_assembler_reuses_a_buffer_only_when_nothing_views_it():
    from lumos.util.client import protocol as P

    def send(asm, arr):
        msg = None
        for frame in P.encode((1, P.OP_PUT, b"k"), b"", [arr]):
            msg = asm.feed(b"".join(bytes(p) for p in frame)) or msg
        return msg

    asm = P.Assembler()
    first = send(asm, np.full(1_500_000, 7, dtype=np.int64))   # 12 MB: chunked
    view = np.frombuffer(first.buffers[0], dtype=np.int64)
    buf_id = id(asm._spare)
    del first
    second = send(asm, np.full(1_500_000, 8, dtype=np.int64))
    assert id(asm._spare) != buf_id and view[0] == 7 and view[-1] == 7   # viewed: a new buffer
    del second
    buf_id = id(asm._spare)
    third = send(asm, np.full(1_500_000, 9, dtype=np.int64))
    assert id(asm._spare) == buf_id                                      # free: reused
    assert np.frombuffer(third.buffers[0], dtype=np.int64)[-1] == 9
    asm.drop_spare()
    assert asm._spare is None


def test_worker_output_printed_at_the_client(client, capsys):
    @ray.remote
    def speak():
        print("client-visible-line")
        return 1

    assert ray.get(speak.remote()) == 1
    deadline = time.monotonic() + 20
    seen = ""
    while time.monotonic() < deadline and "client-visible-line" not in seen:
        time.sleep(0.1)
        ray.get(ray.put(0))   # keeps the stream read
        seen += capsys.readouterr().out
    assert "client-visible-line" in seen


def test_cluster_info_through_the_client(client):
    assert ray.cluster_resources().get("CPU") == 2
    assert len(ray.nodes()) == 1
    assert "CPU" in ray.available_resources() or ray.available_resources() == {}


def test_not_built_calls_say_so(client):
    with pytest.raises(RuntimeError, match="not built through client mode"):
        ray.experimental.get_object_locations([ray.put(1)])


def test_placement_group_through_the_client(client):
    from lumos.util.scheduling_strategies import PlacementGroupSchedulingStrategy
    pg = ray.util.placement_group([{"CPU": 1}], name="client-pg")
    assert ray.get(pg.ready(), timeout=60) == pg
    assert pg.wait(10)
    assert ray.util.get_placement_group("client-pg") == pg

    @ray.remote(num_cpus=1)
    def where():
        return ray.get_runtime_context().get_placement_group_id()
    strategy = PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=0)
    assert ray.get(where.options(scheduling_strategy=strategy).remote(), timeout=60) == pg.id.hex()
    assert ray.util.placement_group_table(pg)["state"] == "CREATED"
    ray.util.remove_placement_group(pg)


def test_second_init_needs_ignore_reinit_error(client):
    with pytest.raises(RuntimeError, match="twice"):
        ray.init(client.address, _auth_token=client.token)
    assert ray.init(client.address, _auth_token=client.token, ignore_reinit_error=True)["job_id"]


def test_working_dir_uploaded(client, tmp_path):
    (tmp_path / "client_only_mod.py").write_text("VALUE = 'from-the-client'\n")

    @ray.remote(runtime_env={"working_dir": str(tmp_path)})
    def read():
        import client_only_mod
        return client_only_mod.VALUE, os.getcwd() != str(tmp_path)

    assert ray.get(read.remote()) == ("from-the-client", True)


def test_await_and_future_of_a_client_ref(client):
    import asyncio

    @ray.remote
    def seven():
        return 7

    async def main():
        return await seven.remote()
    assert asyncio.run(main()) == 7
    assert seven.remote().future().result(timeout=30) == 7


def test_ray_scheme_env_address_and_init_working_dir(client, tmp_path):
    (tmp_path / "shipped_helper.py").write_text("def answer():\n    return 42\n")
    r = client.run_client(textwrap.dedent("""
        import os, lumos
        ctx = lumos.init(runtime_env={"working_dir": os.environ["WD"]})   # the address comes from RAY_ADDRESS
        @lumos.remote
        def use():
            import shipped_helper
            return shipped_helper.answer()
        print("RESULT", lumos.get(use.remote()), lumos.is_initialized())
        lumos.shutdown()
        print("AFTER", lumos.is_initialized())
    """), RAY_ADDRESS=client.address.replace("lumos://", "ray://"), WD=str(tmp_path))
    assert "RESULT 42 True" in r.stdout, r.stdout + r.stderr
    assert "AFTER False" in r.stdout


def test_runtime_context_is_the_drivers(client):
    ctx = ray.get_runtime_context()
    assert ctx.get_job_id() == ray.init(client.address, ignore_reinit_error=True)["job_id"]
    assert ctx.get_task_id() is None and ctx.get_actor_id() is None
    assert ctx.namespace.startswith("anonymous_namespace_")
    assert len(ctx.get_node_id()) == 32

    @ray.remote
    def job_of_task():
        return ray.get_runtime_context().get_job_id()
    assert ray.get(job_of_task.remote()) == ctx.get_job_id()


def test_list_named_actors_through_the_client(client):
    @ray.remote
    class Named:
        def ping(self):
            return 1
    n = Named.options(name="listed-by-client").remote()
    assert ray.get(n.ping.remote()) == 1
    assert "listed-by-client" in ray.util.list_named_actors()
    ray.kill(n)


def test_a_long_put_loop_with_dropped_refs_keeps_going(client):
    """Fire-and-forget puts fill the window while dropped stand-ins are
    released from the idle reader: neither may wait for the other."""
    deadline = time.monotonic() + 60
    n = 0
    while n < 30000 and time.monotonic() < deadline:
        ray.put(n)
        n += 1
    assert n == 30000
    assert ray.get(ray.put("end")) == "end"
