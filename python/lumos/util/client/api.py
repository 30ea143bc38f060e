"""The client side of client mode: what lumos.get/put/remote/... do once
`lumos.init("lumos://HOST:PORT")` made this process a client.

Contract: one Client per process (worker._client). Calls that make refs
(put, task and actor calls) are fire-and-forget: the client names the refs
itself (its own keys) and does not wait; a failure lands in those refs, so
get() raises it. Calls that answer (get, wait, actor creation, get_actor,
generator steps) wait for their reply. Values pickle with stand-ins for refs
and handles (payload.py, stand_ins.py).
"""
import collections
import itertools
import os
import pickle

from lumos._raylet import ObjectRef
from lumos.remote_function import streaming_mode
from lumos.util.client import payload as _payload
from lumos.util.client import protocol as P
from lumos.util.client import uploads
from lumos.util.client.connection import Resend
from lumos.util.client.stand_ins import ClientActorHandle, ClientObjectRef, ClientObjectRefGenerator

_RELEASE_BATCH = 128


class Client:
    NOT_BUILT = ("this lumos call is not built through client mode (lumos://) yet; run it in a driver on the "
                 "cluster (lumos.init(address='auto') on a node) instead")

    def __init__(self, conn, address):
        self.conn = conn
        self.address = address
        self.released = collections.deque()    # keys of dead stand-ins, sent in batches
        self._prefix = b"C" + os.urandom(11)
        self._counter = itertools.count(1)
        self._uid = os.urandom(8)               # def keys are per client
        self._uploads_sent = set()
        self.context = None
        conn.on_idle = self._flush_releases

    # ------------------------------------------------------------ plumbing
    def new_key(self):
        return self._prefix + next(self._counter).to_bytes(8, "little")

    def _dump_hook(self, obj):
        t = type(obj)
        if t is ClientObjectRef:
            return ("r", obj._key)
        if t is ClientActorHandle:
            return ("a", obj._key)
        if t is ClientObjectRefGenerator:
            raise TypeError("an ObjectRefGenerator cannot be pickled or passed to another task; iterate it in "
                            "its caller and pass the ObjectRefs it gives")
        if t is ObjectRef:
            raise TypeError("%r is not an ObjectRef of this client (made before lumos.init('lumos://...')?)" % obj)
        return None

    def _load_hook(self, pid):
        if pid[0] == "r":
            return ClientObjectRef(pid[1], self)
        return ClientActorHandle(pid[2], pid[1], self)

    def _take_releases(self):
        rel = self.released
        keys = []
        try:
            while True:
                keys.append(rel.popleft())
        except IndexError:
            pass
        return keys

    def _flush_releases(self):
        if not self.released:
            return
        keys = self._take_releases()
        try:
            self.conn.send((P.OP_RELEASE, keys))
        except Exception:
            pass   # disconnected: the driver's table goes with it

    def _send(self, env_tail, value=None, what="value", replied=False):
        """Sends one request with `value` as payload; waits for a chunked one."""
        if len(self.released) >= _RELEASE_BATCH:
            self._flush_releases()
        if value is None:
            data, bufs = b"", ()
        else:
            try:
                data, bufs = _payload.dumps(value, self._dump_hook)
            except TypeError:
                raise
            except Exception as e:
                raise TypeError("Could not serialize the %s of type %s for the client connection: %s" % (
                    what, _payload.describe_type(value), e)) from e
        while True:
            seq, answered = self.conn.send(env_tail, data, bufs, replied)
            if not answered:
                return None
            try:
                return self._result(seq)
            except Resend:
                continue

    def _result(self, seq):
        status, msg = self.conn.wait(seq)
        value = _payload.loads(msg.payload, msg.buffers, self._load_hook) if len(msg.payload) else None
        if status != P.OK:
            raise value
        return value

    def _call(self, env_tail, value=None, what="value"):
        if self.released:
            self._flush_releases()
        return self._send(env_tail, value, what, replied=True)

    def check_alive(self):
        if self.conn._broken is not None:
            raise self.conn._broken

    # ------------------------------------------------------------ objects
    def put(self, value):
        if isinstance(value, ObjectRef):
            raise TypeError("Calling 'put' on an ObjectRef is not allowed (similarly, returning an ObjectRef "
                            "from a remote function is allowed only as part of a container). If you really "
                            "want to do this, you can wrap the ObjectRef in a list and call 'put' on it.")
        key = self.new_key()
        data, bufs = self._dumps(value, "value passed to put()")
        while True:
            seq, answered = self.conn.send((P.OP_PUT, key), data, bufs)
            if not answered:
                break
            try:
                self._result(seq)
                break
            except Resend:
                continue
        return ClientObjectRef(key, self)

    def _dumps(self, value, what):
        try:
            return _payload.dumps(value, self._dump_hook)
        except TypeError:
            raise
        except Exception as e:
            raise TypeError("Could not serialize the %s of type %s: %s" % (what, _payload.describe_type(value), e)) from e

    def get(self, refs, timeout):
        for r in refs:
            if type(r) is not ClientObjectRef:
                raise ValueError("'object_refs' must either be an ObjectRef or a list of ObjectRefs; the list "
                                 "holds a %s: %r" % (type(r).__name__, r))
        keys = [r._key for r in refs]
        if self.released:
            # Dead stand-ins ride in the get itself (one message fewer per
            # get(a.f.remote()), whose last ref died since the previous get).
            return self._send((P.OP_GET, keys, timeout, self._take_releases()), replied=True)
        return self._send((P.OP_GET, keys, timeout), replied=True)

    def wait(self, items, num_returns, timeout, fetch_local):
        keys = []
        for r in items:
            if type(r) not in (ClientObjectRef, ClientObjectRefGenerator):
                raise TypeError("wait() expected a list of ObjectRefs or ObjectRefGenerators; it holds a %s: %r"
                                % (type(r).__name__, r))
            keys.append(r._key)
        ready_idx = set(self._call((P.OP_WAIT, keys, num_returns, timeout, fetch_local)))
        ready = [r for i, r in enumerate(items) if i in ready_idx]
        return ready, [r for i, r in enumerate(items) if i not in ready_idx]

    def get_any(self, object_refs, timeout):
        """lumos.get through the client: a ref, a list or a dict of refs."""
        from lumos._private.worker import _timeout_ms
        _timeout_ms(timeout)   # the same checks as a driver's get
        if isinstance(object_refs, dict):
            keys = list(object_refs)
            for k in keys:
                if not isinstance(object_refs[k], ObjectRef):
                    raise ValueError("get() of a dict expects ObjectRef values; key %r holds a %s" % (
                        k, type(object_refs[k]).__name__))
            return dict(zip(keys, self.get([object_refs[k] for k in keys], timeout)))
        if isinstance(object_refs, ObjectRef):
            return self.get([object_refs], timeout)[0]
        if isinstance(object_refs, list):
            return self.get(object_refs, timeout)
        raise ValueError("'object_refs' must either be an ObjectRef, a list of ObjectRefs or a dict of ObjectRefs, "
                         "got a %s. Pass the ref returned by f.remote() (or a list of them)." % type(object_refs).__name__)


    def wait_any(self, object_refs, num_returns, timeout, fetch_local):
        from lumos._private.worker import _timeout_ms
        _timeout_ms(timeout)
        if not isinstance(object_refs, list):
            raise TypeError("wait() expected a list of ObjectRefs or ObjectRefGenerators, got a %s%s"
                            % (type(object_refs).__name__,
                               "; pass list(...)" if isinstance(object_refs, (tuple, set)) else ""))
        if not object_refs:
            return [], []
        if len(set(id(r) for r in object_refs)) != len(object_refs) or \
                len(set(r._key for r in object_refs if hasattr(r, "_key"))) != len(object_refs):
            raise ValueError("wait() expected a list of unique ObjectRefs; the list holds duplicates")
        if isinstance(num_returns, bool) or not isinstance(num_returns, int):
            raise TypeError("num_returns must be an int, got %r" % (num_returns,))
        if num_returns <= 0 or num_returns > len(object_refs):
            raise ValueError("Invalid number of objects to return %d: it must be between 1 and the number of "
                             "refs (%d)" % (num_returns, len(object_refs)))
        return self.wait(object_refs, num_returns, timeout, fetch_local)

    # ------------------------------------------------------------ tasks and actors
    def _def_key(self, owner, kind, target):
        mine = owner.__dict__.get("_client_def")
        if mine is not None and mine[0] == self._uid:
            return mine[1]
        key = self.new_key()
        options = uploads.prepare_options(owner._options, self._uploads_sent)
        with _by_value(target):
            self._send((P.OP_DEF, key, kind), (target, options), "function" if kind == "fn" else "actor class")
        owner.__dict__["_client_def"] = (self._uid, key)
        return key

    def _returns(self, num_returns, streaming):
        if streaming:
            head, gen_key = self.new_key(), self.new_key()
            return [head, gen_key], lambda: ClientObjectRefGenerator(ClientObjectRef(head, self), gen_key, self)
        n = 1 if num_returns == "dynamic" else num_returns
        keys = [self.new_key() for _ in range(n)]
        if num_returns in (1, "dynamic"):
            return keys, lambda: ClientObjectRef(keys[0], self)
        if n == 0:
            return keys, lambda: None
        return keys, lambda: [ClientObjectRef(k, self) for k in keys]

    def submit_task(self, rf, args, kwargs, options):
        rf._check_signature(args, kwargs)
        key = self._def_key(rf, "fn", rf._function)
        num_returns, streaming, _ = streaming_mode(rf._function, options.get("num_returns"), options)
        keys, make = self._returns(num_returns, streaming)
        if options.get("runtime_env"):
            options = uploads.prepare_options(options, self._uploads_sent)
        self._send((P.OP_TASK, key, keys, streaming), (args, kwargs, options), "argument of %s" % rf._qualname)
        return make()

    def create_actor(self, actor_class, args, kwargs, options):
        import inspect
        init = getattr(actor_class._cls, "__init__", None)
        if init is not None and init is not object.__init__:
            try:
                inspect.signature(init).bind(None, *args, **kwargs)
            except TypeError as e:
                raise TypeError("%s.remote(): %s" % (actor_class.__name__, e)) from None
            except ValueError:
                pass
        key = self._def_key(actor_class, "cls", actor_class._cls)
        hkey = self.new_key()
        if options.get("runtime_env"):
            options = uploads.prepare_options(options, self._uploads_sent)
        state = self._call((P.OP_ACTOR, key, hkey), (args, kwargs, options),
                           "argument of %s.__init__" % actor_class.__name__)
        return ClientActorHandle(state, hkey, self, cls=actor_class._cls)

    def call_actor(self, handle, method, args, kwargs, num_returns, backpressure, call_opts=None):
        if handle._cls is not None:
            from lumos.actor import _check_method_args
            _check_method_args(handle._cls, handle._state["class_name"], method, args, kwargs)
        streaming = num_returns == "streaming"
        keys, make = self._returns(1 if streaming else num_returns, streaming)
        self._send((P.OP_CALL, handle._key, method, keys, streaming),
                   (args, kwargs, num_returns, backpressure, call_opts),
                   "argument of %s.%s" % (handle._state["class_name"], method))
        return make()

    def generator_step(self, key, what, timeout):
        new_key = self.new_key() if what == "next" else None
        out = self._call((P.OP_GEN, key, what, timeout, new_key))
        if what != "next":
            return out
        kind, done = out
        return kind, done, (ClientObjectRef(new_key, self) if kind == "item" else None)

    def runtime_context(self):
        from lumos.util.client.stand_ins import ClientRuntimeContext
        return ClientRuntimeContext(self)

    def api(self, name, *args, **kwargs):
        """An allowlisted lumos call run by the driver (get_actor, kill, cancel, nodes, ...)."""
        return self._call((P.OP_API, name), (args, kwargs), "arguments of lumos.%s" % name)

    # ------------------------------------------------------------ lifecycle
    def init(self, namespace, runtime_env, job_config):
        env = uploads.prepare(_plain_env(runtime_env), self._uploads_sent)
        self.context = self._call((P.OP_INIT, namespace, job_config and pickle.dumps(job_config)), env,
                                  "runtime_env")
        return self.context

    def close(self):
        try:
            self._flush_releases()
            seq, _ = self.conn.send((P.OP_BYE,), replied=True)
            self.conn.finish(seq, timeout_s=5.0)
        except Exception:
            pass
        self.conn.close()


class _by_value:
    """Pickles the code of `target`'s module by value while it is sent, when
    that module is the user's own (not installed, not lumos): the cluster may
    not have the client's source files, as with __main__."""

    def __init__(self, target):
        import sys
        name = getattr(target, "__module__", None)
        mod = sys.modules.get(name) if name else None
        path = getattr(mod, "__file__", None) or ""
        self.mod = None
        if (mod is not None and name != "__main__" and path and name.split(".")[0] not in sys.stdlib_module_names
                and name.split(".")[0] not in ("lumos", "ray") and "-packages" not in path):
            import cloudpickle
            if name not in cloudpickle.list_registry_pickle_by_value():   # the user's own choice stays
                self.mod = mod

    def __enter__(self):
        if self.mod is not None:
            import cloudpickle
            try:
                cloudpickle.register_pickle_by_value(self.mod)
            except ValueError:
                self.mod = None

    def __exit__(self, *exc):
        if self.mod is not None:
            import cloudpickle
            try:
                cloudpickle.unregister_pickle_by_value(self.mod)
            except ValueError:
                pass


def _plain_env(runtime_env):
    if runtime_env is None:
        return None
    return dict(runtime_env)
