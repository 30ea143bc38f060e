"""The task/object examples of the seed documents (/work/shared/seeds/*.txt),
run as written with `import lumos as ray`.

Each test keeps the seed's code; only sleeps, loop counts and array sizes are
shrunk so it runs in a few seconds. Adaptations are marked "# lumos test:".
Every example calls ray.init()/ray.shutdown() itself, as in the seed; the
fixture points LUMOS_TMPDIR at a private temp dir so ray.init() with no
arguments does not touch other sessions.

Elsewhere: actors (test_actor_seeds.py), placement groups
(test_placement_groups.py), spilling with object_spill_config
(test_spilling.py), memory_summary and get_object_locations
(test_memory_tools.py), cancel/generators (test_task_lifecycle.py,
test_streaming.py), runtime_env (test_runtime_env.py; the seed's own
example with requests==2.26.0 runs here when the package index answers, and
is skipped otherwise). Left out: ray:// client mode and the `ray summary` CLI.
"""
import os
import random
import time

import numpy as np
import pytest

import lumos as ray

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def seed_env(no_cluster, tmp_short, monkeypatch):
    monkeypatch.setenv("LUMOS_TMPDIR", tmp_short)
    yield
    ray.shutdown()


# ======================================================== 000 Ray-01-核心API

def test_000_init_examples(seed_env):
    # 示例1：启动本地集群
    ray.init()
    ray.shutdown()

    # 示例2：指定资源
    ray.init(num_cpus=4, num_gpus=1, object_store_memory=1024 * 1024 * 1024)
    assert ray.cluster_resources()["CPU"] == 4
    assert ray.cluster_resources()["GPU"] == 1
    assert ray.cluster_resources()["object_store_memory"] == 1024 * 1024 * 1024
    ray.shutdown()

    # 示例5：命名空间隔离
    ray.init(namespace="my_namespace")
    assert ray.get_runtime_context().namespace == "my_namespace"
    ray.shutdown()


def _index_reachable(tmp):
    """pip can fetch requests==2.26.0 (the index answers), within ~30 s."""
    import subprocess
    import sys
    try:
        return subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                               "--timeout", "5", "--retries", "0", "-d", tmp, "requests==2.26.0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.mark.timeout(180)
def test_000_init_runtime_env(seed_env, tmp_short):
    if not _index_reachable(os.path.join(tmp_short, "dl")):
        pytest.skip("the pip package index is unreachable; runtime_env pip needs it for requests==2.26.0")
    # 示例4：使用运行时环境
    ray.init(runtime_env={
        "pip": ["requests==2.26.0"],
        "env_vars": {"MY_VAR": "value"}
    })

    @ray.remote  # lumos test: a task that shows the environment
    def probe():
        import requests
        return requests.__version__, os.environ.get("MY_VAR")
    assert ray.get(probe.remote(), timeout=150) == ("2.26.0", "value")
    ray.shutdown()


def test_000_get_timeout_and_task_error(seed_env):
    ray.init()

    @ray.remote
    def slow():
        time.sleep(3)  # lumos test: a task that outlives the timeout
        return 1

    object_ref = slow.remote()
    timed_out = False
    try:
        result = ray.get(object_ref, timeout=0.5)  # lumos test: 10 -> 0.5
    except ray.exceptions.GetTimeoutError:
        print("获取对象超时")
        timed_out = True
    assert timed_out

    @ray.remote
    def fails():
        raise ValueError("原始异常")

    object_ref = fails.remote()
    caught = None
    try:
        result = ray.get(object_ref)
    except ray.exceptions.RayTaskError as e:
        print(f"任务执行失败：{e}")
        print(f"原始异常：{e.cause}")
        caught = e
    assert isinstance(caught.cause, ValueError)
    ray.shutdown()


def test_000_put_get(seed_env):
    ray.init()
    large_data = np.arange(1_000_000)  # lumos test: stands in for load_large_dataset()

    @ray.remote
    def process(data):
        return int(data.sum())

    # 好：只传输一次
    data_ref = ray.put(large_data)
    results = [process.remote(data_ref) for _ in range(10)]  # lumos test: 100 -> 10
    assert ray.get(results) == [int(large_data.sum())] * 10
    ray.shutdown()


