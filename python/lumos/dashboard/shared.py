"""The objects the dashboard's route modules share, one per dashboard
process: the ClusterData cache and the metrics sampler. Made on first use,
so a route module asks for them in register() and never builds its own.
"""
import threading
from typing import Any, Dict

_lock = threading.Lock()
_by_address: Dict[str, Any] = {}   # gcs address -> ClusterData
_samplers: Dict[str, Any] = {}     # gcs address -> timeseries.Sampler


def cluster(ctx):
    """The ClusterData of the cluster at ctx.gcs_address."""
    from lumos.dashboard.cluster import ClusterData
    with _lock:
        data = _by_address.get(ctx.gcs_address)
        if data is None:
            data = _by_address[ctx.gcs_address] = ClusterData(ctx.gcs_address, ctx.token or None)
        return data


def sampler(ctx):
    """The (started) metrics sampler of the cluster at ctx.gcs_address."""
    from lumos.dashboard import timeseries
    data = cluster(ctx)
    with _lock:
        s = _samplers.get(ctx.gcs_address)
        if s is None:
            s = _samplers[ctx.gcs_address] = timeseries.Sampler(data)
            s.start()
        return s


def objects(ctx, limit):
    """References held by every driver and worker (the state API's
    list_objects) and each node's store use."""
    data = cluster(ctx)

    def build():
        from lumos.util import state
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a cut answer says so in "truncated"
            refs = state.list_objects(address=ctx.gcs_address, limit=limit, detail=True, timeout=10)
        stores = [{"node_id": n["node_id"], "node_ip": n["node_ip"], "store": n["store"]}
                  for n in data.nodes() if n["state"] == "ALIVE"]
        return {"objects": [dict(r) for r in refs], "total": refs.total, "truncated": refs.truncated,
                "stores": stores}
    return data.cached(("objects", limit), build, ttl=2.0)
