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
