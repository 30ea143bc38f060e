"""lumos.util.progress(refs): wait for many object refs with a progress bar
(a tqdm_ray bar drawn by the driver's progress display)."""
import time


def progress(refs, desc=None, *, timeout=None, fetch=True, unit="tasks"):
    """Waits until every ref in `refs` is ready, showing how many are, and
    returns their values in order (fetch=False: the refs themselves).
    Raises GetTimeoutError when `timeout` seconds pass first, and the
    task's error when one failed (as lumos.get does)."""
    import lumos
    from lumos import _raylet
    from lumos.exceptions import GetTimeoutError
    from lumos.experimental.tqdm_ray import tqdm
    refs = list(refs)
    for r in refs:
        if not isinstance(r, _raylet.ObjectRef):
            raise TypeError("progress() expects ObjectRefs; got a %s" % type(r).__name__)
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be None or >= 0, got %r" % (timeout,))
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = tqdm(desc=desc or "Waiting", total=len(refs), unit=unit, flush_interval_s=0.1)
    pending = refs
    try:
        while pending:
            step = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
            ready, pending = lumos.wait(pending, num_returns=len(pending), timeout=step, fetch_local=False)
            if ready:
                bar.update(len(ready))
            if pending and deadline is not None and time.monotonic() >= deadline:
                raise GetTimeoutError("%d of %d refs were not ready within %s s" % (len(pending), len(refs), timeout))
    finally:
        bar.close()
    return lumos.get(refs) if fetch else refs
