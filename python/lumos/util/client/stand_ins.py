"""What a client holds in place of ObjectRefs, actor handles and streaming
generators: subclasses of the real classes (isinstance checks, hashing,
equality, `lumos.get` of lists, passing into tasks all behave as usual) whose
work goes through the client's connection to its driver.

Contract: each stand-in carries the key its driver knows the real object
by; when it dies it tells the client, which reports the release to the
driver in a batch (the driver then drops its reference). A stand-in made
from one received key releases that key once.
"""
import inspect

from lumos._private.generators import ObjectRefGenerator
from lumos._raylet import ObjectRef
from lumos.actor import ActorHandle
from lumos.runtime_context import RuntimeContext


class ClientObjectRef(ObjectRef):
    """An ObjectRef of a client: the key is its 20-byte id."""

    def __init__(self, key, client):
        ObjectRef.__init__(self, key)
        self._key = key
        self._client = client

    def __del__(self):
        client = getattr(self, "_client", None)
        if client is not None:
            client.released.append(self._key)

    def __reduce__(self):
        raise TypeError("a client-mode ObjectRef can only travel through lumos calls (task arguments, put, "
                        "return values), not through pickle.dumps")

    def __repr__(self):
        return "ClientObjectRef(%s)" % self.hex()


class ClientActorHandle(ActorHandle):
    """An actor handle of a client; method calls go to the client's driver."""

    def __init__(self, state, key, client, cls=None):
        ActorHandle.__init__(self, state, cls=cls)
        self._key = key
        self._client = client

    def _call(self, method_name, args, kwargs, num_returns, backpressure=0, call_opts=None):
        return self._client.call_actor(self, method_name, args, kwargs, num_returns, backpressure, call_opts)

    def _check_session(self):
        self._client.check_alive()

    def __reduce__(self):
        raise TypeError("a client-mode actor handle can only travel through lumos calls (task arguments, "
                        "put, return values), not through pickle.dumps")

    def __del__(self):
        client = getattr(self, "_client", None)
        if client is not None:
            client.released.append(self._key)


class ClientRuntimeContext:
    """get_runtime_context() at a client: each method or property is
    answered by the client's driver (its job, node, namespace, runtime_env;
    no task or actor runs in a client, so those ids are None)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        attr = inspect.getattr_static(RuntimeContext, name, None)
        if attr is None or name.startswith("_"):
            raise AttributeError(name)
        if isinstance(attr, property):
            return self._client.api("runtime_context", name, None)
        return lambda *args, **kwargs: self._client.api("runtime_context", name, (args, kwargs))


class ClientObjectRefGenerator(ObjectRefGenerator):
    """A streaming call's generator at a client: each step asks the driver."""

    def __init__(self, head_ref, key, client):
        self._head = head_ref
        self._key = key
        self._client = client
        self._task_id = b""
        self._cw = None
        self._done = False

    def _next_sync(self, timeout_s=None):
        if self._done:
            raise StopIteration
        kind, done, ref = self._client.generator_step(self._key, "next", timeout_s)
        if kind == "stop":
            self._done = True
            raise StopIteration
        self._done = done
        return ref

    def next_ready(self):
        return self._done or self._client.generator_step(self._key, "ready", 0)

    def is_finished(self):
        return self._done or self._client.generator_step(self._key, "finished", 0)

    def __del__(self):
        client = getattr(self, "_client", None)
        if client is not None:
            client.released.append(self._key)

    def __repr__(self):
        return "ClientObjectRefGenerator(%s)" % self._head.hex()
