"""The seed examples that need several nodes (002: a STRICT_SPREAD group of 4
bundles, actors SPREAD over nodes through a placement group), run as written
with `import lumos as ray` on a cluster_utils.Cluster of 4 nodes. Only the
cluster set-up (the seed assumes one exists) is added; see "# lumos test:"."""
import pytest

import lumos as ray
from lumos.cluster_utils import Cluster
from lumos.util.placement_group import placement_group
from lumos.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from conftest import short_tmpdir

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def four_nodes(no_cluster):
    # lumos test: the seed's cluster, 4 nodes (one with a GPU for pg_tight).
    tmp = short_tmpdir()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 6, "num_gpus": 1, "temp_dir": tmp})
    for _ in range(3):
        c.add_node(num_cpus=2, temp_dir=tmp)
    c.connect()
    yield c
    c.shutdown()


def test_002_placement_groups_strict_spread(four_nodes):
    def create_placement_groups():
        """创建和管理Placement Groups"""

        # 创建紧密打包的资源组
        pg_tight = placement_group([
            {"CPU": 2, "GPU": 1},  # Bundle 0: 2 CPU + 1 GPU
            {"CPU": 2},            # Bundle 1: 2 CPU
            {"CPU": 1, "memory": 1000 * 1024 * 1024}  # Bundle 2: 1 CPU + 1GB内存
        ], strategy="STRICT_PACK")  # 严格打包在同一节点

        # 创建分散的资源组
        pg_spread = placement_group([
            {"CPU": 1} for _ in range(4)  # 4个单CPU bundle
        ], strategy="STRICT_SPREAD")  # 严格分散到不同节点

        # 等待Placement Group创建完成
        ray.get(pg_tight.ready())
        ray.get(pg_spread.ready())

        return pg_tight, pg_spread

    pg_tight, pg_spread = create_placement_groups()

    # lumos test: check where the bundles landed.
    @ray.remote(num_cpus=1)
    def where():
        return ray.get_runtime_context().get_node_id()
    spread_nodes = ray.get([where.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg_spread, i)).remote()
                            for i in range(4)])
    assert len(set(spread_nodes)) == 4
    tight_nodes = ray.get([where.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg_tight, i)).remote()
                           for i in range(3)])
    assert len(set(tight_nodes)) == 1


def test_002_distributed_actors_spread(four_nodes):
    import os

    @ray.remote
    class DistributedWorker:
        def __init__(self, worker_id):
            self.worker_id = worker_id
            self.pid = os.getpid()
            print(f"Worker {worker_id} started, PID: {self.pid}")

        def process_task(self, task_id):
            """处理任务"""
            return f"Worker {self.worker_id} processed task {task_id}"

        def get_info(self):
            """获取Worker信息"""
            import lumos as ray  # lumos test: the seed imports ray here
            return {
                "worker_id": self.worker_id,
                "pid": self.pid,
                "node_id": ray.get_runtime_context().node_id
            }

    def create_distributed_actors():
        """创建分布式Actor集群"""

        # 创建跨节点的Placement Group
        distributed_pg = placement_group([
            {"CPU": 1} for _ in range(6)  # 6个Worker
        ], strategy="SPREAD")  # 尽量分散到不同节点

        ray.get(distributed_pg.ready())

        # 在不同bundle中创建Actor
        workers = []
        for i in range(6):
            worker = DistributedWorker.options(
                scheduling_strategy=PlacementGroupSchedulingStrategy(
                    placement_group=distributed_pg,
                    placement_group_bundle_index=i
                )
            ).remote(worker_id=i)
            workers.append(worker)

        # 获取Worker信息，验证分布情况
        worker_infos = ray.get([worker.get_info.remote() for worker in workers])

        print("Worker distribution:")
        for info in worker_infos:
            print(f"Worker {info['worker_id']}: Node {info['node_id'][:8]}, PID {info['pid']}")

        # 分发任务到所有Worker
        futures = []
        for i, worker in enumerate(workers):
            for task_id in range(3):  # 每个Worker处理3个任务
                future = worker.process_task.remote(f"{i}_{task_id}")
                futures.append(future)

        # 等待所有任务完成
        results = ray.get(futures)
        return workers, worker_infos, results

    workers, infos, results = create_distributed_actors()
    assert len(results) == 18 and results[0] == "Worker 0 processed task 0_0"
    nodes = {info["node_id"] for info in infos}
    assert len(nodes) == 4  # SPREAD over the 4 nodes
