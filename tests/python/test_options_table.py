"""The options table (lumos._private.options): one row per option, used by
remote functions, actors, actor methods and their .options(); a request
bigger than its placement-group bundle is refused at .remote(); and the
Python modules import one another without circles."""
import ast
import os

import pytest

import lumos as ray
from lumos._private import options as opts
from lumos.util.placement_group import placement_group, remove_placement_group
from lumos.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from conftest import PYTHON_DIR


@pytest.fixture(scope="module")
def cluster(ray_start):
    yield ray_start


def test_every_row_is_complete_and_kinds_partition_names():
    for name, row in opts.OPTIONS.items():
        assert row.name == name
        assert row.kinds and row.kinds <= {opts.TASK, opts.ACTOR, opts.METHOD}
        assert callable(row.check) and row.type_doc
    assert "max_retries" in opts.TASK_OPTIONS and "max_retries" not in opts.ACTOR_OPTIONS
    assert "max_restarts" in opts.ACTOR_OPTIONS and "max_restarts" not in opts.TASK_OPTIONS
    assert "concurrency_group" in opts.METHOD_OPTIONS and "num_cpus" not in opts.METHOD_OPTIONS
    assert opts.default("num_cpus", opts.TASK) == 1 and opts.default("num_cpus", opts.ACTOR) == 0
    assert opts.default("max_retries", opts.TASK) == 3
    assert ray.actor.ACTOR_OPTIONS is opts.ACTOR_OPTIONS  # the actor module has no list of its own


@pytest.mark.parametrize("kind,options,needle", [
    (opts.TASK, {"num_cpus": -1}, "num_cpus must be non-negative"),
    (opts.TASK, {"num_cpus": "2"}, "num_cpus must be a number"),
    (opts.TASK, {"num_gpus": 1.5}, "whole number"),
    (opts.TASK, {"resources": {"CPU": 1}}, "num_cpus"),
    (opts.TASK, {"max_retries": -2}, "max_retries"),
    (opts.TASK, {"retry_exceptions": [1]}, "retry_exceptions"),
    (opts.TASK, {"num_returns": -1}, "num_returns"),
    (opts.TASK, {"name": 5}, "name must be a string"),
    (opts.TASK, {"label_selector": ["x"]}, "label_selector must be a dict"),
    (opts.TASK, {"max_restarts": 1}, "Invalid option keyword 'max_restarts' for a task"),
    (opts.ACTOR, {"max_retries": 1}, "Invalid option keyword 'max_retries' for an actor"),
    (opts.ACTOR, {"name": ""}, "non-empty"),
    (opts.ACTOR, {"max_concurrency": 0}, "max_concurrency must be an int >= 1"),
    (opts.ACTOR, {"get_if_exists": True}, "needs a name"),
    (opts.ACTOR, {"concurrency_groups": {"io": 0}}, r"concurrency_groups\['io'\] must be an int >= 1"),
    (opts.ACTOR, {"concurrency_groups": ["io"]}, "must be a dict"),
    (opts.ACTOR, {"concurrency_groups": {1: 2}}, "non-empty string"),
    (opts.METHOD, {"concurrency_group": ""}, "concurrency_group must be the name"),
    (opts.METHOD, {"num_returns": "dynamic"}, "non-negative int or 'streaming'"),
    (opts.METHOD, {"num_cpus": 1}, "Invalid option 'num_cpus' for an actor method"),
    (opts.METHOD, {"max_task_retries": -5}, "max_task_retries"),
])
def test_validate_rejects_with_a_clear_message(kind, options, needle):
    with pytest.raises(ValueError, match=needle):
        opts.validate(options, kind)


