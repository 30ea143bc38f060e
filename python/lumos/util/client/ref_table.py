"""The per-client driver's table of what its client holds stand-ins for.

Contract: key (bytes) -> [real object, count]. A key made by the client (a
put, a task's returns, an actor it creates) starts at count 1; a real object
the driver sends back (in a result) gets a key, or its existing one, and
count += 1 per sending. The client reports how many times it received a key
by releasing it once per stand-in that dies; at 0 the entry goes, and with it the
driver's reference (the object can be freed, the actor can end). Thread-safe
(the event loop and the blocking-call threads both use it).
"""
import itertools
import os
import threading


class UnknownKey(LookupError):
    pass


class RefTable:
    def __init__(self):
        self._lock = threading.Lock()
        self._objs = {}     # key -> [obj, count]
        self._rev = {}      # real ObjectRef / ActorHandle -> key
        self._prefix = b"S" + os.urandom(11)   # driver-made keys (client keys start with b"C")
        self._next = itertools.count(1)

    def add(self, key, obj, reverse=True):
        with self._lock:
            self._objs[key] = [obj, 1]
            if reverse:
                self._rev.setdefault(obj, key)

    def export(self, obj):
        """The key the client will know `obj` by (counted once more)."""
        with self._lock:
            key = self._rev.get(obj)
            if key is not None:
                self._objs[key][1] += 1
                return key
            key = self._prefix + next(self._next).to_bytes(8, "little")
            self._objs[key] = [obj, 1]
            self._rev[obj] = key
            return key

    def get(self, key):
        try:
            return self._objs[key][0]
        except KeyError:
            raise UnknownKey(key) from None

    def release(self, keys):
        """One count off each key (a key listed twice loses two)."""
        with self._lock:
            for key in keys:
                entry = self._objs.get(key)
                if entry is None:
                    continue
                entry[1] -= 1
                if entry[1] <= 0:
                    del self._objs[key]
                    obj = entry[0]
                    try:
                        if self._rev.get(obj) == key:
                            del self._rev[obj]
                    except TypeError:   # unhashable (not reverse-mapped)
                        pass

    def clear(self):
        with self._lock:
            self._objs.clear()
            self._rev.clear()

    def __len__(self):
        return len(self._objs)
