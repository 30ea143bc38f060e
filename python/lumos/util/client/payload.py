"""Pickling user values for the client-mode wire, with stand-ins.

Both sides pickle payloads with a `persistent_id` hook that replaces
ObjectRefs and actor handles by table keys, and unpickle them with a
`persistent_load` hook that maps the keys back (client: to stand-ins; driver:
to the real objects). Plain values (numbers, strings, small containers of
them) skip the hooks: they are the hot path (put(0), get of b"ok").

A payload is one tag byte then a pickle: b"s" plain, b"p" with hooks.
"""
import io
import pickle
import struct

from lumos._private import code_pickling

_FAST = frozenset((int, float, bool, type(None), str, bytes))


def _simple(obj, depth=0):
    # Loops, not all(generator): this runs for every call's arguments.
    t = type(obj)
    if t in _FAST:
        return True
    if depth >= 2:
        return False
    if t is tuple or t is list:
        if len(obj) > 32:
            return False
        for x in obj:
            if type(x) not in _FAST and not _simple(x, depth + 1):
                return False
        return True
    if t is dict:
        if len(obj) > 32:
            return False
        for k, v in obj.items():
            if type(k) not in _FAST or (type(v) not in _FAST and not _simple(v, depth + 1)):
                return False
        return True
    return False


class _HookPickler(code_pickling._Pickler):
    """cloudpickle (code kept whole) that asks `hook` for a persistent id first."""

    def __init__(self, f, hook, buffer_callback):
        super().__init__(f, protocol=5, buffer_callback=buffer_callback)
        self._hook = hook

    def persistent_id(self, obj):
        return self._hook(obj)


class _HookUnpickler(pickle.Unpickler):
    def __init__(self, f, hook, buffers):
        super().__init__(f, buffers=buffers)
        self._hook = hook

    def persistent_load(self, pid):
        return self._hook(pid)


def dumps(obj, hook):
    """(payload bytes, out-of-band buffers) of `obj`."""
    if _simple(obj):
        return b"s" + pickle.dumps(obj, protocol=5), ()
    raw = []
    f = io.BytesIO()
    names = ",".join(types_in(obj)).encode()[:4000]
    f.write(b"p" + struct.pack("<H", len(names)) + names)
    _HookPickler(f, hook, raw.append).dump(obj)
    buffers = []
    for b in raw:
        try:
            buffers.append(b.raw())
        except BufferError:  # not contiguous: one copy
            buffers.append(memoryview(bytes(memoryview(b))))
    return f.getvalue(), buffers


def loads(payload, buffers, hook):
    """The value of a payload made by dumps() (None for an empty one)."""
    if not len(payload):
        return None
    tag = bytes(payload[:1])
    if tag == b"s":
        return pickle.loads(payload[1:])
    if tag == b"p":
        (n,) = struct.unpack_from("<H", payload, 1)
        return _HookUnpickler(io.BytesIO(payload[3 + n:]), hook, buffers).load()
    raise ValueError("corrupt client-mode payload (tag %r)" % (tag,))


def describe_type(obj):
    """'module.Class' of a value, for errors that name what failed to travel."""
    t = type(obj)
    return "%s.%s" % (t.__module__, t.__qualname__)


def types_in(obj, limit=8):
    """The names of the non-builtin types in `obj` (shallow), for errors."""
    out = []
    seen = set()
    stack = [obj]
    while stack and len(out) < limit:
        x = stack.pop()
        if isinstance(x, (list, tuple, set, frozenset)):
            stack.extend(list(x)[:64])
            continue
        if isinstance(x, dict):
            stack.extend(list(x.values())[:64])
            continue
        name = describe_type(x)
        if not name.startswith("builtins.") and name not in seen:
            seen.add(name)
            out.append(name)
    return out


def sent_types(payload):
    """The type names the sender recorded in a payload (for errors)."""
    if bytes(payload[:1]) != b"p":
        return []
    (n,) = struct.unpack_from("<H", payload, 1)
    text = bytes(payload[3:3 + n]).decode("utf-8", "replace")
    return [t for t in text.split(",") if t]