def test_000_wait_examples(seed_env):
    ray.init()

    @ray.remote
    def func():
        time.sleep(random.random() * 0.2)
        return 1

    @ray.remote
    def task(i):
        return i

    # 示例1：等待第一个任务完成
    refs = [func.remote() for _ in range(10)]
    ready, not_ready = ray.wait(refs, num_returns=1)
    first_result = ray.get(ready[0])
    assert first_result == 1 and len(not_ready) == 9

    # 示例2：等待所有任务完成
    ready, _ = ray.wait(refs, num_returns=len(refs))
    results = ray.get(ready)
    assert results == [1] * 10

    # 示例3：超时控制
    ready, not_ready = ray.wait(refs, num_returns=5, timeout=10)
    if len(ready) < 5:
        print("部分任务超时")
    assert len(ready) == 5

    # 示例4：迭代处理完成的任务
    processed = []
    process = processed.append
    refs = [task.remote(i) for i in range(20)]  # lumos test: 100 -> 20
    while refs:
        ready, refs = ray.wait(refs)
        result = ray.get(ready[0])
        process(result)
    assert sorted(processed) == list(range(20))
    ray.shutdown()


def test_000_best_practices(seed_env):
    ray.init()

    @ray.remote
    def compute(i):
        return i * i

    # 1. 避免在循环中调用ray.get() / 批量获取
    object_refs = [compute.remote(i) for i in range(10)]
    results = ray.get(object_refs)
    assert results == [i * i for i in range(10)]

    # 3. 使用ray.wait()实现流水线处理
    all_results = []
    process_results = all_results.extend
    pending = [compute.remote(i) for i in range(100)]  # lumos test: 1000 -> 100
    while pending:
        ready, pending = ray.wait(pending, num_returns=min(10, len(pending)))
        results = ray.get(ready)
        process_results(results)
    assert sorted(all_results) == sorted(i * i for i in range(100))

    # 6. 调试技巧
    print(ray.cluster_resources())
    print(ray.available_resources())
    task = compute
    object_ref = task.remote(3)
    print(f"ObjectID: {object_ref.hex()}")
    print(f"Task ID: {object_ref.task_id().hex()}")
    assert ray.get(object_ref) == 9
    ray.shutdown()


def test_000_resources_best_practice(seed_env):
    # 使用自定义资源
    ray.init(resources={"special_hardware": 2})

    @ray.remote(resources={"special_hardware": 1})
    def special_task():
        pass

    # 为计算密集型任务分配足够CPU (defined, not called, as in the seed)
    @ray.remote(num_cpus=4)
    def cpu_intensive_task():
        pass

    @ray.remote(num_gpus=1)
    def gpu_task():
        pass

    assert ray.get([special_task.remote() for _ in range(4)]) == [None] * 4
    ray.shutdown()


def test_000_error_handling_patterns(seed_env):
    ray.init()

    # 模式1：容错重试
    @ray.remote(max_retries=3, retry_exceptions=True)
    def may_fail():
        pass

    assert ray.get(may_fail.remote()) is None

    # 模式2：批量错误处理
    @ray.remote
    def task(i):
        if i % 3 == 0:
            raise RuntimeError("task %d failed" % i)
        return i

    refs = [task.remote(i) for i in range(10)]  # lumos test: 100 -> 10; task takes i
    try:
        results = ray.get(refs)
    except ray.exceptions.RayTaskError as e:
        print(f"Task failed: {e}")
        # 找出失败的任务
        results = []
        for ref in refs:
            try:
                results.append(ray.get(ref))
            except Exception as e:
                results.append(None)
    assert results == [None if i % 3 == 0 else i for i in range(10)]
    ray.shutdown()


# ======================================================== 001 源码深度剖析

