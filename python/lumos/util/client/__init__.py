"""Client mode: `lumos.init("lumos://HOST:PORT")` drives a remote cluster
from a machine that runs no node (see "Client mode" in docs/ARCHITECTURE.md).

Client side: connect.py (token, handshake, init), api.py (the calls),
stand_ins.py (refs, handles, generators, runtime context), connection.py
(the stream, replies, reconnects), uploads.py (working_dir / py_modules).
Head side: client_server.py (handshake, one driver process per client),
driver_server.py (that process: the stream) and driver_ops.py (what it does
with each message, with the real API), ref_table.py (what the client holds).
Shared: protocol.py (messages, frames), transport.py (frames on TCP),
payload.py (pickling with stand-ins). benchmark.py: the microbenchmark lines.
"""
