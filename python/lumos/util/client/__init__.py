"""Client mode: `lumos.init("lumos://HOST:PORT")` drives a remote cluster
from a machine that runs no node (see "Client mode" in docs/ARCHITECTURE.md).

Client side: api.py (the calls), stand_ins.py (refs and handles), connection.py
(the stream, reconnects). Head side: client_server.py (handshake, one driver
process per client), driver_server.py + driver_ops.py (that driver).
Shared: protocol.py (frames), payload.py (pickling with stand-ins).
"""