def test_001_compute_pi(seed_env):
    ray.init()

    @ray.remote
    def compute_pi(n_samples: int) -> float:
        count_inside = 0
        for _ in range(n_samples):
            x, y = np.random.random(2)
            if x * x + y * y <= 1:
                count_inside += 1
        return 4.0 * count_inside / n_samples

    futures = [compute_pi.remote(20000) for _ in range(4)]  # lumos test: 1000000 -> 20000
    results = ray.get(futures)
    pi_estimate = sum(results) / len(results)
    print(f"π的估计值: {pi_estimate}")
    assert 3.0 < pi_estimate < 3.3
    ray.shutdown()


def test_001_object_store(seed_env):
    ray.init()

    def create_large_array(size: int) -> np.ndarray:
        return np.random.random((size, size))

    large_array = create_large_array(1000)
    array_ref = ray.put(large_array)

    print(f"对象引用: {array_ref}")
    print(f"数组形状: {large_array.shape}")
    print(f"数组大小: {large_array.nbytes / 1024 / 1024:.2f} MB")

    @ray.remote
    def process_array_chunk(array_ref, start_row: int, end_row: int) -> float:
        # lumos test: a top-level ref argument arrives as its value (in Ray
        # too), so the seed's ray.get(array_ref) would get an array and fail;
        # the task uses the zero-copy array it was given.
        array = array_ref
        chunk = array[start_row:end_row, :]
        return np.mean(chunk)

    num_chunks = 4
    chunk_size = 1000 // num_chunks

    chunk_futures = []
    for i in range(num_chunks):
        start = i * chunk_size
        end = start + chunk_size
        future = process_array_chunk.remote(array_ref, start, end)
        chunk_futures.append(future)

    chunk_means = ray.get(chunk_futures)
    overall_mean = sum(chunk_means) / len(chunk_means)
    print(f"各chunk平均值: {chunk_means}")
    print(f"整体平均值: {overall_mean}")
    assert abs(overall_mean - large_array.mean()) < 1e-9
    ray.shutdown()


# ======================================================== 003 Ray Core notes

def test_003_tasks(seed_env):
    ray.init()

    # A regular Python function.
    def normal_function():
        return 1

    # By adding the `@ray.remote` decorator, a regular Python function
    # becomes a Ray remote function.
    @ray.remote
    def my_function():
        return 1

    obj_ref = my_function.remote()
    assert ray.get(obj_ref) == 1

    @ray.remote
    def slow_function():
        time.sleep(0.5)  # lumos test: 10 -> 0.5
        return 1

    # Ray tasks are executed in parallel.
    for _ in range(4):
        # This doesn't block.
        slow_function.remote()

    # 等待部分结果
    object_refs = [slow_function.remote() for _ in range(2)]
    # Return as soon as one of the tasks finished execution.
    ready_refs, remaining_refs = ray.wait(object_refs, num_returns=1, timeout=None)
    assert len(ready_refs) == 1 and len(remaining_refs) == 1
    ray.shutdown()


def test_003_resources_options(seed_env):
    ray.init()

    # Specify required resources.
    @ray.remote(num_cpus=4, num_gpus=2)
    def my_function():
        return 1

    # Override the default resource requirements.
    obj_ref = my_function.options(num_cpus=3).remote()
    # lumos test: as the seed says, {'CPU': 3, 'GPU': 2} cannot be met here;
    # the task waits instead of running or failing.
    ready, not_ready = ray.wait([obj_ref], timeout=1)
    assert ready == [] and not_ready == [obj_ref]

    # 在Mac上改成如下代码可以正常运行：
    obj_ref = my_function.options(num_cpus=2, num_gpus=0).remote()
    value = ray.get(obj_ref)
    assert value == 1
    ray.shutdown()


def test_003_pass_object_ref(seed_env):
    ray.init(num_cpus=4)  # lumos test: my_function needs 4 CPUs

    # Specify required resources.
    @ray.remote(num_cpus=4)
    def my_function():
        return 1

    @ray.remote
    def function_with_an_argument(value):
        return value + 1

    obj_ref1 = my_function.remote()
    assert ray.get(obj_ref1) == 1

    # You can pass an object ref as an argument to another Ray task.
    obj_ref2 = function_with_an_argument.remote(obj_ref1)
    assert ray.get(obj_ref2) == 2
    ray.shutdown()


