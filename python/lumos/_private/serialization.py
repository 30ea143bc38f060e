"""Turning Python values into bytes for the object store and back.

Formats (the metadata tag says which; mirrored in src/cpp/core_worker/ray_object.h):
  P   plain pickle (protocol 5) with no out-of-band buffers
  P5  header + pickle + 64-byte aligned out-of-band buffers; numpy arrays come
      back as zero-copy, read-only views of the object store
  E   a pickled RayTaskError; EW / EL / ES: utf-8 messages for a crashed
      worker, a lost object, a system error
Functions and classes go through cloudpickle (by value for __main__ code).
"""
import pickle
import struct
import threading

from lumos import _raylet
from lumos import exceptions
from lumos._private import code_pickling

META_PICKLE = b"P"
META_PICKLE5 = b"P5"
META_TASK_ERROR = b"E"
META_WORKER_DIED = b"EW"
META_OBJECT_LOST = b"EL"
META_RECONSTRUCTION_FAILED = b"ER"
META_SYSTEM_ERROR = b"ES"
META_ACTOR_DIED = b"EA"
META_TASK_CANCELLED = b"EC"
META_ACTOR_INIT_FAILED = b"EAI"
META_ACTOR_UNAVAILABLE = b"EAU"
META_PLACEMENT_GROUP_REMOVED = b"EP"
META_NODE_DIED = b"EN"

_ALIGN = 64
_FAST_TYPES = (int, float, bool, type(None), str, bytes)
_local = threading.local()


def _record_ref(ref):
    """Collects a ref pickled by serialize(); True when it was collected (its
    carrier then keeps it alive, see ReferenceCounter's borrower protocol)."""
    stack = getattr(_local, "stack", None)
    if stack:
        stack[-1].append(ref)
        return True
    return False


_raylet._set_ref_recorder(_record_ref)
_flush_borrows = _raylet.flush_borrower_registrations


class SerializedObject:
    """A serialized value: its metadata tag, total size, the ObjectRefs found
    inside it, and the pieces to copy (`pieces()`) or join (`to_bytes()`)."""

    __slots__ = ("metadata", "total_size", "contained_refs", "_pickled", "_buffers", "_header", "_offsets")

    def __init__(self, metadata, pickled, buffers=(), contained_refs=()):
        self.metadata = metadata
        self._pickled = pickled
        self._buffers = buffers
        self.contained_refs = contained_refs
        if not buffers:
            self._header = b""
            self._offsets = ()
            self.total_size = len(pickled)
            return
        n = len(buffers)
        header_len = 16 + 16 * n
        offsets = []
        pos = _align(header_len + len(pickled))
        for b in buffers:
            offsets.append((pos, b.nbytes))
            pos = _align(pos + b.nbytes)
        self.total_size = offsets[-1][0] + offsets[-1][1]
        self._offsets = offsets
        self._header = struct.pack("<IIQ", n, 0, len(pickled)) + b"".join(
            struct.pack("<QQ", o, l) for o, l in offsets)

    def pieces(self):
        if not self._buffers:
            return [(0, self._pickled)]
        out = [(0, self._header), (len(self._header), self._pickled)]
        out.extend((off, buf) for (off, _), buf in zip(self._offsets, self._buffers))
        return out

    def to_bytes(self):
        if not self._buffers:
            return self._pickled if isinstance(self._pickled, bytes) else bytes(self._pickled)
        out = bytearray(self.total_size)
        for off, piece in self.pieces():
            mv = memoryview(piece).cast("B")
            out[off:off + mv.nbytes] = mv
        return bytes(out)


def _align(n):
    return (n + _ALIGN - 1) & ~(_ALIGN - 1)


def serialize(value, what="value"):
    """Serializes `value`; raises TypeError naming it when it cannot be pickled."""
    if type(value) in _FAST_TYPES:
        return SerializedObject(META_PICKLE, pickle.dumps(value, protocol=5))
    refs = []
    buffers = []
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(refs)
    try:
        pickled = code_pickling.dumps(value, buffer_callback=buffers.append)
    except Exception as e:
        raise TypeError(
            "Could not serialize the %s %r of type %s: %s. Only picklable values can be "
            "passed to or returned from remote functions and put in the object store." % (
                what, _short_repr(value), type(value).__name__, e)) from e
    finally:
        stack.pop()
    if buffers:
        views = []
        for b in buffers:
            try:
                views.append(b.raw())
            except BufferError:  # not contiguous: fall back to a copy
                views.append(memoryview(bytes(memoryview(b))))
        return SerializedObject(META_PICKLE5, pickled, views, refs)
    return SerializedObject(META_PICKLE, pickled, (), refs)


