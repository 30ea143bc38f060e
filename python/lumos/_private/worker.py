"""The process-wide lumos state and the core API: init, shutdown, get, put, wait.

One `_state` per process. A driver gets it from init(); a worker from
workers/default_worker.py. Blocking calls release the GIL inside the core worker.
"""
import atexit
import json
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar, overload

from lumos import _raylet
from lumos import exceptions
from lumos._private import accelerators
from lumos._private import job_setup
from lumos._private import node_labels
from lumos._private import serialization
from lumos._private.function_manager import JOB_NS, FunctionExporter
from lumos._private.node import CURRENT_CLUSTER_FILE, Node, session_root

if TYPE_CHECKING:
    from lumos._private.generators import ObjectRefGenerator

logger = logging.getLogger("lumos")

SCRIPT_MODE = "driver"
WORKER_MODE = "worker"

# Keywords of ray.init() that lumos accepts for compatibility and ignores
# (no separate log monitor), except include_dashboard,
# dashboard_host and dashboard_port, which a new local cluster reads.
IGNORED_INIT_KEYWORDS = {
    "include_dashboard", "dashboard_host", "dashboard_port", "log_to_driver", "logging_level",
    "logging_format", "configure_logging", "local_mode", "_node_ip_address", "_metrics_export_port", "storage",
    "enable_resource_isolation", "_plasma_directory", "_enable_object_reconstruction",
    "_redis_password", "_memory", "_driver_object_store_memory", "_tracing_startup_hook",
    "_plasma_store_socket_name", "_raylet_socket_name",
}


class _State:
    def __init__(self):
        self.lock = threading.RLock()
        self.mode = None
        self.core_worker = None
        self.gcs = None
        self.node = None          # processes this driver started
        self.exporters = {}
        self.job_namespaces = {}  # worker: job hex -> namespace, from the job config
        self.actor = None         # worker: the ActorRuntime hosted here, if any
        self.namespace = None
        self.gcs_address = None
        self.session_dir = None
        self.node_info = None
        self.epoch = 0            # bumped at every connect: per-session caches key on it
        # (token, node ip, session dir) of the node the next init(address=)
        # attaches to, set by cluster_utils.Cluster.connect.
        self.attach_hint = None
        self.node_ip = None       # worker: the IP of its node (drivers read node_info)
        # This process's runtime environment (resolved; see _private/runtime_env):
        # the job's in a driver, the one a worker was started for. Calls
        # without a runtime_env option inherit it.
        self.runtime_env = {}
        self.runtime_env_json = b""

    @property
    def connected(self):
        return self.core_worker is not None


_state = _State()

# Client mode (lumos.init("lumos://...")): the Client that lumos.get/put/
# remote/... hand their work to (lumos.util.client.api), else None. Checked
# once per call, as Ray's client hook is; a driver or worker never sets it.
_client = None
# lumos.util.client.api.init_client, set by lumos/__init__.py: that package
# imports this module, so this one does not import it.
_client_connector: Any = None


def global_state():
    return _state