def test_003_multiple_returns(seed_env):
    ray.init()

    # By default, a Ray task only returns a single Object Ref.
    @ray.remote
    def return_single():
        return 0, 1, 2

    object_ref = return_single.remote()
    assert ray.get(object_ref) == (0, 1, 2)

    # However, you can configure Ray tasks to return multiple Object Refs.
    @ray.remote(num_returns=3)
    def return_multiple():
        return 0, 1, 2

    object_ref0, object_ref1, object_ref2 = return_multiple.remote()
    assert ray.get(object_ref0) == 0
    assert ray.get(object_ref1) == 1
    assert ray.get(object_ref2) == 2
    ray.shutdown()


def test_003_generator_with_num_returns(seed_env):
    ray.init()

    @ray.remote(num_returns=3)
    def return_multiple_as_generator():
        for i in range(3):
            yield i

    # NOTE: Similar to normal functions, these objects will not be available
    # until the full task is complete and all returns have been generated.
    a, b, c = return_multiple_as_generator.remote()
    assert ray.get([a, b, c]) == [0, 1, 2]  # lumos test: check the values
    ray.shutdown()


def test_003_nested_remote_functions(seed_env):
    ray.init()

    @ray.remote
    def f():
        return 1

    @ray.remote
    def g():
        # Call f 4 times and return the resulting object refs.
        return [f.remote() for _ in range(4)]

    @ray.remote
    def h():
        # Call f 4 times, block until those 4 tasks finish,
        # retrieve the results, and return the values.
        return ray.get([f.remote() for _ in range(4)])

    print(ray.get(g.remote()))
    print(ray.get(h.remote()))
    refs = ray.get(g.remote())
    assert all(isinstance(r, ray.ObjectRef) for r in refs) and ray.get(refs) == [1] * 4
    assert ray.get(h.remote()) == [1, 1, 1, 1]
    ray.shutdown()


def test_003_blocked_get_releases_cpu(seed_env):
    ray.init(num_cpus=1, num_gpus=1)  # lumos test: one CPU, so f runs only if g gives its CPU back

    @ray.remote
    def f():
        return 1

    @ray.remote(num_cpus=1, num_gpus=1)
    def g():
        return ray.get(f.remote())

    assert ray.get(g.remote(), timeout=20) == 1
    ray.shutdown()


def test_003_large_values(seed_env):
    ray.init()

    @ray.remote
    def large_values(num_returns):
        return [
            np.random.randint(np.iinfo(np.int8).max, size=(1_000_000, 1), dtype=np.int8)  # lumos test: 100_000_000 -> 1_000_000
            for _ in range(num_returns)
        ]

    @ray.remote
    def large_values_generator(num_returns):
        for i in range(num_returns):
            yield np.random.randint(
                np.iinfo(np.int8).max, size=(1_000_000, 1), dtype=np.int8  # lumos test: size shrunk
            )
            print(f"yielded return value {i}")

    a, b, c = large_values.options(num_returns=3).remote(3)
    assert [ray.get(r).shape for r in (a, b, c)] == [(1_000_000, 1)] * 3
    a, b, c = large_values_generator.options(num_returns=3).remote(3)
    assert [ray.get(r).shape for r in (a, b, c)] == [(1_000_000, 1)] * 3
    ray.shutdown()


def test_003_generator_exception(seed_env):
    ray.init()

    @ray.remote
    def generator():
        for i in range(2):
            yield i
        raise Exception("error")

    ref1, ref2, ref3, ref4 = generator.options(num_returns=4).remote()
    assert ray.get([ref1, ref2]) == [0, 1]
    # All remaining ObjectRefs will contain the error.
    errors = 0
    try:
        ray.get([ref3, ref4])
    except Exception as error:
        print(error)
        errors += 1
    assert errors == 1  # lumos test: the error was raised
    ray.shutdown()


# ======================================================== 004 Objects 对象

def test_004_object_ref(seed_env):
    ray.init()

    @ray.remote
    def create_object():
        return [1, 2, 3, 4, 5]

    ref = create_object.remote()
    print(f"ObjectRef: {ref}")
    data = ray.get(ref)
    print(f"Data: {data}")
    assert data == [1, 2, 3, 4, 5]
    ray.shutdown()


