"""A FIFO queue shared by tasks and actors (Ray's ray.util.queue.Queue).

The items live in one async actor (an asyncio.Queue), so any process holding
the Queue object (it pickles as its actor handle) puts and gets. Blocking
put/get with a timeout wait inside the actor, so a blocked caller costs no
polling; put_async/get_async are the awaitable forms for asyncio code.
Errors are the stdlib's: Empty (also a queue.Empty) and Full (queue.Full).

    q = Queue(maxsize=10)
    q.put(1); q.get()                      # 1
    q.get(timeout=0.1)                     # raises Empty

As in Ray, an item that is an ObjectRef is passed to the actor as a task
argument, so the queue stores its value. shutdown() ends the actor; a Queue
used after shutdown raises RuntimeError.
"""
import asyncio
import queue as _stdlib_queue

from lumos._private import worker as _worker
from lumos.actor import kill as _kill
from lumos.actor import make_actor as _make_actor


class Empty(_stdlib_queue.Empty):
    pass


class Full(_stdlib_queue.Full):
    pass


class _QueueActor:
    """The actor holding the items. Calls answer (ok, value) instead of
    raising, so a full or empty queue costs no exception object."""

    def __init__(self, maxsize):
        self.maxsize = maxsize
        self.queue = asyncio.Queue(maxsize)

    def qsize(self):
        return self.queue.qsize()

    def empty(self):
        return self.queue.empty()

    def full(self):
        return self.queue.full()

    async def put(self, item, timeout=None):
        try:
            await asyncio.wait_for(self.queue.put(item), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def put_batch(self, items, timeout=None):
        for item in items:
            if not await self.put(item, timeout):
                return False
        return True

    async def get(self, timeout=None):
        try:
            return True, await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return False, None

    def put_nowait(self, item):
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            return False

    def put_nowait_batch(self, items):
        if self.maxsize > 0 and len(items) + self.qsize() > self.maxsize:
            return False
        for item in items:
            self.queue.put_nowait(item)
        return True

    def get_nowait(self):
        try:
            return True, self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return False, None

    def get_nowait_batch(self, num_items):
        if num_items > self.qsize():
            return False, None
        return True, [self.queue.get_nowait() for _ in range(num_items)]


def _check_timeout(timeout):
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
        raise ValueError("'timeout' must be a non-negative number, got %r" % (timeout,))


class Queue:
    """A first-in first-out queue backed by an actor. maxsize <= 0: no bound.
    actor_options: options for the actor, e.g. {"num_cpus": 0, "name": ...}."""

    def __init__(self, maxsize=0, actor_options=None):
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError("maxsize must be an int, got %r" % (maxsize,))
        self.maxsize = maxsize
        self.actor = _make_actor(_QueueActor, {}).options(**(actor_options or {})).remote(maxsize)

    def _handle(self):
        if self.actor is None:
            raise RuntimeError("this Queue was shut down (Queue.shutdown()); create a new one")
        return self.actor

    def __len__(self):
        return self.size()

    def size(self):
        """The number of items in the queue."""
        return _worker.get(self._handle().qsize.remote())

    def qsize(self):
        return self.size()

    def empty(self):
        return _worker.get(self._handle().empty.remote())

    def full(self):
        return _worker.get(self._handle().full.remote())

    def put(self, item, block=True, timeout=None):
        """Adds `item`. block=False: Full at once when there is no room;
        otherwise waits for room, up to `timeout` seconds (None: forever),
        then raises Full."""
        if not block:
            return self.put_nowait(item)
        _check_timeout(timeout)
        if not _worker.get(self._handle().put.remote(item, timeout)):
            raise Full
        return None

    async def put_async(self, item, block=True, timeout=None):
        """put() for asyncio code: awaits room instead of blocking the loop."""
        if not block:
            if not await self._handle().put_nowait.remote(item):
                raise Full
            return None
        _check_timeout(timeout)
        if not await self._handle().put.remote(item, timeout):
            raise Full
        return None

    def get(self, block=True, timeout=None):
        """Removes and returns the oldest item. block=False: Empty at once
        when there is none; otherwise waits up to `timeout` seconds (None:
        forever), then raises Empty."""
        if not block:
            return self.get_nowait()
        _check_timeout(timeout)
        ok, item = _worker.get(self._handle().get.remote(timeout))
        if not ok:
            raise Empty
        return item

    async def get_async(self, block=True, timeout=None):
        """get() for asyncio code."""
        if not block:
            ok, item = await self._handle().get_nowait.remote()
        else:
            _check_timeout(timeout)
            ok, item = await self._handle().get.remote(timeout)
        if not ok:
            raise Empty
        return item

    def put_nowait(self, item):
        if not _worker.get(self._handle().put_nowait.remote(item)):
            raise Full
        return None

    def put_nowait_batch(self, items):
        """Adds all of `items` or none of them (Full when they do not all fit)."""
        if not isinstance(items, (list, tuple)):
            raise TypeError("put_nowait_batch() needs a list of items, got %r" % (type(items).__name__,))
        if not _worker.get(self._handle().put_nowait_batch.remote(list(items))):
            raise Full("Cannot add %d items to a queue of maxsize %d that holds %d" % (
                len(items), self.maxsize, self.size()))
        return None

    def get_nowait(self):
        ok, item = _worker.get(self._handle().get_nowait.remote())
        if not ok:
            raise Empty
        return item

    def get_nowait_batch(self, num_items):
        """The `num_items` oldest items, or Empty (and nothing removed) when
        the queue holds fewer."""
        if isinstance(num_items, bool) or not isinstance(num_items, int) or num_items < 0:
            raise ValueError("num_items must be a non-negative int, got %r" % (num_items,))
        ok, items = _worker.get(self._handle().get_nowait_batch.remote(num_items))
        if not ok:
            raise Empty("Cannot get %d items from a queue that holds %d" % (num_items, self.size()))
        return items

    def shutdown(self, force=False, grace_period_s=5):
        """Ends the queue's actor (its items are lost). Without force, it
        first waits up to `grace_period_s` seconds for the actor to answer a
        call sent after every earlier one (so those have been taken up; a
        get still blocked in the actor then fails with ActorDiedError)."""
        actor, self.actor = self.actor, None
        if actor is None:
            return
        if not force:
            _worker.wait([actor.qsize.remote()], timeout=grace_period_s)
        _kill(actor, no_restart=True)
