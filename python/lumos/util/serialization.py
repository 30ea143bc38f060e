"""Custom serializers (Ray's ray.util.register_serializer).

    register_serializer(Lock, serializer=lambda l: None, deserializer=lambda _: threading.Lock())

From then on, this process serializes instances of exactly `cls` (anywhere in
a value: arguments, returns, put) as `serializer(obj)` and turns them back
with `deserializer(that)`. The deserializer travels with the data (pickled by
value when defined in __main__), so the process that reads the value needs
no registration; a worker that *returns* such objects needs its own
register_serializer call (e.g. at the top of the task or in a
worker_process_setup_hook), as in Ray.
"""
from lumos._private import code_pickling


def _rebuild(deserializer, serialized):
    return deserializer(serialized)


def register_serializer(cls, *, serializer, deserializer):
    """Serializes instances of `cls` with `serializer` (obj -> picklable
    value) and rebuilds them with `deserializer` (that value -> obj)."""
    if not callable(serializer) or not callable(deserializer):
        raise TypeError("register_serializer() needs callables for serializer= and deserializer=, got %r and %r"
                        % (serializer, deserializer))

    def reduce(obj):
        return _rebuild, (deserializer, serializer(obj))
    code_pickling.register_reducer(cls, reduce)


def deregister_serializer(cls):
    """Goes back to pickling instances of `cls` normally (a class without a
    registered serializer is left alone)."""
    code_pickling.unregister_reducer(cls)
