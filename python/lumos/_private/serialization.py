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
import traceback

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


def _load_exception(data):
    """The exception pickled in an error object's data. One that does not load
    (e.g. its class cannot be imported here) becomes UnserializableException;
    data holding something other than an exception (a corrupt object) becomes
    RaySystemError: error_from's result is always raisable."""
    try:
        err = pickle.loads(data)
    except Exception as e:
        return exceptions.UnserializableException(
            "(the task's exception could not be loaded in this process: %s: %s)" % (type(e).__name__, e))
    if not isinstance(err, BaseException):
        return exceptions.RaySystemError(
            "corrupt error object: its data holds a %s, not an exception" % type(err).__name__)
    return err


def error_from(metadata, data):
    """The exception an error object stands for (not raised)."""
    if metadata == META_TASK_ERROR:
        err = _load_exception(data)
        if isinstance(err, exceptions.RayTaskError):
            return err.as_instanceof_cause()
        return err
    if metadata == META_ACTOR_INIT_FAILED:
        cause = _load_exception(data)
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


def _corrupt(what):
    return exceptions.RaySystemError("corrupt object in the object store: %s" % what)


def _p5_parts(data):
    """(pickle stream, out-of-band buffers) of a P5 object. Every length and
    offset of the header is checked against the data first, so a corrupt
    header raises RaySystemError naming it instead of unpickling garbage."""
    mv = memoryview(data).cast("B")
    size = mv.nbytes
    if size < 16:
        raise _corrupt("a P5 object of %d bytes is shorter than its 16-byte header" % size)
    n, _, plen = struct.unpack_from("<IIQ", mv, 0)
    header_len = 16 + 16 * n
    if header_len + plen > size:
        raise _corrupt("the P5 header names %d buffers and a %d-byte pickle, more than the object's %d bytes" % (
            n, plen, size))
    bufs = []
    for i in range(n):
        off, length = struct.unpack_from("<QQ", mv, 16 + 16 * i)
        if off < header_len + plen or off + length > size:
            raise _corrupt("P5 buffer %d spans bytes [%d, %d), outside the %d bytes after the header and "
                           "pickle" % (i, off, off + length, size - header_len - plen))
        bufs.append(mv[off:off + length])
    return mv[header_len:header_len + plen], bufs


def deserialize(metadata, data):
    """The value stored as (metadata, data); raises the error an error object holds.

    Data that does not decode raises RaySystemError naming the cause (as Ray
    does): an unknown metadata tag, a P5 header whose lengths or offsets do
    not fit the data, or a pickle stream that fails to load (truncated,
    corrupt, or a class this process cannot import); the original exception
    is its __cause__. Errors lumos itself raises while unpickling (RayError)
    pass through. Loading a pickle runs code by design (as in Ray): objects
    come from the cluster's own processes, which are trusted."""
    if metadata == META_PICKLE:
        return _loads(data, ())
    if metadata == META_PICKLE5:
        pickled, bufs = _p5_parts(data)
        return _loads(pickled, bufs)
    if is_error(metadata):
        raise error_from(metadata, data)
    raise exceptions.RaySystemError("unknown object format %r" % (metadata,))


def _loads(pickled, bufs):
    try:
        value = pickle.loads(pickled, buffers=bufs)
    except exceptions.RayError:
        raise
    except Exception as e:
        raise exceptions.RaySystemError("could not deserialize the object: %s: %s" % (type(e).__name__, e),
                                        traceback.format_exc()) from e
    _flush_borrows()
    return value
