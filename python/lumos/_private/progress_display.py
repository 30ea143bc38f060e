"""The driver's progress display: draws the bars of lumos.experimental.
tqdm_ray (made in the driver or inside tasks and actors anywhere in the
cluster) in one place, so bars never write over each other or over output.

How updates arrive: a bar inside a task sends its state as one line
MARKER + JSON through the worker-log forwarding path (FORWARD_LOGS up to the
driver), never through the worker's stdout. The driver's core worker
(DriverLogRelay) queues such lines instead of printing them; the thread
started by attach() takes them and redraws. A bar in the driver itself calls
update() directly.

Drawing: on a terminal the open bars form a block at the bottom, redrawn in
place (at most every 50 ms); while the block is shown, forwarded print
output is captured too and written above it, and a closed bar's last line
stays above. Without a terminal (pipes, files, CI) nothing is redrawn: each
bar prints one line when it closes, and open bars print their line at most
every 10 s, so logs stay readable.
"""
import json
import os
import sys
import threading
import time

MARKER = "\x1elumos-progress:"  # DriverLogRelay::kProgressMarker
_REDRAW_S = 0.05
_PLAIN_EVERY_S = 10.0


def format_bar(state, now, width=25):
    """One tqdm-like line for a bar state dict."""
    n, total, unit = state.get("x", 0), state.get("total"), state.get("unit") or "it"
    desc = state.get("desc") or ""
    elapsed = max(now - state.get("start", now), 0.0)
    rate = n / elapsed if elapsed > 0 else 0.0
    prefix = (desc + ": ") if desc else ""
    if total:
        frac = min(max(n / total, 0.0), 1.0)
        filled = int(frac * width)
        bar = "#" * filled + ("" if filled == width else " " * (width - filled))
        left = (total - n) / rate if rate > 0 else None
        return "%s%3d%%|%s| %d/%d [%s<%s, %.2f%s/s]" % (
            prefix, int(frac * 100), bar, n, total, _clock(elapsed), _clock(left) if left is not None else "?",
            rate, unit)
    return "%s%d%s [%s, %.2f%s/s]" % (prefix, n, unit, _clock(elapsed), rate, unit)


