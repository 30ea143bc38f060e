"""multiprocessing.Pool's API on lumos actors (Ray's ray.util.multiprocessing.Pool).

A Pool starts `processes` actors (default: the cluster's CPUs; each holds
one CPU unless ray_remote_args say otherwise); each runs `initializer(*initargs)`
once when it starts. Work is cut into chunks (the stdlib's chunksize rules)
and each chunk is one actor call; chunks go to the actor with the fewest
calls in flight. The function is put in the object store once per map, not
once per chunk. Results and errors follow the stdlib: map/starmap/apply
block and return values (in input order), the *_async forms return an
AsyncResult, imap yields in order as results arrive, imap_unordered as they
finish; an exception in `func` is raised to the caller (an instance of the
original type). close() refuses new work, join() waits for the work given
and ends the actors, terminate() ends them at once; `with Pool() as p:`
terminates on exit, like the stdlib.

Not built: maxtasksperchild (a clear ValueError). `context` is accepted and
unused (lumos workers are separate processes already).
"""
import itertools
import threading
from multiprocessing import TimeoutError as MpTimeoutError

from lumos._private import worker as _worker
from lumos.actor import kill as _kill
from lumos.actor import make_actor as _make_actor


class _PoolActor:
    """One pool process: runs chunks of calls."""

    def __init__(self, initializer=None, initargs=None):
        if initializer is not None:
            initializer(*(initargs or ()))

    def ping(self):
        return True

    def run_chunk(self, func, chunk, star):
        if star:
            return [func(*args) for args in chunk]
        return [func(arg) for arg in chunk]

    def run_one(self, func, args, kwds):
        return func(*args, **kwds)


def _check_timeout(timeout):
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
        raise ValueError("timeout must be a non-negative number or None, got %r" % (timeout,))


class AsyncResult:
    """The result of apply_async/map_async/starmap_async: get(timeout),
    wait(timeout), ready(), successful(). `callback(result)` or
    `error_callback(exception)` runs once, in a helper thread, when the
    work is done."""

    def __init__(self, refs, assemble, callback=None, error_callback=None):
        self._refs = refs
        self._assemble = assemble     # list of chunk values -> the result
        self._lock = threading.Lock()
        self._outcome = None          # (ok, value or exception) once known
        if callback is not None or error_callback is not None:
            def notify():
                ok, value = self._settle(None)
                target = callback if ok else error_callback
                if target is not None:
                    target(value)
            threading.Thread(target=notify, name="lumos-pool-callback", daemon=True).start()

    def _settle(self, timeout):
        """(ok, value) once every chunk is done; None when `timeout` passed first."""
        with self._lock:
            if self._outcome is not None:
                return self._outcome
        if self._refs:
            ready, _ = _worker.wait(self._refs, num_returns=len(self._refs), timeout=timeout)
            if len(ready) < len(self._refs):
                return None
        try:
            outcome = True, self._assemble(_worker.get(self._refs))
        except Exception as e:
            outcome = False, e
        with self._lock:
            if self._outcome is None:
                self._outcome = outcome
            return self._outcome

    def get(self, timeout=None):
        """The result; raises the task's exception, or multiprocessing's
        TimeoutError after `timeout` seconds."""
        _check_timeout(timeout)
        outcome = self._settle(timeout)
        if outcome is None:
            raise MpTimeoutError("the result was not ready within %r s" % (timeout,))
        ok, value = outcome
        if not ok:
            raise value
        return value

    def wait(self, timeout=None):
        """Waits until the result is ready or `timeout` seconds pass."""
        _check_timeout(timeout)
        self._settle(timeout)

    def ready(self):
        return self._settle(0) is not None

    def successful(self):
        """Whether the work finished without raising (ValueError while not ready)."""
        outcome = self._settle(0)
        if outcome is None:
            raise ValueError("%r not ready" % (self,))
        return outcome[0]


class IMapIterator:
    """What imap/imap_unordered return: an iterator over results, with
    next(timeout) raising multiprocessing's TimeoutError."""

    def __init__(self, refs, ordered):
        self._pending = list(refs)   # chunk refs not read yet
        self._ordered = ordered
        self._buffer = []            # values of the chunk being read

    def __iter__(self):
        return self

    def __next__(self):
        return self.next()

    def next(self, timeout=None):
        _check_timeout(timeout)
        if self._buffer:
            return self._buffer.pop(0)
        if not self._pending:
            raise StopIteration
        if self._ordered:
            ref = self._pending[0]
            ready, _ = _worker.wait([ref], timeout=timeout)
        else:
            ready, _ = _worker.wait(self._pending, num_returns=1, timeout=timeout)
        if not ready:
            raise MpTimeoutError("no result arrived within %r s" % (timeout,))
        self._pending.remove(ready[0])
        self._buffer = list(_worker.get(ready[0]))
        return self.next(timeout)


