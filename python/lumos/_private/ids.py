"""Ids as Ray's public API shows them (ray.JobID, ray.ActorID, ...): immutable
wrappers of the binary id with hex()/binary()/from_hex()/from_binary()/
nil()/is_nil()/size(), equality and hashing by type and bytes, picklable.

Sizes are lumos's (src/cpp/common/id.h), not Ray's: a JobID has 4 bytes,
worker, node, actor, task and placement group ids 16, object ids 20. The
nil id is all zeros (C++ BaseID::Nil). lumos._raylet re-exports these
classes (ObjectRef.task_id() returns this TaskID); ObjectID is ObjectRef, as
in Ray. Pure Python: it imports nothing of lumos.
"""
import os


class BaseID:
    """An id of SIZE bytes. Construct from its binary form; use from_hex()
    for the hex form that get_runtime_context() and the state API print."""
    __slots__ = ("_b",)
    SIZE = 0

    def __init__(self, id):
        if not isinstance(id, bytes):
            raise TypeError("%s() takes the id's bytes; for a hex string use %s.from_hex(%r)" % (
                type(self).__name__, type(self).__name__, id))
        if len(id) != self.SIZE:
            raise ValueError("a %s has %d bytes, got %d" % (type(self).__name__, self.SIZE, len(id)))
        self._b = id

    @classmethod
    def size(cls):
        return cls.SIZE

    @classmethod
    def from_binary(cls, id_bytes):
        return cls(id_bytes)

    @classmethod
    def from_hex(cls, hex_id):
        if isinstance(hex_id, bytes):
            hex_id = hex_id.decode()
        try:
            raw = bytes.fromhex(hex_id)
        except (TypeError, ValueError):
            raise ValueError("%s.from_hex() needs a hex string of %d characters, got %r" % (
                cls.__name__, 2 * cls.SIZE, hex_id)) from None
        return cls(raw)

    @classmethod
    def nil(cls):
        return cls(b"\0" * cls.SIZE)

    @classmethod
    def from_random(cls):
        return cls(os.urandom(cls.SIZE))

    def is_nil(self):
        return self._b == b"\0" * self.SIZE

    def binary(self):
        return self._b

    def hex(self):
        return self._b.hex()

    def __eq__(self, other):
        return type(other) is type(self) and other._b == self._b

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((type(self).__name__, self._b))

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, self._b.hex())

    def __reduce__(self):
        return (type(self), (self._b,))


class JobID(BaseID):
    """A job (one driver's work): a big-endian counter the GCS allocates;
    int() gives its number."""
    __slots__ = ()
    SIZE = 4

    @classmethod
    def from_int(cls, value):
        return cls(int(value).to_bytes(cls.SIZE, "big"))

    def int(self):
        return int.from_bytes(self._b, "big")


class WorkerID(BaseID):
    __slots__ = ()
    SIZE = 16


class NodeID(BaseID):
    __slots__ = ()
    SIZE = 16


class ActorID(BaseID):
    __slots__ = ()
    SIZE = 16


class TaskID(BaseID):
    """A task's id (12 unique bytes + its JobID); ObjectRef.task_id() returns one."""
    __slots__ = ()
    SIZE = 16

    def job_id(self):
        return JobID(self._b[12:])


class PlacementGroupID(BaseID):
    __slots__ = ()
    SIZE = 16
