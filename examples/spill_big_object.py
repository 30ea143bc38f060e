"""A 6 GB numpy array put into a 2 GB object store, read back and checked.
Run once by hand (needs ~6 GB of free disk in the temp dir and ~12 GB RAM):
    python examples/spill_big_object.py [gigabytes] [store_gigabytes]
"""
import os
import sys
import tempfile
import time

import numpy as np

import lumos as ray

GB = 1 << 30


def main():
    size_gb = float(sys.argv[1]) if len(sys.argv) > 1 else 6
    store_gb = float(sys.argv[2]) if len(sys.argv) > 2 else 2
    with tempfile.TemporaryDirectory(prefix="lumos_spill_") as tmp:
        ray.init(num_cpus=1, object_store_memory=int(store_gb * GB),
                 object_spill_config={"type": "filesystem",
                                      "params": {"directory_path": os.path.join(tmp, "spill")}})
        try:
            n = int(size_gb * GB) // 8
            a = np.arange(n, dtype=np.int64)
            t = time.perf_counter()
            ref = ray.put(a)
            put_s = time.perf_counter() - t
            t = time.perf_counter()
            b = ray.get(ref)
            get_s = time.perf_counter() - t
            t = time.perf_counter()
            same = np.array_equal(a, b)
            check_s = time.perf_counter() - t
            stats = ray._private.worker._state.core_worker.store_stats()
            print("put %.1f GB into a %.1f GB store: put %.2f s (%.2f GB/s), get %.3f s, compare %.2f s, "
                  "equal=%s; store used %d MB, spilled %d MB"
                  % (size_gb, store_gb, put_s, size_gb / put_s, get_s, check_s, same,
                     stats["used"] >> 20, stats["spilled_bytes"] >> 20))
            assert same
            del b, ref
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
