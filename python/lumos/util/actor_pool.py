"""ActorPool (Ray's ray.util.ActorPool): runs work on a fixed set of actors,
one call per idle actor at a time; work submitted while every actor is busy
waits in the pool (in the caller, not on the cluster) until one is free.

    pool = ActorPool([Worker.remote(), Worker.remote()])
    list(pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4]))  # [2, 4, 6, 8]

`fn(actor, value)` must return an ObjectRef (or a list of them, for a
method with num_returns > 1). Results come back in submission order
(get_next / map) or as they finish (get_next_unordered / map_unordered);
mixing the two is refused once an unordered read skipped ahead.
Not thread safe: use one pool from one thread, like Ray's.
"""
from lumos._private import worker as _worker


class ActorPool:
    def __init__(self, actors):
        self._idle = list(actors)
        self._busy = {}         # key of a submission's refs -> (submission index, actor)
        self._by_index = {}     # submission index -> its ref (or list of refs)
        self._next_index = 0    # index the next submission gets
        self._next_return = 0   # index get_next() returns next
        self._waiting = []      # (fn, value) submitted while no actor was idle

    # ------------------------------------------------------------ submitting

    def submit(self, fn, value):
        """Runs fn(actor, value) on an idle actor now, or queues it (in this
        process) until get_next*/push gives an actor back."""
        if not self._idle:
            self._waiting.append((fn, value))
            return
        actor = self._idle.pop()
        refs = fn(actor, value)
        self._busy[_key(refs)] = (self._next_index, actor)
        self._by_index[self._next_index] = refs
        self._next_index += 1

    def map(self, fn, values):
        """Results of fn(actor, v) for every v, in the order of `values`.
        Results of earlier submissions not read yet are dropped first."""
        self._drop_unread()
        for v in values:
            self.submit(fn, v)

        def results():
            while self.has_next():
                yield self.get_next()
        return results()

    def map_unordered(self, fn, values):
        """Like map, but yields each result as soon as it is ready."""
        self._drop_unread()
        for v in values:
            self.submit(fn, v)

        def results():
            while self.has_next():
                yield self.get_next_unordered()
        return results()

    # ------------------------------------------------------------ reading

    def has_next(self):
        """True while a submitted call has a result not read yet."""
        return bool(self._busy)

    def get_next(self, timeout=None, ignore_if_timedout=False):
        """The result of the oldest unread submission (raises its error).
        After `timeout` seconds: TimeoutError; with ignore_if_timedout=True
        the submission is also dropped (its actor goes back to the pool)."""
        if not self.has_next():
            raise StopIteration("No more results to get")
        if self._next_return >= self._next_index or self._next_return not in self._by_index:
            raise ValueError("It is not allowed to call get_next() after get_next_unordered().")
        refs = self._by_index[self._next_return]
        timed_out = timeout is not None and not _ready([refs], timeout)
        if timed_out and not ignore_if_timedout:
            raise TimeoutError("Timed out waiting for result")
        del self._by_index[self._next_return]
        self._next_return += 1
        _, actor = self._busy.pop(_key(refs))
        self._give_back(actor)
        if timed_out:
            raise TimeoutError("Timed out waiting for result. The task %s has been ignored." % (refs,))
        return _worker.get(refs)

    def get_next_unordered(self, timeout=None, ignore_if_timedout=False):
        """The result of any finished submission (the first to finish).
        After `timeout` seconds: TimeoutError; with ignore_if_timedout=True
        the oldest unread submission is dropped."""
        if not self.has_next():
            raise StopIteration("No more results to get")
        pending = [self._by_index[i] for i, _ in sorted(self._busy.values(), key=lambda e: e[0])]
        done = _first_ready(pending, timeout)
        ignored = done is None
        if ignored:
            if not ignore_if_timedout:
                raise TimeoutError("Timed out waiting for result")
            done = pending[0]
        index, actor = self._busy.pop(_key(done))
        del self._by_index[index]
        self._next_return = max(self._next_return, index + 1)
        self._give_back(actor)
        if ignored:
            raise TimeoutError("Timed out waiting for result. The task %s has been ignored." % (done,))
        return _worker.get(done)

    # ------------------------------------------------------------ actors

    def has_free(self):
        """True when an actor is idle and no submission waits for one."""
        return bool(self._idle) and not self._waiting

    def pop_idle(self):
        """Removes and returns an idle actor (None when there is none)."""
        return self._idle.pop() if self.has_free() else None

    def push(self, actor):
        """Adds `actor` to the pool (it takes a waiting submission at once)."""
        if actor in self._idle or any(a == actor for _, a in self._busy.values()):
            raise ValueError("Actor already belongs to current ActorPool")
        self._give_back(actor)

    def _give_back(self, actor):
        self._idle.append(actor)
        if self._waiting:
            self.submit(*self._waiting.pop(0))

    def _drop_unread(self):
        while self.has_next():
            try:
                self.get_next(timeout=0, ignore_if_timedout=True)
            except TimeoutError:
                pass


def _key(refs):
    return tuple(refs) if isinstance(refs, list) else refs


def _flat(refs):
    return list(refs) if isinstance(refs, list) else [refs]


def _ready(submissions, timeout):
    """True when every ref of `submissions` is ready within `timeout` s."""
    refs = [r for s in submissions for r in _flat(s)]
    if not refs:
        return True
    ready, _ = _worker.wait(refs, num_returns=len(refs), timeout=timeout)
    return len(ready) == len(refs)


def _first_ready(submissions, timeout):
    """A finished submission (its last return is ready; the others of the
    same call are stored with it), waiting up to `timeout` s (None:
    forever); None on timeout."""
    heads = {}
    for s in submissions:
        heads[_flat(s)[-1]] = s
    heads_list = list(heads)
    ready, _ = _worker.wait(heads_list, num_returns=1, timeout=timeout)
    if not ready:
        return None
    return heads[ready[0]]
