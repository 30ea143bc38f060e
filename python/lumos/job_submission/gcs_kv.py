"""The GCS internal KV over grpcio, for the jobs manager in the dashboard
process: the same four calls as lumos._raylet.GcsClient's kv_* methods,
without loading the core-worker extension into the dashboard (which runs
without it to stay small; see lumos.dashboard.light_main).

Each call has a deadline (CALL_TIMEOUT_S) and raises ConnectionError when
the GCS does not answer in time (it is away or restarting): the manager
keeps its records in memory and writes them again later.
"""
CALL_TIMEOUT_S = 5.0


class GcsKv:
    """kv_get/kv_put/kv_del/kv_keys on the GCS at `address`. Thread safe."""

    def __init__(self, address, token):
        from lumos._private import auth
        from lumos._proto import gcs_service_pb2 as pb
        from lumos._proto import gcs_service_pb2_grpc as pb_grpc
        self._pb = pb
        self._stub = pb_grpc.InternalKVGcsServiceStub(auth.grpc_channel(address, token))
        self.address = address

    def _call(self, method, request):
        import grpc
        try:
            reply = getattr(self._stub, method)(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as e:
            raise ConnectionError("the GCS at %s did not answer %s: %s" % (self.address, method, e.details())) from None
        if reply.status.code != 0:
            raise ConnectionError("the GCS at %s refused %s: %s" % (self.address, method, reply.status.message))
        return reply

    @staticmethod
    def _b(v):
        return v.encode() if isinstance(v, str) else v

    def kv_get(self, ns, key):
        reply = self._call("KVGet", self._pb.KVGetRequest(namespace=self._b(ns), key=self._b(key)))
        return reply.value if reply.found else None

    def kv_put(self, ns, key, value, overwrite=True):
        """True when the key was added (False: it existed)."""
        return self._call("KVPut", self._pb.KVPutRequest(namespace=self._b(ns), key=self._b(key), value=value,
                                                         overwrite=overwrite)).added

    def kv_del(self, ns, key, by_prefix=False):
        return self._call("KVDel", self._pb.KVDelRequest(namespace=self._b(ns), key=self._b(key),
                                                         del_by_prefix=by_prefix)).deleted_num

    def kv_keys(self, ns, prefix):
        return list(self._call("KVKeys", self._pb.KVKeysRequest(namespace=self._b(ns), prefix=self._b(prefix))).keys)
