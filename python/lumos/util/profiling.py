"""lumos.util.profiling: named spans of time recorded by code inside a task,
drawn by `lumos.timeline()` inside the task's own box (Ray's
`ray._private.profiling.profile`, also reachable here as
`lumos._private.profiling.profile`).

    with lumos.util.profiling.profile("load", extra_data={"rows": "10"}):
        ...

A span is kept with the running task attempt: the executor's core worker
sends it with its task events, the GCS keeps it with the attempt (at most
1,000 per attempt and 100,000 in all; more are dropped and counted), and the
timeline emits it as a complete event on the worker's row, so trace viewers
nest it under the task. `extra_data` keys "name" and "cname" change the
text and the colour drawn; every key shows in the span's args.

Outside a task (in a driver, or between tasks) a span records nothing, as
Ray's does unless profiling is switched on; with task events off
(LUMOS_TASK_EVENTS_ENABLED=0) neither. A task that records no span pays
nothing for this.
"""
import json
import time
import traceback

from lumos._private import task_context
from lumos._private import worker as _worker


class _Span:
    """One `with` block: its start on enter, recorded on exit (with the
    exception's type and message when the block raised)."""

    __slots__ = ("_ctx", "_name", "_extra", "_start_us")

    def __init__(self, ctx, name, extra):
        self._ctx, self._name, self._extra, self._start_us = ctx, name, extra, 0

    def __enter__(self):
        self._start_us = time.time_ns() // 1000
        return self

    def __exit__(self, exc_type, exc, tb):
        end_us = time.time_ns() // 1000
        extra = self._extra
        if exc_type is not None:
            extra = dict(extra or {}, error_type=exc_type.__name__, error=str(exc)[:1000],
                         traceback="".join(traceback.format_tb(tb))[-4000:])
        from lumos import _raylet
        _raylet.record_profile_event(_worker.core_worker(), self._ctx.binary_id, self._ctx.attempt, self._name,
                                     self._start_us, end_us, json.dumps(extra) if extra else "")
        return False


class _NoSpan:
    """Outside a task: a span that records nothing."""

    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        return False


_NO_SPAN = _NoSpan()


def profile(event_type, extra_data=None):
    """A context manager recording the time its block takes as a span named
    `event_type` of the running task; `extra_data` a dict of strings."""
    if not isinstance(event_type, str) or not event_type:
        raise TypeError("profile(event_type, ...): event_type must be a non-empty str naming the span, got %r"
                        % (event_type,))
    if extra_data is not None:
        if not isinstance(extra_data, dict) or not all(isinstance(k, str) for k in extra_data):
            raise TypeError("profile(..., extra_data=...) must be a dict with str keys (values are shown as "
                            "strings), got %r" % (extra_data,))
        extra_data = {k: v if isinstance(v, str) else str(v) for k, v in extra_data.items()}
    ctx = task_context.current()
    if ctx is None:
        return _NO_SPAN
    return _Span(ctx, event_type, extra_data)
