"""Lineage reconstruction: a task output whose only copy is lost (here: its
spill file deleted or corrupted, the way a failed disk loses it) is made again
by re-executing its task — recursively for lost arguments — within the task's
max_retries; put objects and tasks without retries cannot be reconstructed."""
import glob
import os

import numpy as np
import pytest

import lumos as ray
from lumos import exceptions

pytestmark = pytest.mark.timeout(120)

MB = 1 << 20


def _lose_all_spilled(spill_dir):
    files = glob.glob(os.path.join(spill_dir, "lumos-*"))
    for f in files:
        os.unlink(f)
    return len(files)


@pytest.fixture
def small_store(ray_start_fn, tmp_short):
    spill_dir = os.path.join(tmp_short, "spill")
    ray_start_fn(num_cpus=1, object_store_memory=100 * MB,
                 object_spill_config={"type": "filesystem", "params": {"directory_path": spill_dir}})
    return spill_dir


@ray.remote
def make(i, n=30 * MB):
    return np.full(n, i % 256, dtype=np.uint8)


@ray.remote
def plus_one(a):
    return a + 1


@ray.remote(max_retries=0)
def make_once(i):
    return np.full(30 * MB, i, dtype=np.uint8)


def test_lost_task_outputs_are_reexecuted(small_store):
    refs = [make.remote(i) for i in range(6)]
    ray.wait(refs, num_returns=len(refs))
    assert _lose_all_spilled(small_store) >= 2
    values = ray.get(refs)
    assert [int(v[0]) for v in values] == list(range(6))
    assert all(v.shape == (30 * MB,) for v in values)


def test_lineage_chain_three_deep(small_store):
    a = make.remote(1)
    b = plus_one.remote(a)
    c = plus_one.remote(b)
    ray.wait([c])
    filler = [make.remote(100 + i) for i in range(4)]  # push a, b, c out to disk
    ray.wait(filler, num_returns=len(filler))
    assert _lose_all_spilled(small_store) >= 3
    assert int(ray.get(c)[0]) == 3
    assert int(ray.get(a)[-1]) == 1


def test_put_objects_cannot_be_reconstructed(small_store):
    refs = [ray.put(np.full(30 * MB, i, dtype=np.uint8)) for i in range(5)]
    assert _lose_all_spilled(small_store) >= 1
    with pytest.raises(exceptions.ObjectLostError) as e:
        ray.get(refs[0], timeout=30)
    assert not isinstance(e.value, exceptions.ObjectReconstructionFailedError)
    assert "put()" in str(e.value)


def test_no_retries_means_reconstruction_fails(small_store):
    refs = [make_once.remote(i) for i in range(5)]
    ray.wait(refs, num_returns=len(refs))
    assert _lose_all_spilled(small_store) >= 1
    with pytest.raises(exceptions.ObjectReconstructionFailedError) as e:
        ray.get(refs[0], timeout=30)
    assert refs[0].hex() in str(e.value) and "lineage" in str(e.value)
