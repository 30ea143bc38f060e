"""`lumos start --head` on a host whose recorded cluster lost only its GCS:
start the gcs_server again with the argv it was started with (same port,
token and --gcs-storage), so raylets, workers and actors carry on.

The head's Node writes that argv to <session_dir>/gcs_argv.json. The cluster
is the one in <temp root>/lumos_current_cluster; a process counts as alive
only when its recorded start time still matches (no pid reuse)."""
import json
import os
import subprocess

from lumos._private import node as node_mod

ARGV_FILE = node_mod.GCS_ARGV_FILE


def _recorded_alive(session_dir, name):
    try:
        with open(os.path.join(session_dir, "pids", name + ".pid")) as f:
            pid_s, start_s = f.read().split()[:2]
        pid = int(pid_s)
    except (OSError, ValueError):
        return False
    start = node_mod.process_start_time(pid)
    if start is None or str(start) != start_s:
        return False
    try:  # a killed process nobody reaped yet (a zombie) is dead too
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def restart_if_gcs_died(temp_dir=None, timeout=30.0):
    """Restarts the recorded head's gcs_server when it is dead but its raylet
    lives. Returns (gcs_address, session_dir) when it did, else None."""
    root = node_mod.session_root(temp_dir)
    try:
        with open(os.path.join(root, node_mod.CURRENT_CLUSTER_FILE)) as f:
            rec = json.load(f)
        session_dir, address = rec["session_dir"], rec["gcs_address"]
        with open(os.path.join(session_dir, ARGV_FILE)) as f:
            argv = json.load(f)
    except (OSError, ValueError, KeyError):
        return None
    if _recorded_alive(session_dir, "gcs_server") or not _recorded_alive(session_dir, "raylet"):
        return None
    logs = os.path.join(session_dir, "logs")
    with open(os.path.join(logs, "gcs_server.out"), "ab") as out, \
            open(os.path.join(logs, "gcs_server.err"), "ab") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True,
                                start_new_session=True)
    with open(os.path.join(session_dir, "pids", "gcs_server.pid"), "w") as f:
        f.write("%d %s\n" % (proc.pid, node_mod.process_start_time(proc.pid)))
    node_mod.wait_for_gcs(address, timeout, proc, session_dir)
    return address, session_dir