def _clock(s):
    s = int(s)
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) if s >= 3600 else "%02d:%02d" % (s // 60, s % 60)


class Display:
    """The bars of one driver, by (ip, pid, uuid); thread safe."""

    def __init__(self, out=None):
        self._out = out
        self._lock = threading.RLock()
        self._bars = {}       # key -> state (with "start", "seen", "order", "group")
        self._groups = {}     # (ip, pid) -> order of first appearance
        self._drawn = 0       # lines of the block now on screen
        self._last_draw = 0.0
        self._pending_draw = False
        self._cw = None
        self._my_ip = None
        self._next = 0
        self._saved_print = None  # builtins.print while ours is installed

    @property
    def out(self):
        return self._out or sys.stdout

    def _tty(self):
        try:
            return self.out.isatty()
        except Exception:
            return False

    # -------------------------------------------------------------- input
    def update(self, state):
        """Applies one bar state (see tqdm_ray.tqdm._state)."""
        now = time.time()
        with self._lock:
            key = (state.get("ip"), state.get("pid"), state.get("uuid"))
            group = (state.get("ip"), state.get("pid"))
            if group not in self._groups:
                self._groups[group] = len(self._groups)
            old = self._bars.get(key)
            if old is None:
                if state.get("closed"):
                    self._bars[key] = dict(state, start=state.get("t0", now), order=self._next, printed=0.0)
                    self._next += 1
                    self._close(key, now)
                    return
                old = self._bars[key] = {"start": state.get("t0", now), "order": self._next, "printed": now}
                self._next += 1
            old.update(state)
            if state.get("closed"):
                self._close(key, now)
            elif self._tty():
                self._redraw(now)
            elif now - old["printed"] >= _PLAIN_EVERY_S:
                old["printed"] = now
                self._write(self._label(old) + format_bar(old, now) + "\n")

    def write_lines(self, lines):
        """Writes forwarded (line, is_err) pairs above the bars."""
        with self._lock:
            self._clear()
            for text, is_err in lines:
                stream = sys.stderr if is_err else self.out
                try:
                    stream.write(text + "\n")
                    stream.flush()
                except Exception:
                    pass
            self._redraw(time.time(), force=True)

    # ------------------------------------------------------------ drawing
    def _label(self, state):
        if state.get("pid") == os.getpid() and (self._my_ip is None or state.get("ip") == self._my_ip):
            return ""
        if state.get("ip") and state.get("ip") != self._my_ip and not str(state.get("ip")).startswith("127."):
            return "(pid=%s, ip=%s) " % (state.get("pid"), state.get("ip"))
        return "(pid=%s) " % state.get("pid")

    def _close(self, key, now):
        state = self._bars.pop(key)
        self._clear()
        self._write(self._label(state) + format_bar(state, now) + "\n")
        self._redraw(now, force=True)

    def _ordered(self):
        return sorted(self._bars.values(), key=lambda s: (
            self._groups.get((s.get("ip"), s.get("pid")), 0), s.get("pos") or 0, s["order"]))

    def _clear(self):
        if self._drawn:
            # Up to the block's first line, then erase to the end of the screen.
            self._write("\x1b[%dF\x1b[J" % self._drawn)
            self._drawn = 0

    def _redraw(self, now, force=False):
        if not self._tty():
            self._set_capture(False)
            return
        if not force and now - self._last_draw < _REDRAW_S:
            return
        self._last_draw = now
        self._clear()
        bars = self._ordered()
        text = "".join(self._label(s) + format_bar(s, now) + "\n" for s in bars)
        if text:
            self._write(text)
        self._drawn = len(bars)
        self._set_capture(bool(bars))
        self._patch_print(bool(bars))

    def _patch_print(self, on):
        """While bars are on screen the driver's own print() goes above them
        (as Ray's tqdm_ray does; LUMOS_TQDM_PATCH_PRINT=0 turns it off)."""
        if on == (self._saved_print is not None) or os.environ.get("LUMOS_TQDM_PATCH_PRINT", "1") == "0":
            return
        import builtins
        if on:
            self._saved_print = original = builtins.print
            display = self

            def print_above_bars(*args, **kwargs):
                if kwargs.get("file") not in (None, sys.stdout, sys.stderr):
                    return original(*args, **kwargs)
                with display._lock:
                    display._clear()
                    try:
                        original(*args, **kwargs)
                    finally:
                        display._redraw(time.time(), force=True)

            builtins.print = print_above_bars
        else:
            builtins.print, self._saved_print = self._saved_print, None

    def _set_capture(self, on):
        if self._cw is not None:
            try:
                self._cw.set_log_capture(on)
            except Exception:
                pass

    def _write(self, text):
        try:
            self.out.write(text)
            self.out.flush()
        except Exception:
            pass

    # ------------------------------------------------------------- relay
    def attach(self, cw, node_ip):
        """Starts the thread that drains `cw`'s relay (one per connection)."""
        with self._lock:
            self._cw, self._my_ip = cw, node_ip
        t = threading.Thread(target=self._drain, args=(cw,), name="lumos-progress", daemon=True)
        t.start()
        return t

    def _drain(self, cw):
        while True:
            try:
                got = cw.take_forwarded(-1)
            except Exception:
                got = None
            if got is None:
                with self._lock:
                    if self._cw is cw:
                        self._cw = None
                return
            plain = []
            for text, is_err in got:
                if text.startswith(MARKER):
                    if plain:
                        self.write_lines(plain)
                        plain = []
                    try:
                        self.update(json.loads(text[len(MARKER):]))
                    except ValueError:
                        pass
                else:
                    plain.append((text, is_err))
            if plain:
                self.write_lines(plain)


_display = Display()


def instance():
    return _display


def attach(cw, node_ip):
    """Called by the driver once its core worker exists."""
    return _display.attach(cw, node_ip)
