"""The cluster's key-value store (Ray's ray.experimental.internal_kv), backed
by the GCS KV tables: what lumos itself uses to ship functions and job
configs. Keys and values are bytes (str is encoded as UTF-8); `namespace`
(str or bytes; None: the default, empty namespace) keeps users apart.
lumos's own entries live in the namespaces "fun", "job" and "node_labels":
do not write there.

Needs a connected driver or worker (lumos.init() first); every call is one
synchronous GCS round trip.
"""
from lumos._private import worker as _worker


def _bytes(what, value):
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    raise TypeError("%s must be str or bytes, got %s %r" % (what, type(value).__name__, value))


def _ns(namespace):
    return b"" if namespace is None else _bytes("namespace", namespace)


def _gcs():
    state = _worker.global_state()
    if state.gcs is None:
        raise RuntimeError("internal_kv needs a connected cluster: call lumos.init() first")
    return state.gcs


def _internal_kv_initialized():
    """True when this process is connected to a cluster (the KV is reachable)."""
    return _worker.global_state().gcs is not None


def _internal_kv_get(key, *, namespace=None):
    """The value of `key` (bytes), or None when there is none."""
    return _gcs().kv_get(_ns(namespace), _bytes("key", key))


def _internal_kv_exists(key, *, namespace=None):
    return _internal_kv_get(key, namespace=namespace) is not None


def _internal_kv_put(key, value, overwrite=True, *, namespace=None):
    """Stores `value` under `key` (an existing value is kept when
    overwrite=False). Returns True when the key already existed, as Ray does."""
    added = _gcs().kv_put(_ns(namespace), _bytes("key", key), _bytes("value", value), bool(overwrite))
    return not added


def _internal_kv_del(key, *, del_by_prefix=False, namespace=None):
    """Deletes `key` (every key starting with it when del_by_prefix=True);
    returns how many keys went."""
    return _gcs().kv_del(_ns(namespace), _bytes("key", key), bool(del_by_prefix))


def _internal_kv_list(prefix, *, namespace=None):
    """The keys (bytes) that start with `prefix`."""
    return _gcs().kv_keys(_ns(namespace), _bytes("prefix", prefix))
