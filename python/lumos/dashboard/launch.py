"""Starting the dashboard process of a head node (called by Node.start()).

The listening socket is bound here, in the starting process, and handed to
the dashboard as an inherited fd: a port in use is an error at once, naming
the port, with no waiting for a child to fail. As in Ray, the default port
(8265) moves on to the next free one when taken; a port the user chose does
not.
"""
import os
import socket
import subprocess
import sys

DEFAULT_PORT = 8265
_DEFAULT_PORT_TRIES = 50
URL_FILE = "dashboard_url"


class DashboardPortInUse(OSError):
    """The dashboard's port is taken (or cannot be bound)."""


def check_host(host):
    if host in ("0.0.0.0", "::", ""):
        # Allowed only when asked for: every interface, still token-protected.
        return host or "0.0.0.0"
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror as e:
        raise ValueError("dashboard host %r does not resolve (%s); pass an IP of this machine" % (host, e)) from None
    return host


def bind(host, port):
    """A listening socket on host:port (port None: 8265 or the next free one)."""
    tries = _DEFAULT_PORT_TRIES if port is None else 1
    first = DEFAULT_PORT if port is None else int(port)
    if not 0 <= first <= 65535:
        raise ValueError("dashboard port must be 0..65535, got %d" % first)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    last_error = None
    for candidate in range(first, first + tries):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, candidate))
            s.listen(128)
            return s
        except OSError as e:
            s.close()
            last_error = e
    if port is None:
        raise DashboardPortInUse("the dashboard ports %d-%d on %s are all in use (%s); pass dashboard_port= "
                                 "(--dashboard-port) or include_dashboard=False"
                                 % (first, first + tries - 1, host, last_error.strerror))
    raise DashboardPortInUse("the dashboard port %d on %s is in use or cannot be bound (%s); pick another one "
                             "with dashboard_port= (--dashboard-port), or include_dashboard=False "
                             "(--include-dashboard=false)" % (first, host, last_error.strerror))


def url_of(host, port):
    return "http://%s:%d" % ("[%s]" % host if ":" in host else host, port)


def start(session_dir, gcs_address, host, port=None, lifeline_pid=None, detached=False, env=None):
    """Binds, spawns the dashboard server (light_main.py) and records its URL
    (<session_dir>/dashboard_url); the caller records its pid. Returns
    (Popen, url). Raises DashboardPortInUse or ValueError."""
    host = check_host(host)
    sock = bind(host, port)
    try:
        bound = sock.getsockname()[1]
        light_main = os.path.join(os.path.dirname(os.path.abspath(__file__)), "light_main.py")
        argv = [sys.executable, light_main, "--gcs-address=" + gcs_address,
                "--session-dir=" + session_dir, "--host=" + host, "--port=%d" % bound,
                "--listen-fd=%d" % sock.fileno()]
        if lifeline_pid:
            argv.append("--lifeline-pid=%d" % lifeline_pid)
        logs = os.path.join(session_dir, "logs")
        with open(os.path.join(logs, "dashboard.out"), "ab") as out, \
                open(os.path.join(logs, "dashboard.err"), "ab") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                    pass_fds=(sock.fileno(),), start_new_session=detached)
    finally:
        sock.close()  # the child holds its own copy
    url = url_of(host, bound)
    with open(os.path.join(session_dir, URL_FILE), "w") as f:
        f.write(url + "\n")
    return proc, url


def recorded_url(session_dir):
    """The URL of the dashboard a node of this session started, or None."""
    try:
        with open(os.path.join(session_dir, URL_FILE)) as f:
            return f.read().strip() or None
    except OSError:
        return None