def test_004_put(seed_env):
    ray.init()
    data = {"key": "value", "numbers": [1, 2, 3]}
    ref = ray.put(data)
    retrieved = ray.get(ref)
    print(retrieved)
    assert retrieved == data
    ray.shutdown()


def test_004_put_use_case(seed_env):
    ray.init()
    large_data = list(range(1000000))
    data_ref = ray.put(large_data)

    @ray.remote
    def process(data_ref, start, end):
        # lumos test: a top-level ref argument arrives as its value (in Ray
        # too), so ray.get(data_ref) here would get a list; use it directly.
        data = data_ref
        return sum(data[start:end])

    refs = [process.remote(data_ref, i * 100000, (i + 1) * 100000) for i in range(10)]
    results = ray.get(refs)
    print(f"Partial sums: {results}")
    assert sum(results) == sum(large_data)
    ray.shutdown()


def test_004_get(seed_env):
    ray.init()

    @ray.remote
    def task():
        return "result"

    ref = task.remote()
    result = ray.get(ref)
    print(result)
    assert result == "result"
    ray.shutdown()


def test_004_batch_get(seed_env):
    ray.init()

    @ray.remote
    def task(x):
        return x * 2

    refs = [task.remote(i) for i in range(10)]
    results = ray.get(refs)
    print(results)
    assert results == [i * 2 for i in range(10)]
    # The seed's ray.get({...}) of a dict: rejected by Ray, a dict with the same keys on lumos.
    results_dict = ray.get({f"task_{i}": refs[i] for i in range(10)})
    print(results_dict)
    assert results_dict == {f"task_{i}": i * 2 for i in range(10)}
    ray.shutdown()


def test_004_timeout(seed_env):
    ray.init()

    @ray.remote
    def slow_task():
        time.sleep(3)  # lumos test: 10 -> 3
        return "done"

    ref = slow_task.remote()
    printed = []
    try:
        result = ray.get(ref, timeout=0.5)  # lumos test: 2 -> 0.5
        print(result)
    except ray.exceptions.GetTimeoutError:
        print("Timeout: Task not completed in 2 seconds")
        printed.append("timeout")
    assert printed == ["timeout"]
    ray.shutdown()


def test_004_exception(seed_env):
    ray.init()

    @ray.remote
    def failing_task():
        raise ValueError("Intentional error")

    ref = failing_task.remote()
    caught = []
    try:
        ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        print(f"Task failed: {e}")
        caught.append(e)
    assert caught and "Intentional error" in str(caught[0])
    ray.shutdown()


def test_004_memory_management(seed_env):
    ray.init(object_store_memory=4 * 1024 * 1024 * 1024)
    print(f"Object store memory: {ray.cluster_resources()['object_store_memory'] / 1e9:.2f} GB")
    assert ray.cluster_resources()["object_store_memory"] == 4 * 1024 * 1024 * 1024
    ray.shutdown()


def test_004_memory_monitoring_tasks(seed_env):
    ray.init()

    @ray.remote
    def create_data(size):
        return [0] * size

    refs = []
    for i in range(10):
        ref = create_data.remote(1000000)
        refs.append(ref)
    # lumos test: memory_summary() (an internal API) left out; get instead
    assert [len(x) for x in ray.get(refs)] == [1000000] * 10
    ray.shutdown()


def test_004_zero_copy(seed_env):
    ray.init()
    large_array = np.random.rand(2000, 2000)  # lumos test: 10000 -> 2000
    ref = ray.put(large_array)
    retrieved = ray.get(ref)
    print(f"Same data: {np.array_equal(large_array, retrieved)}")
    assert np.array_equal(large_array, retrieved)
    ray.shutdown()


class CustomClass:
    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        return (self.__class__, (self.value,))


def test_004_custom_serialization(seed_env):
    ray.init()
    obj = CustomClass(42)
    ref = ray.put(obj)
    retrieved = ray.get(ref)
    print(f"Value: {retrieved.value}")
    assert retrieved.value == 42
    ray.shutdown()


