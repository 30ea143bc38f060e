"""cloudpickle that keeps where code came from.

cloudpickle >= 3.1.2 renames every code object it pickles by value to
"<dynamic-code>" (to make payloads deterministic), so a remote function's
traceback would no longer name its file. Driver and workers run the same
Python, so code objects travel as marshal data (what .pyc files hold), intact:
file name, line table and nested code included.
"""
import io
import marshal
import types
from collections import ChainMap

import cloudpickle


def _code_from_marshal(data):
    return marshal.loads(data)


def _reduce_code(code):
    return _code_from_marshal, (marshal.dumps(code),)


# type -> reducer, consulted before cloudpickle's table: code objects, and
# the types lumos.util.register_serializer() was given.
_reducers = {types.CodeType: _reduce_code}


class _Pickler(cloudpickle.Pickler):
    dispatch_table = ChainMap(_reducers, cloudpickle.Pickler.dispatch_table)


# Types pickle writes itself without asking any reducer.
_ATOMIC = (type(None), bool, int, float, complex, bytes, bytearray, str, tuple, list, dict, set, frozenset)


def register_reducer(cls, reducer):
    """Pickles instances of exactly `cls` as reducer(obj) (a __reduce__ tuple)."""
    if not isinstance(cls, type):
        raise TypeError("a serializer is registered for a class, got %r" % (cls,))
    if cls in _ATOMIC or cls is types.CodeType:
        raise TypeError("instances of %s are serialized by pickle itself and cannot get a custom serializer; "
                        "wrap them in a class of your own" % cls.__name__)
    _reducers[cls] = reducer


def unregister_reducer(cls):
    """Drops the reducer of `cls` (nothing happens when it has none)."""
    if cls is not types.CodeType:
        _reducers.pop(cls, None)


def dumps(obj, buffer_callback=None, protocol=5):
    """cloudpickle.dumps(obj, protocol=5, buffer_callback=...) with code kept whole."""
    with io.BytesIO() as f:
        _Pickler(f, protocol=protocol, buffer_callback=buffer_callback).dump(obj)
        return f.getvalue()