def _chunks(items, chunksize):
    it = iter(items)
    while True:
        chunk = list(itertools.islice(it, chunksize))
        if not chunk:
            return
        yield chunk


class Pool:
    """A pool of `processes` actors with multiprocessing.Pool's methods."""

    def __init__(self, processes=None, initializer=None, initargs=None, maxtasksperchild=None, context=None,
                 ray_address=None, ray_remote_args=None):
        if maxtasksperchild is not None:
            raise ValueError("Pool(maxtasksperchild=...) is not built in lumos: pool actors live until the pool "
                             "ends; leave it None")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable, got %r" % (initializer,))
        if ray_address is not None and not _worker.is_initialized():
            _worker.init(address=ray_address)
        _worker.core_worker()  # like Ray: the first use starts a local cluster
        if processes is None:
            processes = max(1, int(_worker.cluster_resources().get("CPU", 1)))
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise ValueError("Number of processes must be at least 1, got %r" % (processes,))
        options = {"num_cpus": 1}
        options.update(ray_remote_args or {})
        actor_class = _make_actor(_PoolActor, {}).options(**options)
        self._actors = [actor_class.remote(initializer, tuple(initargs or ())) for _ in range(processes)]
        self._in_flight = [[] for _ in self._actors]   # per actor: refs of calls not known done
        self._state = "RUN"
        self._processes = processes

    # ------------------------------------------------------------ plumbing

    def _check_running(self):
        if self._state != "RUN":
            raise ValueError("Pool not running")

    def _least_busy(self):
        """Index of the actor with the fewest calls in flight (done ones are dropped)."""
        for i, refs in enumerate(self._in_flight):
            if refs:
                _, self._in_flight[i] = _worker.wait(refs, num_returns=len(refs), timeout=0)
        return min(range(len(self._actors)), key=lambda i: len(self._in_flight[i]))

    def _submit(self, method, *args):
        i = self._least_busy()
        ref = getattr(self._actors[i], method).remote(*args)
        self._in_flight[i].append(ref)
        return ref

    def _chunksize(self, items, chunksize):
        if chunksize is None:
            chunksize, extra = divmod(len(items), self._processes * 4)
            if extra:
                chunksize += 1
        if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise ValueError("chunksize must be an int >= 1, got %r" % (chunksize,))
        return chunksize

    def _map_refs(self, func, iterable, chunksize, star):
        self._check_running()
        if not callable(func):
            raise TypeError("func must be callable, got %r" % (func,))
        items = list(iterable)
        size = self._chunksize(items, chunksize) if items else 1
        func_ref = _worker.put(func)   # shipped once, not once per chunk
        return [self._submit("run_chunk", func_ref, chunk, star) for chunk in _chunks(items, size)]

    # ------------------------------------------------------------ the stdlib's API

    def apply(self, func, args=(), kwds=None):
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None):
        self._check_running()
        ref = self._submit("run_one", func, tuple(args), dict(kwds or {}))
        return AsyncResult([ref], lambda values: values[0], callback, error_callback)

    def map(self, func, iterable, chunksize=None):
        return self.map_async(func, iterable, chunksize).get()

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        refs = self._map_refs(func, iterable, chunksize, False)
        return AsyncResult(refs, _concat, callback, error_callback)

    def starmap(self, func, iterable, chunksize=None):
        return self.starmap_async(func, iterable, chunksize).get()

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        refs = self._map_refs(func, [tuple(a) for a in iterable], chunksize, True)
        return AsyncResult(refs, _concat, callback, error_callback)

    def imap(self, func, iterable, chunksize=1):
        """Results in input order, each as soon as it (and those before it) arrived."""
        return IMapIterator(self._map_refs(func, iterable, chunksize, False), ordered=True)

    def imap_unordered(self, func, iterable, chunksize=1):
        """Results in the order they finish."""
        return IMapIterator(self._map_refs(func, iterable, chunksize, False), ordered=False)

    def close(self):
        """No more work may be submitted; what was submitted still runs."""
        if self._state == "RUN":
            self._state = "CLOSE"

    def terminate(self):
        """Ends the actors now; unfinished work is lost."""
        self._state = "TERMINATE"
        actors, self._actors = self._actors, []
        self._in_flight = []
        for a in actors:
            try:
                _kill(a, no_restart=True)
            except Exception:  # the cluster may be gone already
                pass

    def join(self):
        """Waits for the submitted work, then ends the actors (after close())."""
        if self._state == "RUN":
            raise ValueError("Pool is still running; call close() or terminate() first")
        pending = [r for refs in self._in_flight for r in refs]
        if pending:
            _worker.wait(pending, num_returns=len(pending))
        self.terminate()

    def __enter__(self):
        self._check_running()
        return self

    def __exit__(self, *exc):
        self.terminate()

    def __repr__(self):
        return "<lumos.util.multiprocessing.Pool state=%s processes=%d>" % (self._state, self._processes)


def _concat(chunk_values):
    out = []
    for values in chunk_values:
        out.extend(values)
    return out