def test_004_wait(seed_env):
    ray.init()

    @ray.remote
    def task(duration):
        time.sleep(duration)
        return f"Task completed in {duration}s"

    refs = [task.remote(i) for i in [0.6, 0.2, 0.4, 1.0, 0.8]]  # lumos test: [3, 1, 2, 5, 4] / 5
    ready, not_ready = ray.wait(refs, num_returns=1, timeout=None)
    print(f"First ready: {ray.get(ready)}")
    print(f"Not ready: {len(not_ready)} tasks")
    assert len(ready) == 1 and len(not_ready) == 4
    ready, not_ready = ray.wait(refs, num_returns=len(refs), timeout=0.4)  # lumos test: 2 -> 0.4
    print(f"Ready within 2s: {len(ready)} tasks")
    assert 1 <= len(ready) < 5 and len(ready) + len(not_ready) == 5
    ray.shutdown()


def test_004_async_task(seed_env):
    import asyncio
    ray.init()

    @ray.remote
    async def async_task(x):
        await asyncio.sleep(0.1)  # lumos test: 1 -> 0.1
        return x * 2

    results = []

    async def main():
        ref = async_task.remote(10)
        result = await ref
        print(f"Result: {result}")
        results.append(result)

    asyncio.run(main())
    assert results == [20]
    ray.shutdown()


def test_004_avoid_oom(seed_env):
    ray.init(object_store_memory=1 * 1024 * 1024 * 1024)

    @ray.remote
    def process_batch(batch):
        return sum(batch)

    data = list(range(1000000))  # lumos test: 10000000 -> 1000000
    batch_size = 100000
    results = []
    total = 0  # lumos test: keep the sums to check them
    for i in range(0, len(data), batch_size):
        batch = data[i:i + batch_size]
        ref = process_batch.remote(batch)
        results.append(ref)
        if len(results) >= 10:
            total += sum(ray.get(results))
            results = []
    total += sum(ray.get(results))
    assert total == sum(data)
    ray.shutdown()


def test_004_release_refs(seed_env):
    ray.init()

    @ray.remote
    def task():
        return [0] * 100000  # lumos test: 1000000 -> 100000

    refs = [task.remote() for _ in range(20)]  # lumos test: 100 -> 20
    results = ray.get(refs[:10])
    refs = refs[10:]
    del results
    assert len(ray.get(refs)) == 10  # lumos test: the rest are still gettable
    ray.shutdown()


def test_004_generator(seed_env):
    ray.init()

    @ray.remote(num_returns=3)
    def generator_task():
        yield 1
        yield 2
        yield 3

    ref1, ref2, ref3 = generator_task.remote()
    print(ray.get([ref1, ref2, ref3]))
    assert ray.get([ref1, ref2, ref3]) == [1, 2, 3]
    ray.shutdown()


def test_004_best_practice_batch(seed_env):
    ray.init()

    @ray.remote
    def task(x):
        return x * 2

    refs = [task.remote(i) for i in range(100)]
    results = ray.get(refs)
    for ref in refs:
        result = ray.get(ref)
    assert results == [i * 2 for i in range(100)] and result == 198
    ray.shutdown()


def test_004_best_practice_share_large_data(seed_env):
    ray.init()
    large_data = np.random.rand(1000, 1000)  # lumos test: 10000 -> 1000
    data_ref = ray.put(large_data)

    @ray.remote
    def process(data_ref, idx):
        # lumos test: as in test_004_put_use_case, the argument is the array
        data = data_ref
        return data[idx, 0]

    refs = [process.remote(data_ref, i) for i in range(100)]
    # the seed shuts down with the tasks still running
    ray.shutdown()


def test_004_best_practice_timeout(seed_env):
    ray.init()

    @ray.remote
    def potentially_slow():
        import time
        time.sleep(2)  # lumos test: 10 -> 2
        return "done"

    ref = potentially_slow.remote()
    timed_out = False
    try:
        result = ray.get(ref, timeout=0.5)  # lumos test: 5 -> 0.5
    except ray.exceptions.GetTimeoutError:
        print("Task timed out, continuing...")
        timed_out = True
    assert timed_out
    ray.shutdown()


