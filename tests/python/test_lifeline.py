"""The cluster a driver starts lives as long as the driver process, not the
thread that called init(): PR_SET_PDEATHSIG would stop gcs_server and the
raylet when that thread ends. And it still ends with the driver."""
import os
import signal
import subprocess
import sys
import time

import psutil

from conftest import env_with_lumos, short_tmpdir, wait_gone

SCRIPT = r"""
import os, sys, threading, time
import lumos
t = threading.Thread(target=lambda: lumos.init(num_cpus=1, _temp_dir=sys.argv[1]))
t.start(); t.join()
time.sleep(1.0)  # a PDEATHSIG'd child would be gone by now
print(lumos.get(lumos.remote(lambda: 41).remote(), timeout=30) + 1, flush=True)
print("ready", flush=True)
time.sleep(600)
"""


def test_a_cluster_outlives_the_thread_that_started_it_and_ends_with_the_driver():
    tmp = short_tmpdir()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, tmp], stdout=subprocess.PIPE, text=True,
                            env=env_with_lumos())
    try:
        assert proc.stdout.readline().strip() == "42"
        assert proc.stdout.readline().strip() == "ready"
        children = psutil.Process(proc.pid).children(recursive=True)
        names = {" ".join(c.cmdline()) for c in children}
        assert any("gcs_server" in n for n in names) and any("raylet" in n for n in names), names
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        left = wait_gone(children, timeout=10)
        assert not left, [p.cmdline() for p in left]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