class RayContext(dict):
    """What init() returns: a dict of addresses that also reads as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutdown()


def is_initialized() -> bool:
    return _state.connected or _client is not None


def _validate_resources(num_cpus, num_gpus, resources, object_store_memory):
    for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ValueError("%s must be a non-negative number, got %r" % (name, value))
        accelerators.check_amount(name, value)
    if resources is not None:
        if not isinstance(resources, dict):
            raise TypeError("resources must be a dict of name -> amount, got %r" % (resources,))
        for k, v in resources.items():
            if k in ("CPU", "GPU"):
                raise ValueError("use num_cpus/num_gpus instead of resources[%r]" % k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError("resource %r must be a non-negative number, got %r" % (k, v))
            accelerators.check_amount("resources[%r]" % k, v)
    if object_store_memory is not None and (not isinstance(object_store_memory, int) or object_store_memory < 1 << 20):
        raise ValueError("object_store_memory must be an int of at least 1 MiB, got %r" % (object_store_memory,))


def _read_cluster_file(temp_dir):
    """What `lumos start` recorded on this host (gcs_address, session_dir, node_ip), or {}."""
    try:
        with open(os.path.join(session_root(temp_dir), CURRENT_CLUSTER_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _find_auto_address(temp_dir):
    path = os.path.join(session_root(temp_dir), CURRENT_CLUSTER_FILE)
    try:
        with open(path) as f:
            return json.load(f)["gcs_address"]
    except (OSError, ValueError, KeyError):
        raise ConnectionError(
            "Could not find any running lumos instance (no %s). Start one with "
            "`lumos start --head`, or call lumos.init() without an address to start a local one." % path)


def _parse_spill_config(config):
    """object_spill_config (a dict or its JSON string) -> the spill directory.
    Only {"type": "filesystem", "params": {"directory_path": ...}} is built."""
    if config is None:
        return None
    if isinstance(config, (str, bytes)):
        try:
            config = json.loads(config)
        except ValueError as e:
            raise ValueError("object_spill_config is not valid JSON (%s): %r" % (e, config)) from None
    if not isinstance(config, dict):
        raise ValueError("object_spill_config must be a dict like {'type': 'filesystem', 'params': "
                         "{'directory_path': '/tmp/spill'}}, got %r" % (config,))
    kind = config.get("type", "filesystem")
    if kind != "filesystem":
        raise ValueError("object spilling to %r is not built in lumos; use {'type': 'filesystem', "
                         "'params': {'directory_path': ...}}" % (kind,))
    params = config.get("params") or {}
    path = params.get("directory_path") if isinstance(params, dict) else None
    if isinstance(path, (list, tuple)) and len(path) == 1:
        path = path[0]
    if not isinstance(path, str) or not path:
        raise ValueError("object_spill_config['params']['directory_path'] must be a directory path "
                         "(a non-empty string), got %r" % (path,))
    return os.path.abspath(os.path.expanduser(path))


def init(address: "str | None" = None, *, num_cpus: "float | None" = None, num_gpus: "float | None" = None,
         resources: "dict[str, float] | None" = None, object_store_memory: "int | None" = None,
         namespace: "str | None" = None, ignore_reinit_error: bool = False,
         _system_config: "dict[str, Any] | None" = None, _temp_dir: "str | None" = None,
         object_spill_config: Any = None, labels: "dict[str, str] | None" = None, runtime_env: Any = None,
         job_config: Any = None, logging_config: Any = None, **kwargs: Any) -> "RayContext":
    """Starts a local cluster (address None or "local") or connects to one
    ("auto" or "host:port"), and makes this process a driver."""
    target = address if address is not None else (os.environ.get("LUMOS_ADDRESS") or os.environ.get("RAY_ADDRESS"))
    if isinstance(target, str) and target.startswith(("ray://", "lumos://")):
        return _client_connector(target, namespace, runtime_env, job_config, ignore_reinit_error, {
            "num_cpus": num_cpus, "num_gpus": num_gpus, "resources": resources,
            "object_store_memory": object_store_memory, "_system_config": _system_config,
            "object_spill_config": object_spill_config, "labels": labels, "_temp_dir": _temp_dir}, kwargs)
    unknown = set(kwargs) - IGNORED_INIT_KEYWORDS
    if unknown:
        raise TypeError("init() got unexpected keyword argument(s): %s" % ", ".join(sorted(unknown)))
    with _state.lock:
        if _state.connected:
            if ignore_reinit_error:
                return _context()
            raise RuntimeError("Maybe you called lumos.init twice by accident? This error can be suppressed "
                               "by passing in 'ignore_reinit_error=True' or by calling 'lumos.shutdown()' "
                               "prior to 'lumos.init()'.")
        _validate_resources(num_cpus, num_gpus, resources, object_store_memory)
        labels = node_labels.validate(labels)
        runtime_env, namespace, job_extra = job_setup.resolve(job_config, logging_config, runtime_env, namespace)
        from lumos._private.runtime_env import validation as _env_validation
        _env_validation.validate(runtime_env)  # bad input fails before anything starts
        system_config = dict(_system_config or {})
        # Ray's older spelling of object_spill_config lives in _system_config.
        legacy_spill = system_config.pop("object_spilling_config", None)
        spill_dir = _parse_spill_config(object_spill_config if object_spill_config is not None
                                        else legacy_spill)
        for k, v in system_config.items():
            if not _raylet.set_system_config(k, str(int(v) if isinstance(v, bool) else v)):
                raise ValueError("unknown or invalid _system_config entry %r=%r" % (k, v))
        if address is None:
            address = os.environ.get("LUMOS_ADDRESS") or os.environ.get("RAY_ADDRESS") or None
        if address == "auto":
            address = _find_auto_address(_temp_dir)
        if address in (None, "local"):
            node = Node(head=True, num_cpus=num_cpus, num_gpus=num_gpus, resources=resources,
                        object_store_memory=object_store_memory, temp_dir=_temp_dir,
                        system_config=system_config, spill_dir=spill_dir, labels=labels,
                        include_dashboard=_wants_dashboard(kwargs),
                        dashboard_host=kwargs.get("dashboard_host"),
                        dashboard_port=kwargs.get("dashboard_port")).start()
            _state.node = node
            if node.dashboard_url:
                print("Started a local lumos instance. View the dashboard at %s" % node.dashboard_url,
                      file=sys.stderr, flush=True)
            address = node.gcs_address
        elif any(v is not None for v in (num_cpus, num_gpus, resources, object_store_memory, spill_dir)) or labels:
            raise ValueError("num_cpus, num_gpus, resources, object_store_memory, object_spill_config and "
                             "labels describe a new "
                             "cluster; they cannot be given when connecting to %s" % address)
        try:
            _connect_driver(address, namespace, _temp_dir)
            if runtime_env:
                from lumos._private import runtime_env as _runtime_env
                _runtime_env.set_job_env(_state, runtime_env)
            if labels:
                node_labels.publish(_state.gcs, _state.node_info["NodeID"], labels)
            job_setup.publish(_state.gcs, bytes.fromhex(_state.core_worker.job_id), job_extra)
        except BaseException:
            _teardown()
            raise
        atexit.register(shutdown)
        return _context()


def wait_for_live_nodes(gcs, address, timeout_s=10.0):
    """The cluster's live nodes, waiting for a raylet that is still
    registering (it opens its socket before the GCS lists it)."""
    deadline = time.monotonic() + timeout_s
    nodes = [n for n in gcs.get_all_node_info() if n["Alive"]]
    while not nodes and time.monotonic() < deadline:
        time.sleep(0.01)
        nodes = [n for n in gcs.get_all_node_info() if n["Alive"]]
    if not nodes:
        raise ConnectionError("the cluster at %s has no live node" % address)
    return nodes


def _check_address(address):
    from lumos._private.addresses import split_host_port
    split_host_port(address, what="the cluster address")


def _local_node_identity(address, temp_dir):
    """(token, node ip, session dir or None) for a driver attaching to the
    cluster at `address` from this host."""
    from lumos._private import auth
    if _state.node is not None:  # we started it
        return _state.node.auth_token, _state.node.node_ip, _state.node.session_dir
    if _state.attach_hint is not None:
        return _state.attach_hint
    recorded = _read_cluster_file(temp_dir)
    session = recorded.get("session_dir") if recorded.get("gcs_address") == address else None
    if session is None:
        found = auth.sessions_of(address, session_root(temp_dir))
        session = found[0] if found else None
    token = auth.require(session_dir=session, what="connecting to %s" % address)
    node_ip = auth.node_ip_of(session) if session else None
    return token, node_ip or address.rsplit(":", 1)[0].strip("[]"), session


def _pick_local_node(nodes, node_ip, session_dir, address):
    """The live node of this host the driver attaches to (its raylet's socket)."""
    for n in nodes:
        if session_dir and n["SessionDir"] == session_dir:
            return n
    for n in nodes:
        if n["NodeManagerAddress"] == node_ip and n["RayletSocketName"] and os.path.exists(n["RayletSocketName"]):
            return n
    raise ConnectionError(
        "no node of the cluster at %s runs on this machine (IP %s); start one here with "
        "`lumos start --address=%s` first, or drive the cluster from here in client mode: "
        "lumos.init('lumos://<head IP>:10001')" % (address, node_ip, address))


def _connect_driver(address, namespace, temp_dir=None):
    _check_address(address)
    token, node_ip, session_dir = _local_node_identity(address, temp_dir)
    _raylet.set_cluster_identity(token, node_ip)
    gcs = _raylet.GcsClient(address, timeout_s=10.0)
    node = _pick_local_node(wait_for_live_nodes(gcs, address), node_ip, session_dir, address)
    job_id = gcs.next_job_id()
    namespace = namespace or "anonymous_namespace_" + job_id.hex()
    config = {"sys_path": [p for p in sys.path if p and os.path.isdir(p)], "namespace": namespace}
    gcs.kv_put(JOB_NS, job_id, json.dumps(config).encode())
    gcs.add_job(job_id, os.getpid(), namespace, json.dumps(config), " ".join(sys.argv))
    raylet_socket = node["RayletSocketName"]
    store_socket = node["ObjectStoreSocketName"]
    cw = _raylet.CoreWorker(True, raylet_socket, store_socket, address, node["SessionDir"], job_id)
    _state.core_worker = cw
    _state.epoch += 1
    _state.gcs = gcs
    _state.mode = SCRIPT_MODE
    _state.namespace = namespace
    _state.gcs_address = address
    _state.session_dir = node["SessionDir"]
    _state.node_info = node
    from lumos._private import progress_display
    progress_display.attach(cw, node["NodeManagerAddress"])  # draws tqdm_ray bars, lines above them


def _wants_dashboard(kwargs):
    """init() starts a dashboard only when asked: include_dashboard=True, or
    a dashboard_port given (Ray starts one by default; lumos saves the
    process and its start-up for the many short-lived local clusters)."""
    include = kwargs.get("include_dashboard")
    return bool(include) if include is not None else kwargs.get("dashboard_port") is not None


def _dashboard_address():
    """host:port of the cluster's dashboard (Ray's dashboard_url), or None."""
    from lumos.dashboard.launch import recorded_url
    url = _state.node.dashboard_url if _state.node is not None else recorded_url(_state.session_dir)
    return url.split("://", 1)[-1] if url else None


def _context():
    info = _state.node_info
    address_info = {
        "node_ip_address": info["NodeManagerAddress"], "raylet_ip_address": info["NodeManagerAddress"],
        "redis_address": None, "object_store_address": info["ObjectStoreSocketName"],
        "raylet_socket_name": info["RayletSocketName"], "webui_url": _dashboard_address(),
        "session_dir": _state.session_dir, "gcs_address": _state.gcs_address,
        "address": _state.gcs_address, "node_id": info["NodeID"], "metrics_export_port": None,
    }
    return RayContext(
        address_info=address_info, node_ip_address=info["NodeManagerAddress"],
        address=_state.gcs_address, gcs_address=_state.gcs_address,
        session_dir=_state.session_dir, node_id=_state.core_worker.node_id,
        raylet_socket_name=_state.node_info["RayletSocketName"],
        object_store_address=_state.node_info["ObjectStoreSocketName"],
        job_id=_state.core_worker.job_id, namespace=_state.namespace,
        dashboard_url=_dashboard_address(), python_version="%d.%d.%d" % sys.version_info[:3], lumos_version="0.1.0")


def shutdown(_exiting_interpreter: bool = False) -> None:
    """Disconnects; stops the processes this driver started."""
    global _client
    if _client is not None:   # client mode: the server-side driver ends with its job
        client, _client = _client, None
        client.close()
        return
    pg_module = sys.modules.get("lumos._private.placement")
    if pg_module is not None:
        pg_module.flush_removals()  # queued asynchronous removals go out first
    with _state.lock:
        if _state.mode == SCRIPT_MODE and _state.gcs is not None and _state.core_worker is not None:
            try:
                _state.gcs.mark_job_finished(bytes.fromhex(_state.core_worker.job_id))
            except Exception:
                pass
        _teardown()


def _teardown():
    cw, node = _state.core_worker, _state.node
    _state.core_worker = None
    _state.node = None
    _state.gcs = None
    _state.mode = None
    _state.exporters = {}
    _state.runtime_env = {}
    _state.runtime_env_json = b""
    if cw is not None:
        cw.shutdown()
    if node is not None:
        node.stop()


def _require():
    if _state.core_worker is None:
        if _client is not None:
            raise RuntimeError(_client.NOT_BUILT)
        # Like Ray: the first API call starts a local cluster.
        init()
    return _state.core_worker


def core_worker():
    return _require()


def current_job_id():
    """Hex id of the job the caller works for (the running task's job in a worker)."""
    cw = _require()
    if _state.mode == SCRIPT_MODE:
        return cw.job_id
    task = cw.current_task_id()
    if task is None:
        raise exceptions.RaySystemError("no task is running in this worker")
    return task[24:32]


def current_namespace():
    """The namespace of the caller's job (a worker learns it from the job config)."""
    _require()
    if _state.mode == SCRIPT_MODE:
        return _state.namespace
    return _state.job_namespaces.get(current_job_id(), "")


def exporter_for(job_hex):
    exporter = _state.exporters.get(job_hex)
    if exporter is None:
        exporter = _state.exporters[job_hex] = FunctionExporter(_state.gcs, bytes.fromhex(job_hex))
    return exporter


# ---------------------------------------------------------------- objects

# `lumos memory` shows where each object was created when this is set (it
# costs a stack walk per put/remote call, like Ray's RAY_record_ref_creation_sites).
RECORD_CALL_SITES = os.environ.get("LUMOS_RECORD_REF_CREATION_SITES", "") not in ("", "0")


def record_call_sites(refs):
    """Stores the user's file:line that created `refs` in the reference table."""
    frame = sys._getframe(1)
    lumos_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    while frame is not None and frame.f_code.co_filename.startswith(lumos_dir):
        frame = frame.f_back
    site = "%s:%d" % (frame.f_code.co_filename, frame.f_lineno) if frame is not None else "(unknown)"
    cw = core_worker()
    for r in refs:
        cw.set_call_site(r, site)


_T = TypeVar("_T")
_K = TypeVar("_K")


def put(value: "_T", *, _owner: None = None) -> "_raylet.ObjectRef[_T]":
    if _client is not None:
        return _client.put(value)
    cw = _require()
    if isinstance(value, _raylet.ObjectRef):
        raise TypeError("Calling 'put' on an ObjectRef is not allowed (similarly, returning an ObjectRef "
                        "from a remote function is allowed only as part of a container). If you really "
                        "want to do this, you can wrap the ObjectRef in a list and call 'put' on it.")
    if _owner is not None:
        raise ValueError("_owner= is not supported by lumos yet")
    try:
        ref = cw.put(serialization.serialize(value, "value passed to put()"))
    except exceptions.ObjectStoreFullError as e:
        raise exceptions.store_full_error(str(e)) from None   # OutOfDiskError when the spill disk is full
    if RECORD_CALL_SITES:
        record_call_sites([ref])
    return ref


def _timeout_ms(timeout):
    if timeout is None:
        return -1
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds or None, got %r" % (timeout,))
    if timeout < 0:
        raise ValueError("timeout must be non-negative, got %r" % (timeout,))
    return int(timeout * 1000)


# get() types: a ref gives its value, a list of refs a list, a dict of refs a
# dict with the same keys (docs/ARCHITECTURE.md, "Types").
@overload
def get(object_refs: "_raylet.ObjectRef[_T]", *, timeout: "float | None" = None) -> "_T": ...
@overload
def get(object_refs: "list[_raylet.ObjectRef[_T]]", *, timeout: "float | None" = None) -> "list[_T]": ...
@overload
def get(object_refs: "dict[_K, _raylet.ObjectRef[_T]]", *, timeout: "float | None" = None) -> "dict[_K, _T]": ...


def get(object_refs, *, timeout=None):
    if _client is not None:
        return _client.get_any(object_refs, timeout)
    cw = _require()
    if isinstance(object_refs, dict):
        # An extension of Ray's API (the seeds use it): a dict of refs gives a
        # dict of values with the same keys.
        keys = list(object_refs)
        for k in keys:
            if not isinstance(object_refs[k], _raylet.ObjectRef):
                raise ValueError("get() of a dict expects ObjectRef values; key %r holds a %s" % (
                    k, type(object_refs[k]).__name__))
        values = get([object_refs[k] for k in keys], timeout=timeout)
        return dict(zip(keys, values))
    single = isinstance(object_refs, _raylet.ObjectRef)
    if single:
        refs = [object_refs]
    elif isinstance(object_refs, list):
        refs = object_refs
        for r in refs:
            if not isinstance(r, _raylet.ObjectRef):
                raise ValueError("'object_refs' must either be an ObjectRef or a list of ObjectRefs; the "
                                 "list holds a %s: %r" % (type(r).__name__, r))
    else:
        raise ValueError("'object_refs' must either be an ObjectRef, a list of ObjectRefs or a dict of "
                         "ObjectRefs, got a %s. Pass the ref returned by f.remote() (or a list of them)."
                         % type(object_refs).__name__)
    try:
        values = cw.get(refs, _timeout_ms(timeout))
    except exceptions.GetTimeoutError as e:
        raise exceptions.GetTimeoutError("Get timed out: %s" % e) from None
    out = []
    for meta, data in values:
        if serialization.is_error(meta):
            raise serialization.error_from(meta, data)
        out.append(serialization.deserialize(meta, data))
    return out[0] if single else out


_W = TypeVar("_W", bound="_raylet.ObjectRef[Any] | ObjectRefGenerator")


def wait(object_refs: "list[_W]", *, num_returns: int = 1, timeout: "float | None" = None,
         fetch_local: bool = True) -> "tuple[list[_W], list[_W]]":
    """Ray's wait over ObjectRefs and streaming generators (ObjectRefGenerator):
    a generator is ready when its next() would not block (its next item
    arrived, or the task ended or failed); ready generators come back in the
    ready list as themselves. Every object is local on a single node, so
    fetch_local=True and False behave alike."""
    if _client is not None:
        return _client.wait_any(object_refs, num_returns, timeout, fetch_local)
    cw = _require()
    # The common call (plain refs, valid arguments) is done in C: a wait loop
    # over a long list calls this thousands of times. Anything else, including
    # every argument error, takes the general path below.
    if (type(object_refs) is list and type(num_returns) is int and 0 < num_returns <= len(object_refs)
            and type(fetch_local) is bool
            and (timeout is None or (type(timeout) in (int, float) and timeout >= 0))):
        fast = cw.wait_refs(object_refs, num_returns, -1 if timeout is None else int(timeout * 1000))
        if fast is not None:
            return fast
    from lumos._private.generators import ObjectRefGenerator
    if not isinstance(object_refs, list):   # like Ray: a list only (a tuple too is a TypeError)
        raise TypeError("wait() expected a list of ObjectRefs or ObjectRefGenerators, got a %s%s"
                        % (type(object_refs).__name__,
                           "; pass list(...)" if isinstance(object_refs, (tuple, set)) else ""))
    items = list(object_refs)
    if not items:
        return [], []   # like Ray: nothing to wait for (num_returns is not checked)
    refs: list[Any] = []
    is_stream: list[bool] = []
    for r in items:
        if isinstance(r, _raylet.ObjectRef):
            refs.append(r)
            is_stream.append(False)
        elif isinstance(r, ObjectRefGenerator):
            refs.append(r.completed())
            is_stream.append(True)
        else:
            raise TypeError("wait() expected a list of ObjectRefs or ObjectRefGenerators; it holds a %s: %r"
                            % (type(r).__name__, r))
    plain = [r for r, st in zip(refs, is_stream) if not st]
    gens = [id(r) for r in items if isinstance(r, ObjectRefGenerator)]
    if len(set(plain)) != len(plain) or len(set(gens)) != len(gens):
        raise ValueError("wait() expected a list of unique ObjectRefs; the list holds duplicates")
    if isinstance(num_returns, bool) or not isinstance(num_returns, int):
        raise TypeError("num_returns must be an int, got %r" % (num_returns,))
    if num_returns <= 0 or num_returns > len(refs):
        raise ValueError("Invalid number of objects to return %d: it must be between 1 and the number of "
                         "refs (%d)" % (num_returns, len(refs)))
    if not isinstance(fetch_local, bool):
        raise TypeError("fetch_local must be a bool, got %r" % (fetch_local,))
    ready_flags = cw.wait(refs, num_returns, _timeout_ms(timeout), is_stream if any(is_stream) else None)
    ready: list[Any] = []
    not_ready: list[Any] = []
    for r, ok in zip(items, ready_flags):
        if ok and len(ready) < num_returns:
            ready.append(r)
        else:
            not_ready.append(r)
    return ready, not_ready


async def _await_ref(ref):
    import asyncio
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, get, ref)


def _ref_future(ref):
    import concurrent.futures
    fut = concurrent.futures.Future()

    def run():
        try:
            fut.set_result(get(ref))
        except BaseException as e:  # delivered through the future
            fut.set_exception(e)
    threading.Thread(target=run, daemon=True).start()
    return fut


# ---------------------------------------------------------------- cluster info

def nodes() -> "list[dict[str, Any]]":
    if _client is not None:
        return _client.api("nodes")
    _require()
    out = []
    for n in _state.gcs.get_all_node_info():
        n = dict(n)
        n["alive"] = n["Alive"]
        out.append(n)
    return out


def _sum_node_resources(field):
    _require()
    total = {}
    for n in _state.gcs.get_all_node_info():
        if n["Alive"]:
            for k, v in n[field].items():
                if v > 0:
                    total[k] = total.get(k, 0.0) + v
    return total


def cluster_resources() -> "dict[str, float]":
    if _client is not None:
        return _client.api("cluster_resources")
    return _sum_node_resources("Resources")


def available_resources() -> "dict[str, float]":
    if _client is not None:
        return _client.api("available_resources")
    return _sum_node_resources("AvailableResources")
