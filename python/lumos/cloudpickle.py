"""lumos.cloudpickle: the pickler lumos serializes with (like ray.cloudpickle).

cloudpickle's API, where dumps/dump/Pickler are lumos's flavour: code
objects travel whole (file names and line numbers kept, see
_private/code_pickling.py) and serializers registered with
lumos.util.register_serializer apply. Protocol 5 by default. Anything
pickled here loads with plain pickle.loads as well.
"""
import pickle as _pickle

import cloudpickle as _cloudpickle
from cloudpickle import register_pickle_by_value, unregister_pickle_by_value  # noqa: F401

from lumos._private import code_pickling as _code_pickling

DEFAULT_PROTOCOL = 5
Pickler = _code_pickling._Pickler
CloudPickler = Pickler
PicklingError = _pickle.PicklingError
loads = _pickle.loads
load = _pickle.load
__version__ = _cloudpickle.__version__


def dumps(obj, protocol=None, buffer_callback=None):
    """The bytes of `obj`, pickled as lumos pickles task arguments and values."""
    return _code_pickling.dumps(obj, buffer_callback=buffer_callback,
                                protocol=DEFAULT_PROTOCOL if protocol is None else protocol)


def dump(obj, file, protocol=None, buffer_callback=None):
    """Writes dumps(obj) to the binary file `file`."""
    Pickler(file, protocol=DEFAULT_PROTOCOL if protocol is None else protocol,
            buffer_callback=buffer_callback).dump(obj)


__all__ = ["dumps", "dump", "loads", "load", "Pickler", "CloudPickler", "PicklingError", "DEFAULT_PROTOCOL",
           "register_pickle_by_value", "unregister_pickle_by_value"]