def test_004_best_practice_errors(seed_env):
    ray.init()

    @ray.remote
    def might_fail():
        import random
        if random.random() < 0.5:
            raise ValueError("Random failure")
        return "success"

    refs = [might_fail.remote() for _ in range(10)]
    results = []
    for ref in refs:
        try:
            results.append(ray.get(ref))
        except ray.exceptions.RayTaskError:
            results.append(None)
    print(f"Results: {results}")
    assert len(results) == 10 and set(results) <= {None, "success"}
    ray.shutdown()


# ======================================================== 002 Ray Core 模块深度剖析

def test_002_scheduling_strategies(seed_env):
    ray.init()

    # 1. 默认调度策略 - 混合调度
    @ray.remote
    def default_task():
        return "default"

    # 2. 展开调度策略 - 尽量分散
    @ray.remote(scheduling_strategy="SPREAD")
    def spread_task():
        return "spread"

    assert ray.get([default_task.remote(), spread_task.remote()]) == ["default", "spread"]
    ray.shutdown()


def test_002_object_store_optimizations(seed_env):
    ray.init()

    # 1. 大对象存储优化
    def optimize_large_objects():
        # 创建大型NumPy数组
        large_array = np.random.random((1000, 1000))  # lumos test: 10000 -> 1000

        # 不好的做法：每次传递都会序列化
        @ray.remote
        def bad_approach(array):
            return np.sum(array)

        start_time = time.time()
        futures = [bad_approach.remote(large_array) for _ in range(5)]
        results = ray.get(futures)
        bad_time = time.time() - start_time

        # 好的做法：预先存储到对象存储
        array_ref = ray.put(large_array)

        @ray.remote
        def good_approach(array_ref):
            # lumos test: the top-level ref arrives as the array (Ray does
            # the same), so the seed's ray.get(array_ref) is not needed
            array = array_ref
            return np.sum(array)

        start_time = time.time()
        futures = [good_approach.remote(array_ref) for _ in range(5)]
        results2 = ray.get(futures)
        good_time = time.time() - start_time

        print(f"Bad approach time: {bad_time:.2f}s")
        print(f"Good approach time: {good_time:.2f}s")
        print(f"Speedup: {bad_time / max(good_time, 1e-9):.2f}x")
        assert np.allclose(results, results2)

    # 3. 内存使用监控
    def monitor_object_store():
        cluster_resources = ray.cluster_resources()
        available_resources = ray.available_resources()
        print("Cluster Resources:", cluster_resources)
        print("Available Resources:", available_resources)
        refs = []
        for i in range(10):
            data = np.random.random((1000, 1000))
            ref = ray.put(data)
            refs.append(ref)
        print(f"Created {len(refs)} objects")
        del refs
        import gc
        gc.collect()

    optimize_large_objects()
    monitor_object_store()
    ray.shutdown()


def test_002_resource_management(seed_env):
    # 1. 基础资源类型
    @ray.remote(num_cpus=2)
    def cpu_intensive_task():
        import time
        time.sleep(0.2)  # lumos test: 1 -> 0.2
        return "CPU task completed"

    @ray.remote(num_gpus=1)
    def gpu_task():
        try:  # lumos test: torch is not installed here
            import torch
        except ImportError:
            return "No GPU available"
        if torch.cuda.is_available():
            device = torch.cuda.current_device()
            return f"GPU task completed on device {device}"
        return "No GPU available"

    @ray.remote(memory=1000 * 1024 * 1024)
    def memory_intensive_task():
        import numpy as np
        data = np.random.random((1000, 1000))  # lumos test: 10000 -> 1000
        return f"Memory task completed, array shape: {data.shape}"

    # 2. 自定义资源
    @ray.remote(resources={"special_gpu": 1})
    def special_gpu_task():
        return "Special GPU task completed"

    @ray.remote(resources={"database_connection": 0.5})
    def database_task():
        return "Database task completed"

    # 4. 动态资源调整
    @ray.remote(num_cpus=1)
    def adaptive_task():
        return "Adaptive task completed"

    adapted_task = adaptive_task.options(num_cpus=4, num_gpus=1)

    ray.init(num_cpus=8, num_gpus=2, resources={"special_gpu": 4, "database_connection": 10})
    cpu_future = cpu_intensive_task.remote()
    gpu_future = gpu_task.remote()
    memory_future = memory_intensive_task.remote()
    special_future = special_gpu_task.remote()
    results = ray.get([cpu_future, gpu_future, memory_future, special_future])
    for result in results:
        print(result)
    assert results == ["CPU task completed", "No GPU available",
                       "Memory task completed, array shape: (1000, 1000)", "Special GPU task completed"]
    # lumos test: the two the seed defines but does not call
    assert ray.get([database_task.remote(), adapted_task.remote()]) == [
        "Database task completed", "Adaptive task completed"]
    ray.shutdown()


