"""Where the calls of an actor run inside its worker: the default group and
the named concurrency groups (`@lumos.remote(concurrency_groups={"io": 2})`).

A plain actor (max_concurrency 1, no groups) runs calls on the worker's main
thread, in order: the executor needs nothing from here. Otherwise:

- threaded actor: each group, the default one included, is a pool of as many
  threads as its limit taking calls from one FIFO queue (a group of 1 runs its
  calls in the order they arrived). With named groups the default group gets a
  pool even at max_concurrency 1, since a call on the main thread would stop
  the worker from handing out the calls of the other groups meanwhile.
- async actor: each group is an asyncio loop in a thread of its own with a
  semaphore of its limit (as Ray does), so a method that blocks its loop holds
  up only its own group. Calls start in the order they arrived.

The default group's limit is max_concurrency. The caller has checked every
group name against the actor's groups (lumos._private.options); a name not
here is a KeyError from group(), and the executor answers the call with an
error naming the groups.
"""
import asyncio
import queue
import threading


class CallPool:
    """`n` threads taking calls from one queue (cheaper per call than
    concurrent.futures: no Future objects, one C-level queue).

    With `serve` (the default group of an actor without named groups), each
    thread runs serve() instead: the core worker hands the calls to these
    threads itself (CoreWorker::ServeDirectCalls), and a call reaches submit()
    already on the thread that runs it, so submit() runs it there."""

    def __init__(self, n, name="lumos-actor", serve=None):
        self._q = None if serve else queue.SimpleQueue()
        for i in range(n):
            threading.Thread(target=serve or self._run, name="%s-%d" % (name, i), daemon=True).start()

    def _run(self):
        while True:
            fn, args = self._q.get()
            fn(*args)

    def submit(self, fn, *args):
        if self._q is None:
            fn(*args)
        else:
            self._q.put((fn, args))


class AsyncGroup:
    """An asyncio loop running forever in its own thread, and the semaphore
    bounding the calls that run on it at once."""

    def __init__(self, limit, name="lumos-actor-asyncio"):
        self.loop = asyncio.new_event_loop()
        self.semaphore = None
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.semaphore = asyncio.Semaphore(limit)   # made on (and bound to) its loop
            ready.set()
            self.loop.run_forever()
        threading.Thread(target=run, name=name, daemon=True).start()
        ready.wait()


class ConcurrencyGroups:
    """The executors of one actor: `default` (a CallPool, an AsyncGroup, or
    None for the main thread) and one per named group."""

    def __init__(self, is_asyncio, max_concurrency, groups=None, serve_direct=None):
        """serve_direct: the core worker's blocking ServeDirectCalls, for the
        default pool of a threaded actor without named groups (see CallPool)."""
        groups = groups or {}
        self.is_asyncio = is_asyncio
        if is_asyncio:
            self.default = AsyncGroup(max_concurrency)
            self.named = {g: AsyncGroup(n, "lumos-actor-asyncio-%s" % g) for g, n in groups.items()}
        else:
            serve = serve_direct if not groups else None
            self.default = CallPool(max_concurrency, serve=serve) if max_concurrency > 1 or groups else None
            self.named = {g: CallPool(n, "lumos-actor-%s" % g) for g, n in groups.items()}

    def takes_direct_calls(self):
        """Whether the core worker may hand this actor's calls to the threads
        that run them (CoreWorker::EnableDirectCalls): an async actor's
        default loop, or a threaded actor's default pool, and only without
        named groups (one group must not wait behind another's busy thread)."""
        if self.named:
            return False
        return self.is_asyncio or self.default is not None

    def group(self, name):
        """The executor of group `name` ("" or None: the default group, None
        when that is the main thread); KeyError for a name the actor lacks."""
        if not name:
            return self.default
        return self.named[name]

    def names(self):
        return sorted(self.named)
