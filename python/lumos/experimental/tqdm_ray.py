"""lumos.experimental.tqdm_ray: Ray's distributed tqdm.

`tqdm` works in the driver, in tasks and in actors; every bar is drawn by
the driver (lumos._private.progress_display), so bars from many workers do
not collide with each other or with printed output. A bar in a worker
sends its state (rate limited by flush_interval_s, and always on close)
through the worker-log forwarding path with a marker the driver intercepts;
nothing goes through the worker's stdout or its log file.
"""
import json
import os
import threading
import time
import uuid

from lumos._private import progress_display

__all__ = ["tqdm", "safe_print"]


def safe_print(*args, **kwargs):
    """print() that writes above the driver's bars instead of through them."""
    import io
    buf = io.StringIO()
    kwargs = dict(kwargs, file=buf)
    print(*args, **kwargs)
    lines = buf.getvalue().rstrip("\n").split("\n")
    progress_display.instance().write_lines([(line, False) for line in lines])


class tqdm:
    """A progress bar (a subset of tqdm's API, as Ray's): iterate over it, or
    call update(n); close() when done. `position` orders the bars of one
    process; bars of different processes are grouped by process."""

    DEFAULT_FLUSH_INTERVAL_SECONDS = 1.0

    def __init__(self, iterable=None, desc=None, total=None, unit=None, position=None, flush_interval_s=None):
        if total is None and iterable is not None:
            try:
                total = len(iterable)
            except (TypeError, AttributeError):
                total = None
        if total is not None and (not isinstance(total, (int, float)) or total < 0):
            raise ValueError("tqdm total must be a number >= 0 or None, got %r" % (total,))
        self._iterable = iterable
        self._desc = "" if desc is None else str(desc)
        self._total = total
        self._unit = unit or "it"
        self._pos = position or 0
        self._uuid = uuid.uuid4().hex
        self._x = 0
        self._closed = False
        self._t0 = time.time()
        self._flush_interval_s = self.DEFAULT_FLUSH_INTERVAL_SECONDS if flush_interval_s is None \
            else float(flush_interval_s)
        self._last_flush = 0.0
        self._lock = threading.Lock()
        self._dump(force=True)

    # Ray's API ------------------------------------------------------------
    def set_description(self, desc):
        self._desc = "" if desc is None else str(desc)
        self._dump()

    def update(self, n=1):
        self._x += n
        self._dump()

    def close(self):
        if not self._closed:
            self._closed = True
            self._dump(force=True)

    def refresh(self):
        self._dump(force=True)

    @property
    def total(self):
        return self._total

    @total.setter
    def total(self, total):
        self._total = total

    @property
    def n(self):
        return self._x

    @n.setter
    def n(self, n):
        self._x = n

    def __iter__(self):
        if self._iterable is None:
            raise ValueError("this tqdm has no iterable: pass one (tqdm(iterable=...)) or call update()")
        for x in self._iterable:
            yield x
            self.update(1)
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # the channel --------------------------------------------------------
    def _state(self):
        from lumos._private import worker
        ws = worker.global_state()
        ip = ws.node_ip or (getattr(ws, "node_info", None) or {}).get("NodeManagerAddress")
        return {"uuid": self._uuid, "pid": os.getpid(), "ip": ip,
                "desc": self._desc, "total": self._total, "x": self._x, "unit": self._unit, "pos": self._pos,
                "closed": self._closed, "t0": self._t0}

    def _dump(self, force=False):
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_flush < self._flush_interval_s:
                return
            self._last_flush = now
        from lumos._private import worker
        state = worker.global_state()
        if state.mode == worker.WORKER_MODE and state.core_worker is not None:
            state.core_worker.forward_logs([progress_display.MARKER + json.dumps(self._state())], False)
        else:
            progress_display.instance().update(self._state())