def test_same_checks_reach_every_entry_point():
    def f():
        return 1

    class A:
        def m(self):
            return 1

    with pytest.raises(ValueError, match="num_cpus must be non-negative"):
        ray.remote(num_cpus=-1)(f)
    with pytest.raises(ValueError, match="num_cpus must be non-negative"):
        ray.remote(f).options(num_cpus=-1)
    with pytest.raises(ValueError, match="num_cpus must be non-negative"):
        ray.remote(num_cpus=-1)(A)
    with pytest.raises(ValueError, match="num_cpus must be non-negative"):
        ray.remote(A).options(num_cpus=-1)
    with pytest.raises(ValueError, match="for @lumos.method"):
        ray.method(num_cpus=1)
    with pytest.raises(ValueError, match="num_returns"):
        ray.method(num_returns=-3)


def test_task_bigger_than_its_bundle_is_refused_at_remote(cluster):
    pg = placement_group([{"CPU": 1}, {"CPU": 1}])
    assert pg.wait(30)

    @ray.remote
    def f():
        return "ran"

    try:
        with pytest.raises(ValueError) as info:
            f.options(num_cpus=2, placement_group=pg, placement_group_bundle_index=0).remote()
        msg = str(info.value)
        assert "{'CPU': 2.0}" in msg and "{'CPU': 1.0}" in msg and "bundle 0" in msg
        # Any bundle (index -1): none holds 2 CPUs.
        with pytest.raises(ValueError, match=r"\{'CPU': 2.0\}.*no bundle"):
            f.options(num_cpus=2, scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote()
        # Custom resources too, and a resource the bundle lacks.
        with pytest.raises(ValueError, match="'accel': 1.0"):
            f.options(num_cpus=0, resources={"accel": 1}, placement_group=pg).remote()
        # What fits still runs.
        ok = f.options(num_cpus=1, scheduling_strategy=PlacementGroupSchedulingStrategy(pg, 1)).remote()
        assert ray.get(ok, timeout=30) == "ran"
    finally:
        remove_placement_group(pg)


def test_actor_bigger_than_its_bundle_is_refused(cluster):
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(30)

    @ray.remote
    class A:
        def ping(self):
            return "pong"

    try:
        with pytest.raises(ValueError, match=r"actor A asks for \{'CPU': 2.0\} but bundle 0 .*\{'CPU': 1.0\}"):
            A.options(num_cpus=2, placement_group=pg, placement_group_bundle_index=0).remote()
        a = A.options(num_cpus=1, placement_group=pg, placement_group_bundle_index=0).remote()
        assert ray.get(a.ping.remote(), timeout=30) == "pong"
        ray.kill(a)
    finally:
        remove_placement_group(pg)


def test_captured_child_bigger_than_the_bundle_fails_in_the_parent(cluster):
    pg = placement_group([{"CPU": 1}])
    assert pg.wait(30)

    @ray.remote(num_cpus=2)
    def child():
        return 1

    @ray.remote(num_cpus=1)
    def parent():
        try:
            child.remote()
        except ValueError as e:
            return str(e)
        return "submitted"

    try:
        msg = ray.get(parent.options(scheduling_strategy=PlacementGroupSchedulingStrategy(
            pg, 0, placement_group_capture_child_tasks=True)).remote(), timeout=60)
        assert "{'CPU': 2.0}" in msg and "{'CPU': 1.0}" in msg
    finally:
        remove_placement_group(pg)


def _import_graph(root):
    """{module: {imported lumos module}} over top-level and function-level imports."""
    mods = {}
    for dirpath, _, files in os.walk(os.path.join(root, "lumos")):
        for fn in files:
            if fn.endswith(".py"):
                path = os.path.join(dirpath, fn)
                name = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                mods[name[:-9] if name.endswith(".__init__") else name] = path
    graph = {}
    for name, path in mods.items():
        package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(open(path).read())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1]) + ("." + base if base else "")
                targets = [base] + [base + "." + a.name for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rsplit(".", 1)[0] if "." in t else ""
                if t and t != name and not name.startswith(t + "."):
                    edges.add(t)
        graph[name] = edges
    return graph


def test_no_import_circles_among_lumos_modules():
    graph = _import_graph(PYTHON_DIR)
    state = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(mod, path):
        state[mod] = 1
        for dep in sorted(graph[mod]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert not cycles, "import circles: %s" % [" -> ".join(c) for c in cycles]
