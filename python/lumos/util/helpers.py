"""Iterating results as they finish (Ray's ray.util.as_completed and
ray.util.map_unordered), built on lumos.wait.

    for value in as_completed(refs, chunk_size=2): ...
    for value in map_unordered(f, items, backpressure_size=8): ...

No order is promised: each round waits for `chunk_size` refs (fewer at the
end) and yields those, in the order lumos.wait returns them. Extra keyword
arguments go to lumos.wait (timeout=, fetch_local=); a round that times out
with nothing ready raises GetTimeoutError instead of spinning.
"""
from lumos import exceptions
from lumos._private import worker as _worker

DEFAULT_CHUNK_SIZE = 10
DEFAULT_BACKPRESSURE_SIZE = 100


def _check_size(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("`%s` must be an int >= 1%s, got %r" % (name, " or None" if allow_none else "", value))


def _one_round(refs, chunk_size, yield_obj_refs, wait_kwargs):
    """(values or refs of one ready batch, refs still pending)."""
    ready, pending = _worker.wait(refs, num_returns=min(chunk_size, len(refs)), **wait_kwargs)
    if not ready:
        raise exceptions.GetTimeoutError(
            "as_completed/map_unordered: no result became ready within timeout=%r s (%d pending)" % (
                wait_kwargs.get("timeout"), len(pending)))
    return (ready if yield_obj_refs else _worker.get(ready)), pending


def as_completed(refs, *, chunk_size=DEFAULT_CHUNK_SIZE, yield_obj_refs=False, **kwargs):
    """Yields the results of `refs` (a list of ObjectRefs) in batches of
    `chunk_size` as they become ready; the refs themselves with
    yield_obj_refs=True. A failed task raises its error when reached."""
    _check_size("chunk_size", chunk_size)
    if not isinstance(refs, (list, tuple)):
        raise TypeError("as_completed() needs a list of ObjectRefs, got %s" % type(refs).__name__)
    pending = list(refs)
    while pending:
        batch, pending = _one_round(pending, chunk_size, yield_obj_refs, kwargs)
        yield from batch


def map_unordered(fn, items, *, backpressure_size=DEFAULT_BACKPRESSURE_SIZE, chunk_size=DEFAULT_CHUNK_SIZE,
                  yield_obj_refs=False, **kwargs):
    """Runs the remote function `fn` on each of `items` (fn.remote(item))
    and yields results as they finish. At most `backpressure_size` tasks are
    in flight (None: submit all at once); results come `chunk_size` at a time."""
    if not hasattr(fn, "remote"):
        raise TypeError("map_unordered() needs a remote function (decorated with @lumos.remote), got %r" % (fn,))
    _check_size("chunk_size", chunk_size)
    _check_size("backpressure_size", backpressure_size, allow_none=True)
    pending = []
    for item in items:
        if backpressure_size is not None and len(pending) >= backpressure_size:
            batch, pending = _one_round(pending, chunk_size, yield_obj_refs, kwargs)
            yield from batch
        pending.append(fn.remote(item))
    while pending:
        batch, pending = _one_round(pending, chunk_size, yield_obj_refs, kwargs)
        yield from batch
