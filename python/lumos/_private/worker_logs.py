"""The rules of a worker's log files, shared by the worker that writes them
and the tooling that reads them (`lumos logs`, lumos.util.state.get_log).

Names: the raylet opens logs/worker-<raylet pid>-<n>.out/.err before the
spawn (the pid is not known yet); once its core worker exists the worker
renames them to Ray's shape, logs/worker-<worker id hex>-<pid>.out/.err, so
tooling finds a worker's files by worker id or pid (the open descriptors
keep writing to the renamed files).

Task segments: when a task (or actor call) prints, the worker first writes a
marker line TASK_MARKER + <task id hex> to that file, once per change of
task; output outside any task is preceded by a bare TASK_MARKER. A task's
output is the lines after its marker up to the next marker. A task that
prints nothing costs nothing. Readers drop the marker lines.
"""
import os
import re

TASK_MARKER = ":lumos-task-id:"
_NAME = re.compile(r"^worker-([0-9a-f]{8,})-(\d+)\.(out|err)$")


def log_name(worker_id_hex, pid, suffix):
    """The file name of a worker's stdout ("out") or stderr ("err") log."""
    return "worker-%s-%d.%s" % (worker_id_hex, pid, suffix)


def parse_log_name(name):
    """(worker id hex, pid, suffix) of a worker log's file name, or None."""
    m = _NAME.match(name)
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


def rename_own_logs(log_dir, worker_id_hex):
    """Gives this worker's log files their final names (see the module
    comment); a descriptor that is not a file in `log_dir` is left alone."""
    pid = os.getpid()
    for fd, suffix in ((1, "out"), (2, "err")):
        try:
            current = os.readlink("/proc/self/fd/%d" % fd)
        except OSError:
            continue
        if os.path.dirname(current) != os.path.realpath(log_dir) or not os.path.basename(current).startswith(
                "worker-"):
            continue
        try:
            os.rename(current, os.path.join(log_dir, log_name(worker_id_hex, pid, suffix)))
        except OSError:
            pass  # the old name still works for tooling that lists files


class TaskSegments:
    """Feeds on a worker log's text chunk by chunk and yields the lines of
    one task (task_id hex), or every line but the markers (task_id None)."""

    def __init__(self, task_id=None):
        self._task = task_id.lower() if task_id else None
        self._inside = task_id is None
        self._partial = ""

    def feed(self, text, final=False):
        text = self._partial + text
        lines = text.split("\n")
        self._partial = "" if final else lines.pop()
        out = []
        for line in lines:
            if line.startswith(TASK_MARKER):
                if self._task is not None:
                    self._inside = line[len(TASK_MARKER):].strip().lower() == self._task
                continue
            if self._inside:
                out.append(line + "\n")
        if final and out and not text.endswith("\n"):
            out[-1] = out[-1][:-1]
        return "".join(out)
