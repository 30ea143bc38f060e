"""Answers computed off the request path: a request reads the last
snapshot of a view and never waits for the GCS walk behind it, unless the
view was never computed.

A view is recomputed (on a thread of its own) when a reader finds it older
than its period, where the period grows with what it costs:
max(ttl, min(COST_FACTOR x the last computation's time, MAX_PERIOD_S)). A
view that takes 100 ms over 100,000 task attempts is then redone at most
every 5 s however many pages poll it, so watching the dashboard costs the
GCS about 1/COST_FACTOR of a core; no snapshot a reader gets is older than
MAX_PERIOD_S plus one computation; a view nobody reads is never recomputed.

A page polls a view more often than the view changes: encoded() keeps the
JSON of the last snapshot served under a key, so polls between two
refreshes cost no re-encoding (the 400 kB task stream took ~5 ms a poll).

Thread safety: get() may be called from any thread.
"""
import sys
import threading
import time
import traceback

COST_FACTOR = 50.0
MAX_PERIOD_S = 10.0
MAX_ENCODED = 256  # encodings kept (one per polled URL); more and all are dropped


class Snapshots:
    """Views by key: (time computed, value, seconds it cost)."""

    def __init__(self, cost_factor=COST_FACTOR):
        self.cost_factor = cost_factor
        self._lock = threading.Lock()
        self._views = {}       # key -> (monotonic time, value, cost s)
        self._refreshing = set()
        self._gates = {}       # key -> Lock: one first computation at a time
        self._encoded = {}     # key -> (the snapshot objects encoded, their JSON bytes)

    def get(self, key, fn, ttl):
        """fn()'s last value; a stale one starts a recomputation and is returned meanwhile."""
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                period = max(ttl, min(self.cost_factor * view[2], MAX_PERIOD_S))
                if time.monotonic() - view[0] >= period and key not in self._refreshing:
                    self._refreshing.add(key)
                    threading.Thread(target=self._refresh, args=(key, fn), name="view-refresh", daemon=True).start()
                return view[1]
            gate = self._gates.setdefault(key, threading.Lock())
        with gate:  # the first computation: readers wait for it once
            with self._lock:
                view = self._views.get(key)
            if view is not None:
                return view[1]
            return self._compute(key, fn)

    def encoded(self, key, parts, encode):
        """encode(*parts), reused while `parts` are the same snapshot objects
        (identity: a refresh makes new ones; the entry keeps them alive)."""
        with self._lock:
            hit = self._encoded.get(key)
        if hit is not None and len(hit[0]) == len(parts) and all(a is b for a, b in zip(hit[0], parts)):
            return hit[1]
        data = encode(*parts)
        with self._lock:
            if len(self._encoded) >= MAX_ENCODED and key not in self._encoded:
                self._encoded.clear()  # many distinct URLs (searches): start over
            self._encoded[key] = (tuple(parts), data)
        return data

    def fresh(self, key, fn):
        """fn()'s value now (and the view updated): for callers that need the latest."""
        return self._compute(key, fn)

    def _compute(self, key, fn):
        start = time.monotonic()
        value = fn()
        with self._lock:
            self._views[key] = (time.monotonic(), value, time.monotonic() - start)
        return value

    def _refresh(self, key, fn):
        try:
            self._compute(key, fn)
        except Exception:  # noqa: BLE001 - the old snapshot stays; the next reader retries
            print("lumos dashboard: refreshing %r failed:\n%s" % (key, traceback.format_exc(limit=3)),
                  file=sys.stderr, flush=True)
        finally:
            with self._lock:
                self._refreshing.discard(key)