def serialize_error(err):
    """Serializes a RayTaskError. A cause that will not pickle, or whose
    pickle will not load (e.g. an exception class whose __init__ needs other
    arguments than its args), is replaced by UnserializableException carrying
    the original's text and traceback, as Ray does."""
    try:
        data = code_pickling.dumps(err)
        pickle.loads(data)   # errors are rare: checking the round trip here is cheap
        return SerializedObject(META_TASK_ERROR, data)
    except Exception as e:
        original = "%s\n(%s: %s)" % ((err.traceback_str or repr(err.cause)).rstrip(), type(e).__name__, e)
        fallback = exceptions.RayTaskError(err.function_name, err.traceback_str,
                                           exceptions.UnserializableException(original), pid=err.pid)
        return SerializedObject(META_TASK_ERROR, code_pickling.dumps(fallback))


def _short_repr(value):
    try:
        r = repr(value)
    except Exception:
        return "<unrepresentable>"
    return r if len(r) <= 80 else r[:77] + "..."


def is_error(metadata):
    return metadata[:1] == b"E"


def error_from(metadata, data):
    """The exception an error object stands for (not raised)."""
    if metadata == META_TASK_ERROR:
        try:
            err = pickle.loads(data)
        except Exception as e:
            # E.g. the exception's class cannot be imported here.
            return exceptions.UnserializableException(
                "(the task's exception could not be loaded in this process: %s: %s)" % (type(e).__name__, e))
        if isinstance(err, exceptions.RayTaskError):
            return err.as_instanceof_cause()
        return err
    if metadata == META_ACTOR_INIT_FAILED:
        cause = pickle.loads(data)
        if isinstance(cause, exceptions.RuntimeEnvSetupError):
            err = exceptions.ActorDiedError(
                "The actor died because its runtime_env could not be set up; every call to it fails.\n%s" % (cause,))
            err.cause = cause
            return err
        err = exceptions.ActorDiedError(
            "The actor died because its __init__ raised an exception; every call to it fails.\n%s" % (cause,))
        err.cause = cause
        return err
    msg = bytes(data).decode("utf-8", "replace")
    if metadata == META_ACTOR_DIED:
        if "its placement group" in msg and "was removed" in msg:
            return exceptions.ActorDiedInRemovedGroupError(msg)
        return exceptions.ActorDiedError(msg)
    if metadata == META_ACTOR_UNAVAILABLE:
        return exceptions.ActorUnavailableError(msg)
    if metadata == META_TASK_CANCELLED:
        return exceptions.TaskCancelledError(msg)
    if metadata == META_WORKER_DIED:
        return exceptions.WorkerCrashedError(msg)
    if metadata == META_NODE_DIED:
        return exceptions.NodeDiedError(msg)
    if metadata == META_PLACEMENT_GROUP_REMOVED:
        return exceptions.TaskPlacementGroupRemoved(msg)
    if metadata == META_RECONSTRUCTION_FAILED:
        return exceptions.ObjectReconstructionFailedError(msg)
    if metadata == META_OBJECT_LOST:
        if "owner" in msg and ("died" in msg or "cannot be reached" in msg):
            return exceptions.OwnerDiedError(msg)
        if "fetch" in msg and "timed out" in msg:
            # The object manager gave up on a node that did not answer in time.
            return exceptions.ObjectFetchTimedOutError(msg)
        if "its owner has already freed it" in msg:
            # The owner freed it while this process still held a ref: Ray's
            # reference-counting assertion.
            return exceptions.ReferenceCountingAssertionError(msg)
        return exceptions.ObjectLostError(msg)
    if msg.startswith("the local raylet is gone"):
        return exceptions.LocalRayletDiedError(msg)
    return exceptions.RaySystemError(msg)


def deserialize(metadata, data):
    """The value stored as (metadata, data); raises the error an error object holds."""
    if metadata == META_PICKLE:
        value = pickle.loads(data)
        _flush_borrows()
        return value
    if metadata == META_PICKLE5:
        mv = memoryview(data)
        n, _, plen = struct.unpack_from("<IIQ", mv, 0)
        header_len = 16 + 16 * n
        bufs = []
        for i in range(n):
            off, length = struct.unpack_from("<QQ", mv, 16 + 16 * i)
            bufs.append(mv[off:off + length])
        value = pickle.loads(mv[header_len:header_len + plen], buffers=bufs)
        _flush_borrows()
        return value
    if is_error(metadata):
        raise error_from(metadata, data)
    raise exceptions.RaySystemError("unknown object format %r" % (metadata,))
