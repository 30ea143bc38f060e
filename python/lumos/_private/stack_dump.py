"""`lumos stack`: a worker writes the Python stacks of all its threads to a
file when asked, in-process (no ptrace, no root).

Each worker creates a FIFO at <session>/sockets/stack.<pid> and a daemon
thread blocked reading it. To ask, the node's raylet (REQUEST_STACK_DUMP)
removes the old logs/stack-<pid>.txt and writes one byte; the thread wakes
and writes the new dump to a hidden temporary file, then renames it, so a
reader never sees half a dump. The thread needs the GIL only while it
formats; a main thread blocked in C++ (the task loop) or in Python code
does not stop it. No signals are used, so the user's own handlers and
child processes are untouched.
"""
import os
import sys
import threading
import time
import traceback


def fifo_path(session_dir, pid):
    return os.path.join(session_dir, "sockets", "stack.%d" % pid)


def dump_name(pid):
    """The dump's file name inside the logs directory (read via READ_LOG)."""
    return "stack-%d.txt" % pid


def format_stacks(title):
    """Every thread's Python stack, innermost call last (Ray's `py-spy dump`
    order is innermost first; this is the traceback order Python users read)."""
    names = {t.ident: t for t in threading.enumerate()}
    me = threading.get_ident()
    out = ["%s, %s" % (title, time.strftime("%Y-%m-%d %H:%M:%S"))]
    for ident, frame in sorted(sys._current_frames().items()):
        if ident == me:
            continue  # this dumping thread itself
        t = names.get(ident)
        label = "%s%s" % (t.name if t else "thread %d" % ident, " (daemon)" if t is not None and t.daemon else "")
        out.append("\nThread %s [%d]:" % (label, ident))
        out.extend(line.rstrip("\n") for line in traceback.format_stack(frame))
    return "\n".join(out) + "\n"


def start_listener(session_dir, log_dir, title):
    """Creates this process's FIFO and the thread answering it; returns the
    thread, or None when the FIFO cannot be made (stack dumps then say so)."""
    pid = os.getpid()
    path = fifo_path(session_dir, pid)
    try:
        if os.path.exists(path):
            os.unlink(path)
        os.mkfifo(path, 0o600)
    except OSError:
        return None

    def serve():
        while True:
            try:
                # O_RDWR: the open never blocks and EOF never spins (a writer always exists).
                fd = os.open(path, os.O_RDWR)
            except OSError:
                return
            try:
                while os.read(fd, 64):
                    _write_dump(log_dir, pid, title)
            except OSError:
                return
            finally:
                os.close(fd)

    t = threading.Thread(target=serve, name="lumos-stack-dump", daemon=True)
    t.start()
    return t


def _write_dump(log_dir, pid, title):
    tmp = os.path.join(log_dir, ".%s.tmp" % dump_name(pid))
    try:
        with open(tmp, "w") as f:
            f.write(format_stacks(title))
        os.rename(tmp, os.path.join(log_dir, dump_name(pid)))
    except OSError:
        pass
