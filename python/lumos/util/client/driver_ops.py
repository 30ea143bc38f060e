"""What a per-client driver does for each client message, with the real API.

Contract: DriverOps runs in the per-client driver process (a real lumos
driver, `lumos.init(address=<cluster>)`), one per client. `handle(msg)` returns
None (fire-and-forget op), or (status, value) to send back; a blocking op
(a get or wait not ready yet, a generator step) is returned as a
`Blocking(fn)` for the caller to run on a thread pool. The transport
(driver_server.py) knows nothing of the API; this module knows nothing of
gRPC. A fire-and-forget op that fails stores its error in the refs it was to
make, so the client's get raises it.
"""
import os
import pickle

import lumos
from lumos import exceptions
from lumos._private import serialization
from lumos._private import worker as _worker
from lumos._private.generators import ObjectRefGenerator
from lumos._raylet import ObjectRef
from lumos.actor import ActorClass, ActorHandle
from lumos.remote_function import RemoteFunction
from lumos.util.client import payload as _payload
from lumos.util.client import protocol as P
from lumos.util.client import uploads
from lumos.util.client.ref_table import RefTable, UnknownKey


INLINE_WAIT_MS = 10


class Blocking:
    """An op result to compute on a thread: fn() -> (status, value)."""
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


class _FailedGen:
    """A streaming call that failed before it started: next() raises."""

    def __init__(self, error):
        self.error = error


def _runtime_context(name, call):
    value = getattr(lumos.get_runtime_context(), name)
    return value(*call[0], **call[1]) if call is not None else value


def _api_table():
    from lumos.util.placement_group import (get_placement_group, placement_group, placement_group_table,
                                            remove_placement_group)
    return {
        "placement_group": placement_group, "remove_placement_group": remove_placement_group,
        "get_placement_group": get_placement_group, "placement_group_table": placement_group_table,
        "placement_group_ready": lambda g: g.ready(), "placement_group_wait": lambda g, t: g.wait(t),
        "runtime_context": _runtime_context, "timeline": lumos.timeline,
        "list_named_actors": lumos.util.list_named_actors,
        "get_actor": lumos.get_actor, "kill": lumos.kill, "cancel": lumos.cancel, "nodes": lumos.nodes,
        "cluster_resources": lumos.cluster_resources, "available_resources": lumos.available_resources,
    }


