"""num_returns="dynamic": the task's single return value is a
DynamicObjectRefGenerator over refs to the values the task yielded (each its
own object, owned by the caller)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lumos._private.ids import TaskID
    from lumos._raylet import CoreWorker, ObjectRef


class DynamicObjectRefGenerator:
    """Iterable of ObjectRefs; picklable, so it can be passed to other tasks."""

    def __init__(self, refs: list[ObjectRef[Any]]) -> None:
        self._refs = list(refs)

    def __iter__(self) -> Iterator[ObjectRef[Any]]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, i: int) -> ObjectRef[Any]:
        return self._refs[i]

    def __repr__(self) -> str:
        return "DynamicObjectRefGenerator(%d refs)" % len(self._refs)


class ObjectRefGenerator:
    """What `.remote()` of a streaming generator task (num_returns="streaming",
    the default for generator functions) returns: an iterator of ObjectRefs to
    the values the task yields, available while the task still runs.

    `next(gen)` / `for ref in gen` / `async for ref in gen` give the refs in
    order. If the task raised, the ref at that point raises the error on get,
    then the iteration ends; if its worker died (and retries ran out) the next
    ref raises WorkerCrashedError. `completed()` is a ref that is ready when the
    task has finished (get raises if it failed). `lumos.wait()` takes
    generators among its refs: one is ready when `next_ready()` is true. Dropping the generator frees
    the items not taken yet. Not picklable (only its caller can consume it).
    """

    def __init__(self, head_ref: ObjectRef[Any], core_worker: CoreWorker) -> None:
        self._head = head_ref
        self._task_id = head_ref.task_id().binary()
        self._cw = core_worker
        self._done = False

    def __iter__(self) -> ObjectRefGenerator:
        return self

    def __next__(self) -> ObjectRef[Any]:
        return self._next_sync(None)

    def _next_sync(self, timeout_s: float | None = None) -> ObjectRef[Any]:
        """The next ref; StopIteration at the end; GetTimeoutError when
        `timeout_s` passes first."""
        if self._done:
            raise StopIteration
        timeout_ms = -1 if timeout_s is None else max(0, int(timeout_s * 1000))
        ref: ObjectRef[Any]
        kind, ref = self._cw.stream_next(self._task_id, timeout_ms)
        if kind == 0:
            return ref
        self._done = True
        if kind == 2:
            return ref   # holds the task's failure (e.g. WorkerCrashedError)
        raise StopIteration

    def __aiter__(self) -> ObjectRefGenerator:
        return self

    async def __anext__(self) -> ObjectRef[Any]:
        from lumos import exceptions
        try:
            return self._next_sync(0)   # ready now: no thread hop
        except StopIteration:
            raise StopAsyncIteration from None
        except exceptions.GetTimeoutError:
            pass
        import asyncio
        ref = await asyncio.get_running_loop().run_in_executor(None, self._next_or_none)
        if ref is None:
            raise StopAsyncIteration
        return ref

    def _next_or_none(self) -> ObjectRef[Any] | None:
        # asyncio futures cannot carry StopIteration.
        try:
            return self._next_sync(None)
        except StopIteration:
            return None

    def completed(self) -> ObjectRef[Any]:
        """ObjectRef ready when the task has finished; get raises if it failed."""
        return self._head

    def next_ready(self) -> bool:
        """True when next() would not block: the next item arrived, or the task
        ended or failed. `lumos.wait([gen, ...])` waits for the same."""
        return self._done or self._cw.stream_next_ready(self._task_id)

    def is_finished(self) -> bool:
        """True when every item was taken and the task has ended."""
        return self._done or self._cw.stream_is_finished(self._task_id)

    def task_id(self) -> TaskID:
        return self._head.task_id()

    def __reduce__(self) -> Any:
        raise TypeError("an ObjectRefGenerator cannot be pickled or passed to another task; iterate it in "
                        "its caller and pass the ObjectRefs it gives")

    def __del__(self) -> None:
        try:
            # A core worker that was shut down raises here (nothing to drop).
            self._cw.stream_drop(self._task_id)
        except Exception:
            pass

    def __repr__(self) -> str:
        return "ObjectRefGenerator(%s)" % self._head.task_id().hex()
