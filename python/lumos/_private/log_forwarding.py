"""Worker stdout/stderr: each line is sent to the caller of the running task
(ending at the driver's terminal) prefixed "(name pid=N) ", or, on a node
with a non-loopback IP (a cluster of several hosts), "(name pid=N, ip=IP) "
like Ray; and also kept in the worker's own log file."""
import os
import threading

from lumos._private import task_context
from lumos._private.worker_logs import TASK_MARKER


class LineForwarder:
    """A text stream that forwards whole lines through the core worker."""

    def __init__(self, core_worker, original, is_err, node_ip=None):
        self._cw = core_worker
        self._original = original
        self._is_err = is_err
        self._partial = ""
        self._lock = threading.Lock()
        self._marked = None  # the task id whose marker the log file saw last (worker_logs)
        self._pid = os.getpid()
        self._name = None
        self._where = "pid=%d" % self._pid
        if node_ip and not node_ip.startswith("127."):
            self._where += ", ip=%s" % node_ip
        self.prefix = "(worker %s) " % self._where
        self.encoding = getattr(original, "encoding", "utf-8")
        self.errors = getattr(original, "errors", "strict")

    def set_task_name(self, name):
        if name != self._name:
            self._name = name
            self.prefix = "(%s %s) " % (name, self._where)

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        with self._lock:
            text = self._partial + s
            lines = text.split("\n")
            self._partial = lines.pop()
            if lines:
                self._send(lines)
        return len(s)

    def _send(self, lines):
        ctx = task_context.current()
        task = ctx.binary_id if ctx is not None else None
        text = "\n".join(lines) + "\n"
        if task != self._marked:
            # The file's task segments (`lumos logs task`); not forwarded.
            self._marked = task
            text = TASK_MARKER + (task.hex() if task else "") + "\n" + text
        try:
            self._original.write(text)
        except Exception:
            pass
        self._cw.forward_logs([self.prefix + line for line in lines], self._is_err)

    def flush(self):
        if not self._partial:
            return
        with self._lock:
            if self._partial:
                self._send([self._partial])
                self._partial = ""
        try:
            self._original.flush()
        except Exception:
            pass

    def isatty(self):
        # Never a terminal: lines travel to the driver (and the worker's log
        # file), so libraries must not emit terminal control codes here.
        return False

    def fileno(self):
        return self._original.fileno()

    def writable(self):
        return True
