"""Programs from Ray's documentation on cancel, errors and the runtime
context, run as scripts. The only change from Ray's text is `import lumos as
ray` (and a num_cpus for a small cluster). Each runs in its own process and
cluster under a private LUMOS_TMPDIR."""
import subprocess
import sys
import textwrap

import pytest

from conftest import env_with_lumos

PROGRAMS = {
    # Ray docs, "Cancelling Actor Tasks" (async actor): the coroutine sees
    # CancelledError, and get still raises.
    "cancel_async_actor_task": ("""
        import lumos as ray
        import asyncio
        import time

        ray.init(num_cpus=2)

        @ray.remote
        class Actor:
            async def f(self):
                try:
                    await asyncio.sleep(5)
                except asyncio.CancelledError:
                    print("Actor task canceled.")

        actor = Actor.remote()
        ref = actor.f.remote()

        # Wait until task is scheduled.
        time.sleep(1)
        ray.cancel(ref)

        try:
            ray.get(ref)
        except ray.exceptions.RayTaskError:
            print("Object reference was cancelled.")
        """, ["Actor task canceled.", "Object reference was cancelled."]),
    # Ray docs, "Cancelling Tasks".
    "cancel_task": ("""
        import lumos as ray
        import time

        ray.init(num_cpus=2)

        @ray.remote
        def blocking_operation():
            time.sleep(10e6)

        obj_ref = blocking_operation.remote()
        ray.cancel(obj_ref)

        try:
            ray.get(obj_ref)
        except ray.exceptions.TaskCancelledError:
            print("Object reference was cancelled.")
        """, ["Object reference was cancelled."]),
    # Ray docs, "Task fault tolerance": the cause's type, through a nested get.
    "catch_the_cause": ("""
        import lumos as ray

        ray.init(num_cpus=2)

        class MyException(Exception):
            pass

        @ray.remote
        def raises_my_exc():
            raise MyException("a user exception")

        @ray.remote
        def calls_it():
            return ray.get(raises_my_exc.remote())

        for ref in (raises_my_exc.remote(), calls_it.remote()):
            try:
                ray.get(ref)
            except MyException as e:
                print("caught", type(e.cause).__name__, e.cause)
        """, ["caught MyException a user exception"] * 2),
    # Ray docs, "Resources": what a task holds.
    "assigned_resources": ("""
        import lumos as ray

        ray.init(num_cpus=4, resources={"special_hardware": 2})

        @ray.remote(num_cpus=2, resources={"special_hardware": 0.5})
        def f():
            return ray.get_runtime_context().get_assigned_resources()

        print(ray.get(f.remote()))

        @ray.remote(num_cpus=1)
        class Actor:
            def name(self):
                ctx = ray.get_runtime_context()
                return ctx.get_actor_name(), ctx.get_task_name(), ctx.get_assigned_resources()

        a = Actor.options(name="my_actor").remote()
        print(ray.get(a.name.remote()))
        """, ["{'CPU': 2.0, 'special_hardware': 0.5}", "('my_actor', 'Actor.name', {'CPU': 1.0})"]),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program(name, tmp_short):
    source, expected_lines = PROGRAMS[name]
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True, text=True,
                         timeout=180, env=env_with_lumos(LUMOS_TMPDIR=tmp_short))
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    for want in expected_lines:
        # Worker output is prefixed "(Actor pid=N) ", as in Ray.
        assert any(line == want or line.endswith(") " + want) for line in lines), out.stdout
    assert sum(line.endswith(expected_lines[0]) for line in lines) == expected_lines.count(expected_lines[0])
