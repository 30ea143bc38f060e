"""Several lumos nodes on one machine, for tests and experiments (Ray's
ray.cluster_utils.Cluster).

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    worker = cluster.add_node(num_cpus=2, resources={"b": 1})
    cluster.wait_for_nodes()
    cluster.connect()            # lumos.init(address=cluster.address) on the head node
    ...
    cluster.remove_node(worker)  # graceful by default: the raylet unregisters
    cluster.shutdown()

Every node has its own session dir, sockets and ports and the same cluster
token; every process dies with this one (lifeline), so a crashed test leaves
nothing behind.
"""
import atexit
import time

from lumos._private.node import Node

_NODE_ARGS = {"num_cpus", "num_gpus", "resources", "object_store_memory", "labels", "_system_config",
              "include_dashboard", "dashboard_host", "dashboard_port", "node_ip_address", "temp_dir", "_temp_dir"}


class ClusterNode:
    """One node of a Cluster: its id, address and the processes it runs."""

    def __init__(self, node):
        self._node = node
        self.node_id = node.node_id
        self.unique_id = node.node_id
        self.node_ip_address = node.node_ip
        self.session_dir = node.session_dir
        self.head = node.head

    @property
    def address(self):
        return self._node.gcs_address

    def kill_gcs_server(self):
        """Head only: SIGKILLs the gcs_server. Raylets, workers and actors go on;
        GCS calls wait (up to gcs_reconnect_timeout_s) until restart_gcs_server()."""
        self._node.kill_gcs_server()

    def restart_gcs_server(self, timeout=30.0):
        """Head only: starts the gcs_server again on the same port, token and
        storage (<session_dir>/gcs.db) and waits until it serves."""
        self._node.restart_gcs_server(timeout)

    def all_processes_alive(self):
        return all(p.poll() is None for p in self._node.procs.values())

    def __repr__(self):
        return "ClusterNode(%s%s)" % (self.node_id[:12], ", head" if self.head else "")


class Cluster:
    """A head node and any number of worker nodes, all on this machine."""

    def __init__(self, initialize_head=False, connect=False, head_node_args=None, shutdown_at_exit=True):
        self.head_node = None
        self.worker_nodes = []
        self._token = None
        self._connected = False
        if shutdown_at_exit:
            atexit.register(self.shutdown)
        if initialize_head:
            self.add_node(**(head_node_args or {}))
            if connect:
                self.connect()
        elif connect:
            raise ValueError("connect=True needs initialize_head=True")

    @property
    def address(self):
        """The GCS address ("127.0.0.1:port") that lumos.init(address=...) takes."""
        if self.head_node is None:
            raise RuntimeError("the cluster has no head node yet; call add_node() first")
        return self.head_node.address

    def list_all_nodes(self):
        return ([self.head_node] if self.head_node else []) + list(self.worker_nodes)

    def add_node(self, wait=True, **node_args):
        """Starts a node (the first one is the head) and returns it. Takes
        num_cpus, num_gpus, resources, object_store_memory, labels,
        _system_config; on the head, include_dashboard, dashboard_host and
        dashboard_port start the dashboard (off by default)."""
        unknown = set(node_args) - _NODE_ARGS
        if unknown:
            raise TypeError("add_node() got unexpected argument(s): %s" % ", ".join(sorted(unknown)))
        from lumos._private import node_labels
        labels = node_labels.validate(node_args.get("labels"))
        head = self.head_node is None
        node = Node(head=head, gcs_address=None if head else self.address, num_cpus=node_args.get("num_cpus"),
                    num_gpus=node_args.get("num_gpus"), resources=node_args.get("resources"),
                    object_store_memory=node_args.get("object_store_memory"),
                    temp_dir=node_args.get("temp_dir") or node_args.get("_temp_dir"),
                    system_config=node_args.get("_system_config"),
                    node_ip=node_args.get("node_ip_address") or "127.0.0.1",
                    auth_token=self._token, labels=labels,
                    include_dashboard=node_args.get("include_dashboard"),
                    dashboard_host=node_args.get("dashboard_host"), dashboard_port=node_args.get("dashboard_port"))
        node.start()
        self._token = node.auth_token
        cn = ClusterNode(node)
        if head:
            self.head_node = cn
        else:
            self.worker_nodes.append(cn)
        if labels:
            node_labels.publish(self._gcs(), node.node_id, labels)
        if wait:
            self._wait_listed([cn.node_id], timeout=30)
        return cn

    def remove_node(self, node, allow_graceful=True, drain_timeout=120):
        """Stops a node: gracefully by draining it (running tasks finish, its
        primary object copies move to other nodes, then the raylet exits;
        lumos/_private/drain.py), or by SIGKILL of its processes (the GCS then
        finds it dead)."""
        if node is self.head_node:
            raise ValueError("removing the head node is not supported; call shutdown()")
        if node not in self.worker_nodes:
            raise ValueError("%r is not a node of this cluster" % (node,))
        if allow_graceful:
            from lumos._private import auth, drain
            channel = auth.grpc_channel(self.address, self._token)
            try:
                drain.request_drain(channel, node.node_id, "removed by Cluster.remove_node")
                drain.wait_until_dead(channel, node.node_id, drain_timeout)
            finally:
                channel.close()
            node._node.stop()  # reaps the exited processes (SIGTERM to any left)
        else:
            for p in node._node.procs.values():
                if p.poll() is None:
                    p.kill()
                    p.wait()
            node._node.procs.clear()
        self.worker_nodes.remove(node)

    def wait_for_nodes(self, timeout=30):
        """Waits until every node of this cluster is listed alive by the GCS."""
        self._wait_listed([n.node_id for n in self.list_all_nodes()], timeout)

    def _gcs(self):
        from lumos import _raylet
        from lumos._private import worker as _worker
        state = _worker.global_state()
        if state.gcs is not None and state.gcs_address == self.address:
            return state.gcs
        _raylet.set_cluster_identity(self._token, self.head_node.node_ip_address)
        return _raylet.GcsClient(self.address, timeout_s=10.0)

    def _wait_listed(self, node_ids, timeout):
        gcs = self._gcs()
        deadline = time.monotonic() + timeout
        want = set(node_ids)
        while True:
            alive = {n["NodeID"] for n in gcs.get_all_node_info() if n["Alive"]}
            if want <= alive:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("nodes %s did not register within %s s" % (sorted(want - alive), timeout))
            time.sleep(0.01)

    def connect(self, namespace=None):
        """Makes this process a driver of the cluster, attached to the head node."""
        import lumos
        from lumos._private import worker as _worker
        _worker.global_state().attach_hint = (self._token, self.head_node.node_ip_address,
                                             self.head_node.session_dir)
        try:
            ctx = lumos.init(address=self.address, namespace=namespace)
        finally:
            _worker.global_state().attach_hint = None
        self._connected = True
        return ctx

    def shutdown(self):
        """Disconnects a driver connected through connect() and stops every node."""
        import lumos
        if self._connected and lumos.is_initialized():
            lumos.shutdown()
        self._connected = False
        for node in list(self.worker_nodes):
            node._node.stop()
        self.worker_nodes = []
        if self.head_node is not None:
            self.head_node._node.stop()
            self.head_node = None
