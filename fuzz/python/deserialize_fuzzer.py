#!/usr/bin/env python3
# Executable: libFuzzer re-runs argv[0] for -merge=1 (with the venv first on PATH, as make sets it).
"""Fuzzes lumos's decoding of objects: task arguments, results and errors all
go through serialization.deserialize(metadata, data) (and error_from for
error objects), in the worker (task_execution) and the driver (worker.get).

What counts as bad input here: the framing and metadata layer around pickle,
i.e. an unknown or mangled metadata tag, a P5 header whose buffer count,
pickle length or buffer offsets do not fit the data, a truncated or corrupt
pickle stream, and an error object whose data is not an exception. Each must
raise (or, from error_from, return) a lumos error naming the cause: never
another exception type, a crash of the interpreter, or a hang. The pickle
stream itself is trusted by design (loading it runs code, as in Ray), so the
harness swaps in an unpickler that refuses every global outside a safe list:
the fuzzer can then mangle pickles freely without calling arbitrary functions.
That unpickler is pickle's pure-Python one: CPython's C unpickler sizes its
memo from the stream (LONG_BINPUT 1262064532 in a 40-byte input allocates
gigabytes), a property of pickle itself, like its running code, and the
Python one is instrumented, so the fuzzer sees the opcodes it reaches.

Input: byte 0 picks the metadata tag (the last choice: the next bytes up to a
'|' are a tag of their own), the rest is the data.

Run: python fuzz/python/deserialize_fuzzer.py [atheris/libFuzzer flags] DIR...
(`make fuzz` does). tests/python/test_fuzz_corpus.py replays fuzz/corpus/
deserialize/ and fuzz/regressions/deserialize/ through test_one_input
(within safe_unpickler()) without atheris.
"""
import contextlib
import io
import os
import pickle
import sys
import types

TAGS = [b"P", b"P5", b"E", b"EW", b"EL", b"ER", b"ES", b"EA", b"EC", b"EAI", b"EAU", b"EP", b"EN", b"X"]
# Globals the fuzzed pickles may name: plain values, exceptions and lumos's
# error classes. Not numpy: its reconstructors, given mangled arguments,
# allocate whatever a shape or dtype says (an early run hit the 2 GB limit),
# which is the pickle content, not lumos's framing. P5 seeds still exercise
# the header and out-of-band buffers; their arrays just fail to load.
_SAFE_MODULES = {"lumos.exceptions"}
_SAFE_GLOBALS = {
    ("builtins", n) for n in ("int", "float", "complex", "str", "bytes", "bytearray", "list", "tuple", "dict",
                              "set", "frozenset", "slice", "range", "ValueError", "KeyError", "TypeError",
                              "RuntimeError", "Exception", "ZeroDivisionError", "OSError")
} | {("copyreg", "_reconstructor")}


# BYTEARRAY8 allocates the length it reads before reading the bytes (4 GB
# from an 11-byte input): this unpickler refuses a length beyond the input
# first. Again pickle's own behaviour, not the framing.
class _SafeUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    def __init__(self, data, **kwargs):
        super().__init__(io.BytesIO(data), **kwargs)
        self._size = len(data)
        self.dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]
        self.dispatch[pickle.BYTEARRAY8[0]] = _SafeUnpickler._load_bytearray8

    def _load_bytearray8(self):
        length = int.from_bytes(self.read(8), "little")
        if length > self._size:
            raise pickle.UnpicklingError("fuzz harness: BYTEARRAY8 of %d bytes in a %d-byte pickle" % (
                length, self._size))
        b = bytearray(length)
        self.readinto(b)
        self.append(b)

    def find_class(self, module, name):
        if module in _SAFE_MODULES or (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError("fuzz harness: global %s.%s is not on the safe list" % (module, name))


def _safe_loads(data, *, buffers=None):
    return _SafeUnpickler(bytes(data), buffers=buffers).load()


from lumos import exceptions as _exceptions  # noqa: E402
from lumos._private import serialization as _serialization  # noqa: E402


@contextlib.contextmanager
def safe_unpickler():
    """Within it, lumos's serialization unpickles with _SafeUnpickler."""
    shim = types.ModuleType("pickle")
    shim.__dict__.update(pickle.__dict__)
    shim.loads = _safe_loads
    original = _serialization.pickle
    _serialization.pickle = shim
    try:
        yield
    finally:
        _serialization.pickle = original


def split(data):
    """(metadata, payload) of a fuzz input."""
    if not data:
        return b"P", b""
    choice = data[0] % len(TAGS)
    rest = data[1:]
    if choice == len(TAGS) - 1:
        tag, _, rest = rest.partition(b"|")
        return tag, rest
    return TAGS[choice], rest


def test_one_input(data):
    metadata, payload = split(bytes(data))
    s, exc = _serialization, _exceptions
    # The core worker hands over bytes or memoryviews of the object store.
    for view in (payload, memoryview(payload)):
        if s.is_error(metadata):
            err = s.error_from(metadata, view)
            if not isinstance(err, BaseException):
                raise AssertionError("error_from(%r) returned %r, not an exception" % (metadata, err))
            continue
        try:
            s.deserialize(metadata, view)
        except exc.RayError:
            pass


def main():
    import atheris
    # Every Python function loaded so far: lumos's serialization, pickle's
    # pure-Python unpickler, this harness.
    atheris.instrument_all()
    atheris.Setup(sys.argv, test_one_input)
    with safe_unpickler():
        atheris.Fuzz()


def write_seeds(directory):
    """Seed inputs: real serialize() outputs of the shapes lumos writes."""
    import numpy as np
    os.makedirs(directory, exist_ok=True)
    s, exc = _serialization, _exceptions
    values = {"int": 7, "str": "hello", "list": [1, "a", (2.5, None)], "dict": {"k": b"v"},
              "numpy": np.arange(6, dtype=np.int32), "numpy2d": np.ones((3, 2)), "bytes": b"x" * 100,
              "two-arrays": [np.zeros(4), np.arange(3)]}
    for name, v in values.items():
        o = s.serialize(v)
        with open(os.path.join(directory, "seed-" + name), "wb") as f:
            f.write(bytes([TAGS.index(o.metadata)]) + o.to_bytes())
    err = exc.RayTaskError("f", "Traceback: ...", ValueError("boom"), pid=1)
    with open(os.path.join(directory, "seed-task-error"), "wb") as f:
        f.write(bytes([TAGS.index(b"E")]) + s.serialize_error(err).to_bytes())
    with open(os.path.join(directory, "seed-actor-init"), "wb") as f:
        f.write(bytes([TAGS.index(b"EAI")]) + pickle.dumps(ValueError("init failed")))
    with open(os.path.join(directory, "seed-worker-died"), "wb") as f:
        f.write(bytes([TAGS.index(b"EW")]) + "the worker died".encode())
    with open(os.path.join(directory, "seed-lost"), "wb") as f:
        f.write(bytes([TAGS.index(b"EL")]) + b"the owner died")
    with open(os.path.join(directory, "seed-other-tag"), "wb") as f:
        f.write(bytes([len(TAGS) - 1]) + b"Q9|" + pickle.dumps(1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write-seeds"]:
        write_seeds(sys.argv[2])
    else:
        main()
