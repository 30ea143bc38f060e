"""Reports this process's application metrics (lumos.util.metrics) to the
GCS, where the dashboard reads them for /metrics and its charts.

A thread starts with the first metric a process creates (processes with no
metric pay nothing). Every REPORT_INTERVAL_S, when this process is connected
to a cluster, it writes collect()'s snapshot as JSON to the GCS key-value
store under KV_NAMESPACE, key "<hostname>:<pid>": when the values changed,
and every REFRESH_S regardless, so a reader can drop a report older than
STALE_S as a process that has gone.
"""
import json
import os
import socket
import threading
import time

KV_NAMESPACE = b"lumos_metrics"
REPORT_INTERVAL_S = 2.0
REFRESH_S = 30.0
STALE_S = 90.0

_started = False
_start_lock = threading.Lock()


def ensure_started(collect):
    """Starts the reporting thread once; `collect` is lumos.util.metrics.collect
    (passed in, so this module does not import the one that imports it)."""
    global _started
    if _started:
        return
    with _start_lock:
        if _started:
            return
        _started = True
        threading.Thread(target=_run, args=(collect,), name="lumos-metrics-reporter", daemon=True).start()


def report_key():
    return ("%s:%d" % (socket.gethostname(), os.getpid())).encode()


def _run(collect):
    from lumos._private import worker
    last_body, last_put = None, 0.0
    while True:
        time.sleep(REPORT_INTERVAL_S)
        gcs = worker._state.gcs
        if gcs is None:
            last_body = None  # a new connection gets a fresh report
            continue
        snapshot = collect()
        body = json.dumps(snapshot, sort_keys=True)
        now = time.time()
        if body == last_body and now - last_put < REFRESH_S:
            continue
        report = {"pid": os.getpid(), "host": socket.gethostname(), "time_ms": int(now * 1000),
                  "metrics": snapshot}
        try:
            gcs.kv_put(KV_NAMESPACE, report_key(), json.dumps(report).encode())
            last_body, last_put = body, now
        except Exception:  # noqa: BLE001 - the GCS may be restarting; the next round retries
            pass
