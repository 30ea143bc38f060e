"""Object spilling: a store smaller than the data spills to disk and restores
transparently, objects bigger than the store live in files, spill files go
with their objects, corrupted spill files give errors (never wrong data), and
a disabled spill gives ObjectStoreFullError."""
import glob
import json
import os
import time
import zlib

import numpy as np
import pytest

import lumos as ray
from lumos import exceptions
from lumos._private import worker as _worker

pytestmark = pytest.mark.timeout(180)

MB = 1 << 20


def _stats(objects=False):
    return _worker._state.core_worker.store_stats(include_objects=objects)


def _spill_files(spill_dir):
    return sorted(glob.glob(os.path.join(spill_dir, "lumos-*")))


def _wait(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_seeds_spilling_example(ray_start_fn, tmp_short):
    """The seeds' example: 100 arrays of 50 MB put into a 300 MB store."""
    spill_dir = os.path.join(tmp_short, "ray_spill")
    ray_start_fn(num_cpus=1, object_store_memory=300 * MB, object_spill_config={
        "type": "filesystem",
        "params": {"directory_path": spill_dir, "buffer_size": 100 * MB}})
    refs, crcs = [], []
    for i in range(100):
        data = np.random.default_rng(i).random((6250000,))  # 50 MB
        crcs.append(zlib.crc32(data))
        refs.append(ray.put(data))
    del data
    st = _stats()
    assert st["spilling_enabled"] and st["spill_directory"] == spill_dir
    assert st["num_objects"] == 100
    assert st["used"] <= 300 * MB
    assert st["num_spilled"] >= 94, st
    assert st["spilled_bytes"] >= 94 * 50_000_000
    assert len(_spill_files(spill_dir)) == st["num_spilled"]
    first = ray.get(refs[0])  # restored from disk
    assert first.shape == (6250000,) and zlib.crc32(first) == crcs[0]
    del first
    # All at once: far more than the store holds; the rest is read from the files.
    values = ray.get(refs)
    for i, v in enumerate(values):
        assert v.shape == (6250000,) and zlib.crc32(v) == crcs[i], i
    del values, v
    assert _stats()["bytes_restored_total"] > 0
    # Dropping the refs deletes every object and its spill file.
    del refs
    assert _wait(lambda: _stats()["num_objects"] == 0)
    assert _spill_files(spill_dir) == []
    assert _stats()["spilled_bytes"] == 0


def test_put_bigger_than_the_store(ray_start_fn, tmp_short):
    spill_dir = os.path.join(tmp_short, "spill")
    ray_start_fn(num_cpus=1, object_store_memory=200 * MB,
                 object_spill_config=json.dumps({"type": "filesystem",
                                                 "params": {"directory_path": spill_dir}}))
    big = np.arange(600 * MB // 8, dtype=np.int64)
    ref = ray.put(big)
    st = _stats(objects=True)
    assert st["used"] < 200 * MB
    assert st["spilled_bytes"] >= 600 * MB
    assert [o["external"] for o in st["objects"]] == [True]
    out = ray.get(ref)
    assert out.shape == big.shape and np.array_equal(out, big)
    del out
    # A task reads it too (another process maps the same file).
    assert ray.get(ray.remote(lambda a: int(a[-1])).remote(ref)) == int(big[-1])
    assert len(_spill_files(spill_dir)) == 1
    del ref
    assert _wait(lambda: _stats()["num_objects"] == 0)
    assert _spill_files(spill_dir) == []


def test_default_spill_dir_is_in_the_session(ray_start_fn):
    ctx = ray_start_fn(num_cpus=1, object_store_memory=100 * MB)
    st = _stats()
    assert st["spilling_enabled"]
    assert st["spill_directory"] == os.path.join(ctx.address_info["session_dir"], "spill")
    refs = [ray.put(np.full(30 * MB, i, dtype=np.uint8)) for i in range(6)]
    assert _stats()["num_spilled"] >= 3
    assert len(_spill_files(st["spill_directory"])) >= 3
    for i, r in enumerate(refs):
        a = ray.get(r)
        assert a[0] == i and a[-1] == i and a.sum() == i * 30 * MB


def test_spilling_disabled_raises_object_store_full(ray_start_fn):
    ray_start_fn(num_cpus=1, object_store_memory=200 * MB,
                 _system_config={"object_spilling_enabled": False})
    assert not _stats()["spilling_enabled"]
    keep = ray.put(np.zeros(150 * MB, dtype=np.uint8))
    with pytest.raises(exceptions.ObjectStoreFullError) as e:
        ray.put(np.zeros(100 * MB, dtype=np.uint8))
    msg = str(e.value)
    assert str(200 * MB) in msg and "spilling" in msg, msg
    with pytest.raises(exceptions.ObjectStoreFullError) as e:
        ray.put(np.zeros(300 * MB, dtype=np.uint8))
    assert "of %d" % (300 * MB // 1000) in str(e.value), str(e.value)  # size + pickle header
    # The failed puts left nothing behind; the store still works.
    del keep
    assert _wait(lambda: _stats()["num_objects"] == 0)
    assert ray.get(ray.put(np.ones(100 * MB, dtype=np.uint8))).sum() == 100 * MB


def test_corrupted_spill_file_names_the_object(ray_start_fn, tmp_short):
    spill_dir = os.path.join(tmp_short, "spill")
    ray_start_fn(num_cpus=1, object_store_memory=100 * MB,
                 object_spill_config={"type": "filesystem", "params": {"directory_path": spill_dir}})
    refs = [ray.put(np.full(30 * MB, i, dtype=np.uint8)) for i in range(6)]
    victim = refs[0].hex()
    files = [f for f in _spill_files(spill_dir) if victim in f]
    assert len(files) == 1, _spill_files(spill_dir)
    with open(files[0], "r+b") as f:
        f.seek(4096 + 12345)
        f.write(b"\xff\x00garbage")
    with pytest.raises(exceptions.ObjectLostError) as e:
        ray.get(refs[0], timeout=30)
    assert victim in str(e.value) and "checksum" in str(e.value), str(e.value)
    # Others are fine.
    assert ray.get(refs[1])[0] == 1
    assert ray.get(refs[5])[-1] == 5


def test_unwritable_spill_dir_raises_object_store_full(ray_start_fn, tmp_short):
    blocker = os.path.join(tmp_short, "file")
    open(blocker, "w").close()
    ray_start_fn(num_cpus=1, object_store_memory=100 * MB,
                 object_spill_config={"type": "filesystem",
                                      "params": {"directory_path": os.path.join(blocker, "spill")}})
    keep = [ray.put(np.full(40 * MB, i, dtype=np.uint8)) for i in range(2)]
    with pytest.raises(exceptions.ObjectStoreFullError) as e:
        ray.put(np.zeros(40 * MB, dtype=np.uint8))
    assert "Not a directory" in str(e.value), str(e.value)
    assert [ray.get(r)[0] for r in keep] == [0, 1]


def test_bad_spill_config(no_cluster):
    with pytest.raises(ValueError, match="not built"):
        ray.init(object_spill_config={"type": "smart_open", "params": {"uri": "s3://x"}})
    with pytest.raises(ValueError, match="directory_path"):
        ray.init(object_spill_config={"type": "filesystem", "params": {}})
    with pytest.raises(ValueError, match="JSON"):
        ray.init(object_spill_config="{not json")
    assert not ray.is_initialized()
