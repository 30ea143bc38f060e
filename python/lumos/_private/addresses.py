"""Parsing of HOST:PORT addresses given by users (init(address=), --address)."""


def split_host_port(address, what="address"):
    """(host, port) of "HOST:PORT" (IPv6 in brackets), or a ValueError naming the fix."""
    if not isinstance(address, str) or ":" not in address:
        raise ValueError("%s %r has no port; write it as HOST:PORT (e.g. 10.0.0.1:6379)" % (what, address))
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host:
        raise ValueError("%s %r has no host; write it as HOST:PORT" % (what, address))
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("%s %r has a bad port %r; a port is a number from 1 to 65535" % (what, address, port))
    return host, int(port)


def check_reachable(host, port, timeout_s=5.0):
    """Raises ConnectionError naming the address when nothing accepts TCP
    connections at host:port within timeout_s."""
    import socket
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except OSError as e:
        raise ConnectionError("cannot reach the head at %s:%d within %.0f s (%s); check the address, that "
                              "`lumos start --head` runs there, and that the port is open" % (
                                  host, port, timeout_s, e.strerror or e)) from None


def local_ip_towards(host):
    """The IP of this machine's interface that routes to `host` (no packet is sent)."""
    import socket
    if host in ("127.0.0.1", "localhost", "::1"):
        return "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((host, 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
