"""lumos.experimental.tqdm_ray and lumos.util.progress: bars updated inside
tasks and actors are drawn by the driver (one final line per bar without a
terminal; redrawn in place on one), never through the workers' stdout or
log files; waiting on many refs with a bar; bad input."""
import glob
import os
import pty
import select
import subprocess
import sys
import time

import pytest

import lumos as ray
from lumos._private.progress_display import format_bar
from lumos.exceptions import GetTimeoutError
from lumos.experimental.tqdm_ray import tqdm

from conftest import env_with_lumos, REPO

pytestmark = pytest.mark.timeout(180)

DRIVER = r'''
import time, lumos
from lumos.experimental.tqdm_ray import tqdm
lumos.init(address=%(address)r)

@lumos.remote
def work(i):
    print("task", i, "prints a line")
    for _ in tqdm(range(30), desc="bar%%d" %% i, flush_interval_s=0.01):
        time.sleep(0.005)
    return i

@lumos.remote
class Counter:
    def count(self, n):
        bar = tqdm(total=n, desc="actor bar", position=1)
        for _ in range(n):
            bar.update(1)
        bar.close()
        return n

print("results", lumos.get([work.remote(i) for i in range(3)]))
print("actor", lumos.get(Counter.remote().count.remote(7)))
print("progress", lumos.util.progress([work.remote(i) for i in (7, 8)], desc="waiting"))
lumos.shutdown()
'''


def _driver_env(ctx):
    with open(os.path.join(ctx["session_dir"], "auth_token")) as f:
        return env_with_lumos(LUMOS_AUTH_TOKEN=f.read().strip())


def _script(ctx, tmp_path):
    path = tmp_path / "driver.py"
    path.write_text(DRIVER % {"address": ctx["gcs_address"]})
    return str(path)


def test_bars_from_tasks_are_drawn_by_the_driver(ray_start, tmp_path):
    r = subprocess.run([sys.executable, _script(ray_start, tmp_path)], capture_output=True, text=True,
                       timeout=120, env=_driver_env(ray_start), cwd=REPO)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for i in range(3):
        done = [l for l in lines if "bar%d: 100%%|" % i in l and "30/30" in l]
        assert len(done) == 1 and done[0].startswith("(pid="), r.stdout
    assert len([l for l in lines if "actor bar: 100%|" in l and "7/7" in l]) == 1, r.stdout
    assert len([l for l in lines if l.startswith("waiting: 100%|") and "2/2" in l]) == 1, r.stdout
    assert "results [0, 1, 2]" in lines and "actor 7" in lines and "progress [7, 8]" in lines
    assert any("task 0 prints a line" in l for l in lines)
    # No progress update went through stdout: not in the output, not in any worker's log file.
    assert "lumos-progress" not in r.stdout and "\x1e" not in r.stdout
    for path in glob.glob(os.path.join(ray_start["session_dir"], "logs", "worker-*")):
        with open(path, errors="replace") as f:
            assert "lumos-progress" not in f.read(), path


def test_bars_are_redrawn_in_place_on_a_terminal(ray_start, tmp_path):
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, _script(ray_start, tmp_path)], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, env=_driver_env(ray_start), cwd=REPO)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break  # the child closed the terminal
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=30) == 0, out.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = out.decode(errors="replace")
    assert "\x1b[" in text and "F\x1b[J" in text  # the block moved up and redrawn
    for i in range(3):
        assert "bar%d: 100%%|" % i in text
    assert "progress [7, 8]" in text and "lumos-progress" not in text


def test_progress_waits_and_returns_values(ray_start):
    @ray.remote
    def square(x):
        return x * x

    refs = [square.remote(i) for i in range(50)]
    assert ray.util.progress(refs, desc="squares") == [i * i for i in range(50)]
    assert ray.util.progress(refs, fetch=False) == refs

    @ray.remote
    def slow():
        time.sleep(30)

    with pytest.raises(GetTimeoutError, match="not ready within"):
        ray.util.progress([slow.remote()], timeout=0.3)
    with pytest.raises(TypeError, match="ObjectRefs"):
        ray.util.progress([1, 2])
    with pytest.raises(ValueError, match="timeout"):
        ray.util.progress(refs, timeout=-1)


def test_tqdm_api_and_bad_input():
    with pytest.raises(ValueError, match="total"):
        tqdm(total=-3)
    with pytest.raises(ValueError, match="no iterable"):
        list(tqdm(total=3))
    bar = tqdm(total=4, desc="x")
    bar.update(2)
    bar.set_description("y")
    bar.refresh()
    assert bar.n == 2 and bar.total == 4
    bar.n = 3
    bar.total = 5
    bar.close()
    bar.close()  # twice is fine
    assert list(tqdm(range(3))) == [0, 1, 2]


def test_format_bar():
    now = 100.0
    line = format_bar({"desc": "d", "x": 5, "total": 10, "start": 90.0}, now, width=10)
    assert line.startswith("d:  50%|#####     | 5/10 [00:10<00:10, 0.50it/s]")
    assert format_bar({"x": 3, "total": None, "unit": "rows", "start": 97.0}, now) == "3rows [00:03, 1.00rows/s]"
