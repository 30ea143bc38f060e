"""Object decoding against corrupt data: the deserialization fuzzer's corpus
and regressions (fuzz/python/deserialize_fuzzer.py, replayed here without
atheris, as `make test` does for the C++ harnesses), and the errors a few
hand-made corruptions must raise. No cluster needed."""
import importlib.util
import pathlib
import struct

import numpy as np
import pytest

from lumos import exceptions
from lumos._private import serialization

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _harness():
    spec = importlib.util.spec_from_file_location("deserialize_fuzzer", ROOT / "fuzz/python/deserialize_fuzzer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_corpus_and_regressions_replay():
    files = sorted((ROOT / "fuzz/corpus/deserialize").iterdir())
    assert files, "the deserialize corpus is empty"
    files += sorted((ROOT / "fuzz/regressions/deserialize").glob("*"))
    harness = _harness()
    with harness.safe_unpickler():
        for f in files:
            harness.test_one_input(f.read_bytes())


def _p5(value):
    obj = serialization.serialize(value)
    assert obj.metadata == serialization.META_PICKLE5
    return bytearray(obj.to_bytes())


@pytest.mark.parametrize("corrupt, message", [
    (lambda b: b[:10], "shorter than its 16-byte header"),
    (lambda b: struct.pack_into("<I", b, 0, 1 << 30) or b, "names 1073741824 buffers"),
    (lambda b: struct.pack_into("<Q", b, 8, 1 << 40) or b, "1099511627776-byte pickle"),
    (lambda b: struct.pack_into("<Q", b, 24, 1 << 20) or b, "P5 buffer 0 spans bytes"),
    (lambda b: struct.pack_into("<Q", b, 16, 0) or b, "P5 buffer 0 spans bytes [0,"),
])
def test_corrupt_p5_header_names_the_cause(corrupt, message):
    data = corrupt(_p5(np.arange(32)))
    with pytest.raises(exceptions.RaySystemError, match="corrupt object in the object store") as info:
        serialization.deserialize(serialization.META_PICKLE5, bytes(data))
    assert message in str(info.value)


def test_truncated_pickle_is_a_system_error_with_the_cause():
    data = serialization.serialize({"a": list(range(100))}).to_bytes()[:-7]
    with pytest.raises(exceptions.RaySystemError, match="could not deserialize the object: UnpicklingError") as info:
        serialization.deserialize(serialization.META_PICKLE, data)
    assert info.value.__cause__ is not None


def test_error_object_holding_no_exception_is_still_raisable():
    err = serialization.error_from(serialization.META_TASK_ERROR, serialization.serialize(5).to_bytes())
    assert isinstance(err, exceptions.RaySystemError)
    assert "holds a int, not an exception" in str(err)
    err = serialization.error_from(serialization.META_ACTOR_INIT_FAILED, b"\x80\x05garbage")
    assert isinstance(err, exceptions.ActorDiedError)


def test_good_objects_still_round_trip():
    for value in (5, "s", [1, (2, None)], np.arange(10).reshape(2, 5)):
        obj = serialization.serialize(value)
        out = serialization.deserialize(obj.metadata, obj.to_bytes())
        assert np.array_equal(out, value) if isinstance(value, np.ndarray) else out == value