def test_002_task_failures(seed_env):
    ray.init(ignore_reinit_error=True)

    # 1. 基本任务重试
    @ray.remote(max_retries=3)
    def unreliable_task(task_id, failure_rate=0.5):
        print(f"Task {task_id} starting...")
        if random.random() < failure_rate:
            import os
            print(f"Task {task_id} simulating worker crash")
            os._exit(1)
        print(f"Task {task_id} completed successfully")
        return f"Result from task {task_id}"

    # 2. 异常重试策略
    @ray.remote(max_retries=2, retry_exceptions=[ConnectionError, TimeoutError])
    def network_task(endpoint):
        import requests
        import random
        if random.random() < 0.3:
            raise ConnectionError("Network connection failed")
        if random.random() < 0.3:
            raise TimeoutError("Request timeout")
        if random.random() < 0.1:
            raise ValueError("Invalid endpoint")
        return f"Data from {endpoint}"

    outcomes = []

    # 4. 故障检测和处理
    def handle_task_failures():
        print("Testing task failure handling...")
        futures = []
        for i in range(4):  # lumos test: 10 -> 4
            future = unreliable_task.remote(i, failure_rate=0.3)
            futures.append(future)
        for i, future in enumerate(futures):
            try:
                result = ray.get(future, timeout=10)
                print(f"Task {i} succeeded: {result}")
                outcomes.append(result)
            except ray.exceptions.WorkerCrashedError as e:
                print(f"Task {i} failed after retries: Worker crashed")
                outcomes.append("crashed")
            except ray.exceptions.RayTaskError as e:
                print(f"Task {i} failed with exception: {e}")
                outcomes.append("error")
            except Exception as e:
                print(f"Task {i} failed with unexpected error: {e}")
                outcomes.append("unexpected: %r" % e)

    def test_network_task_retry():
        print("Testing network task retry...")
        endpoints = ["api1", "api2", "api3", "api4", "api5"]
        futures = [network_task.remote(ep) for ep in endpoints]
        for i, future in enumerate(futures):
            try:
                result = ray.get(future)
                print(f"Network task {i} succeeded: {result}")
            except Exception as e:
                print(f"Network task {i} failed: {e}")

    # 5. 集群级故障处理
    def monitor_cluster_health():
        print("Monitoring cluster health...")
        cluster_resources = ray.cluster_resources()
        available_resources = ray.available_resources()
        print("Cluster Resources:", cluster_resources)
        print("Available Resources:", available_resources)
        nodes = ray.nodes()
        print(f"Active nodes: {len([n for n in nodes if n['Alive']])}")
        print(f"Dead nodes: {len([n for n in nodes if not n['Alive']])}")
        assert len([n for n in nodes if n["Alive"]]) == 1
        try:
            from lumos.util.state import list_tasks
            tasks = list_tasks(filters=[("state", "=", "FAILED")], limit=10)
            print(f"Recent failed tasks: {len(tasks)}")
        except Exception as e:
            print(f"Could not get task status: {e}")

    try:
        handle_task_failures()
        test_network_task_retry()
        monitor_cluster_health()
    finally:
        ray.shutdown()
    # no unexpected errors: each task succeeded or its worker crash was reported
    assert len(outcomes) == 4
    assert all(o.startswith("Result from task") or o == "crashed" for o in outcomes), outcomes