class DriverOps:
    def __init__(self, gcs_address, session_dir):
        self.table = RefTable()
        self.defs = {}           # def key -> RemoteFunction / ActorClass / the exception its unpickling raised
        self._gcs_address = gcs_address
        self._session_dir = session_dir
        self._apis = None
        self.ops = {
            P.OP_PUT: self._put, P.OP_TASK: self._task, P.OP_CALL: self._call, P.OP_GET: self._get,
            P.OP_WAIT: self._wait, P.OP_RELEASE: self._release, P.OP_DEF: self._def, P.OP_ACTOR: self._actor,
            P.OP_API: self._api, P.OP_GEN: self._gen, P.OP_INIT: self._init,
        }

    # ------------------------------------------------------------ pickling
    def _load_hook(self, pid):
        try:
            return self.table.get(pid[1])
        except UnknownKey:
            raise exceptions.RaySystemError(
                "the client sent a %s the driver does not hold (released, or made before a reconnect "
                "that lost it)" % ("ObjectRef" if pid[0] == "r" else "handle")) from None

    def _dump_hook(self, obj):
        t = type(obj)
        if t is ObjectRef:
            return ("r", self.table.export(obj))
        if isinstance(obj, ActorHandle):
            return ("a", self.table.export(obj), obj._state)
        if t is ObjectRefGenerator:
            raise TypeError("an ObjectRefGenerator cannot be sent inside a value; iterate it in its caller")
        return None

    def load(self, msg, what):
        try:
            return _payload.loads(msg.payload, msg.buffers, self._load_hook)
        except exceptions.RaySystemError:
            raise
        except Exception as e:
            names = _payload.sent_types(msg.payload)
            raise exceptions.RaySystemError(
                "the lumos client server could not unpickle the %s%s sent by the client: %s: %s. Classes and "
                "functions the client sends must be importable on the cluster too: ship their module with "
                "runtime_env={'py_modules': [...]} or {'working_dir': ...}, or define them in the client's "
                "__main__" % (what, " (of type %s)" % ", ".join(names) if names else "", type(e).__name__, e)
            ) from None

    def dump(self, value):
        return _payload.dumps(value, self._dump_hook)

    def dump_error(self, err):
        try:
            return _payload.dumps(err, self._dump_hook)
        except Exception:
            return _payload.dumps(exceptions.RaySystemError("%s: %s" % (type(err).__name__, err)), self._dump_hook)

    def _error_ref(self, err):
        cw = _worker.core_worker()
        try:
            data = pickle.dumps(err)
        except Exception:
            data = pickle.dumps(exceptions.RaySystemError("%s: %s" % (type(err).__name__, err)))
        return cw.put(serialization.SerializedObject(serialization.META_TASK_ERROR, data))

    def _fail_returns(self, ret_ids, streaming, err):
        if streaming:
            head, gen_key = ret_ids
            self.table.add(head, self._error_ref(err))
            self.table.add(gen_key, _FailedGen(err), reverse=False)
            return
        for key in ret_ids:
            self.table.add(key, self._error_ref(err))

    def _bind_returns(self, result, ret_ids, streaming):
        if streaming:
            if not isinstance(result, ObjectRefGenerator):
                raise exceptions.RaySystemError("the call did not stream (client and driver disagree on "
                                                "num_returns)")
            head, gen_key = ret_ids
            self.table.add(head, result.completed())
            self.table.add(gen_key, result, reverse=False)
            return
        refs = [] if result is None else [result] if isinstance(result, ObjectRef) else list(result)
        if len(refs) != len(ret_ids):
            raise exceptions.RaySystemError("the call returned %d refs, the client expected %d" % (
                len(refs), len(ret_ids)))
        for key, ref in zip(ret_ids, refs):
            self.table.add(key, ref)

    # ------------------------------------------------------------ ops
    def handle(self, msg):
        return self.ops[msg.env[1]](msg)

    def _init(self, msg):
        namespace = msg.env[2]
        job_config = pickle.loads(msg.env[3]) if msg.env[3] else None
        runtime_env = uploads.resolve(self.load(msg, "runtime_env"), self._session_dir)
        if not lumos.is_initialized():
            lumos.init(address=self._gcs_address, namespace=namespace, runtime_env=runtime_env or None,
                       job_config=job_config, _temp_dir=os.path.dirname(self._session_dir))
        ctx = dict(lumos.init(address=self._gcs_address, ignore_reinit_error=True))
        return P.OK, {k: v for k, v in ctx.items() if isinstance(v, (str, int, float, type(None), dict))}

    def _put(self, msg):
        key = msg.env[2]
        try:
            ref = lumos.put(self.load(msg, "value passed to put()"))
        except Exception as e:
            ref = self._error_ref(e)
        self.table.add(key, ref)

    def _def(self, msg):
        key, kind = msg.env[2], msg.env[3]
        try:
            target, options = self.load(msg, "function" if kind == "fn" else "actor class")
            options = uploads.resolve_options(options, self._session_dir)
            self.defs[key] = RemoteFunction(target, options) if kind == "fn" else ActorClass(target, options)
        except Exception as e:
            self.defs[key] = e

    def _target(self, key):
        target = self.defs.get(key)
        if target is None:
            raise exceptions.RaySystemError("the driver has no definition %r (lost in a reconnect?)" % (key,))
        if isinstance(target, BaseException):
            raise target
        return target

    def _task(self, msg):
        _, _, key, ret_ids, streaming = msg.env
        try:
            fn = self._target(key)
            args, kwargs, options = self.load(msg, "arguments")
            options = uploads.resolve_options(options, self._session_dir)
            self._bind_returns(fn._remote(args, kwargs, options), ret_ids, streaming)
        except Exception as e:
            self._fail_returns(ret_ids, streaming, e)

    def _call(self, msg):
        _, _, hkey, method, ret_ids, streaming = msg.env
        try:
            handle = self.table.get(hkey)
            args, kwargs, num_returns, backpressure, call_opts = self.load(msg, "arguments")
            extra = (call_opts,) if call_opts else ()   # per-call options (concurrency group, retries)
            self._bind_returns(handle._call(method, args, kwargs, num_returns, backpressure, *extra), ret_ids,
                               streaming)
        except Exception as e:
            self._fail_returns(ret_ids, streaming, e)

    def _actor(self, msg):
        _, _, key, hkey = msg.env
        cls = self._target(key)
        args, kwargs, options = self.load(msg, "arguments")
        options = uploads.resolve_options(options, self._session_dir)
        handle = cls._remote(args, kwargs, options)
        self.table.add(hkey, handle)
        return P.OK, handle._state

    def _refs(self, keys):
        return [self.table.get(k) for k in keys]

    def _get(self, msg):
        keys, timeout = msg.env[2], msg.env[3]
        if len(msg.env) > 4:
            self.table.release(msg.env[4])   # the client's dead stand-ins, sent along
        refs = self._refs(keys)
        cw = _worker.core_worker()
        # A short wait in line first: the object of a quick call (an actor
        # call made just before) is usually ready within it, and answering here
        # saves two thread hops. The client waits for this reply anyway.
        short = INLINE_WAIT_MS if timeout is None else min(INLINE_WAIT_MS, int(timeout * 1000))
        if all(cw.wait(refs, len(refs), short, None)):
            return P.OK, lumos.get(refs)
        return Blocking(lambda: (P.OK, lumos.get(refs, timeout=timeout)))

    def _wait(self, msg):
        keys, num_returns, timeout, fetch_local = msg.env[2:6]
        objs = self._refs(keys)
        index = {id(o): i for i, o in enumerate(objs)}

        def run(t):
            ready, _ = lumos.wait(objs, num_returns=num_returns, timeout=t, fetch_local=fetch_local)
            return [index[id(o)] for o in ready]
        ready = run(0)
        if len(ready) >= num_returns or timeout == 0:
            return P.OK, ready
        return Blocking(lambda: (P.OK, run(timeout)))

    def _release(self, msg):
        self.table.release(msg.env[2])

    def _api(self, msg):
        name = msg.env[2]
        if self._apis is None:
            self._apis = _api_table()
        fn = self._apis.get(name)
        if fn is None:
            raise exceptions.RaySystemError("lumos.%s is not built through lumos:// yet" % name)
        args, kwargs = self.load(msg, "arguments of lumos.%s" % name)
        return Blocking(lambda: (P.OK, fn(*args, **kwargs)))

    def _gen(self, msg):
        _, _, key, what, timeout, new_key = msg.env
        gen = self.table.get(key)
        if isinstance(gen, _FailedGen):
            if what == "next":
                raise gen.error
            return P.OK, True

        def step(t):
            if what == "ready":
                return P.OK, gen.next_ready()
            if what == "finished":
                return P.OK, gen.is_finished()
            try:
                ref = gen._next_sync(t)
            except StopIteration:
                return P.OK, ("stop", False)
            self.table.add(new_key, ref)
            return P.OK, ("item", gen._done)
        if what != "next" or gen.next_ready():
            return step(None if what == "next" else 0)
        return Blocking(lambda: step(timeout))
