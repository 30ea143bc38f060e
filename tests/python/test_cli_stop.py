"""`lumos stop` signals each recorded process once: the session_latest link
must not make it count (and signal) a session's pid files twice."""
import glob
import os
import re

from conftest import env_with_lumos, run_cli, short_tmpdir


def test_stop_counts_each_recorded_process_once(no_cluster, monkeypatch):
    monkeypatch.delenv("LUMOS_AUTH_TOKEN", raising=False)
    tmp = short_tmpdir()
    env = env_with_lumos()
    r = run_cli(["start", "--head", "--num-cpus", "1", "--temp-dir", tmp, "--include-dashboard", "false",
                 "--client-server-port", "0"], env, timeout=60)
    assert r.returncode == 0, r.stderr
    recorded = {os.path.realpath(p) for p in glob.glob(os.path.join(tmp, "session_*", "pids", "*.pid"))}
    assert os.path.islink(os.path.join(tmp, "session_latest"))
    r = run_cli(["stop", "--temp-dir", tmp], env, timeout=60)
    assert r.returncode == 0, r.stderr
    m = re.search(r"Stopped (\d+) lumos process", r.stdout)
    assert m and int(m.group(1)) == len(recorded), (r.stdout, sorted(recorded))
