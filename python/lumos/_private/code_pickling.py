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


class _Pickler(cloudpickle.Pickler):
    dispatch_table = ChainMap({types.CodeType: _reduce_code}, cloudpickle.Pickler.dispatch_table)


def dumps(obj, buffer_callback=None):
    """cloudpickle.dumps(obj, protocol=5, buffer_callback=...) with code kept whole."""
    with io.BytesIO() as f:
        _Pickler(f, protocol=5, buffer_callback=buffer_callback).dump(obj)
        return f.getvalue()
