"""The dashboard HTTP server's contract with the modules that serve routes.

The server (lumos.dashboard.server) owns sockets, HTTP parsing, the token
check (401 before any handler runs) and threading: each request runs on its
own thread, so a handler may block (a log tail, an SSE stream). A module that
serves routes exposes `register(router, ctx)` and is listed in
lumos.dashboard.server.ROUTE_MODULES; it never sees a request that failed
authentication.

A handler is `handler(request, params) -> Response | StreamResponse`, where
params holds the `{name}` parts of the path pattern. Raising HttpError sends
its status and message as JSON ({"error": message}); any other exception is a
500 naming the exception, and the server keeps serving.
"""
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union


class HttpError(Exception):
    """An error answer: `status` and a message that names the cause and the fix."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    path: str                      # without the query string
    query: Dict[str, str]          # the last value of each query parameter
    headers: Dict[str, str]        # keys lower-case
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON; HttpError(400) when it is not JSON."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise HttpError(400, "the request body is not JSON (%s); send a JSON object" % e)


@dataclass
class Response:
    status: int = 200
    body: Union[bytes, str] = b""
    content_type: str = "application/json"
    headers: Dict[str, str] = field(default_factory=dict)

    @staticmethod
    def json(obj: Any, status: int = 200) -> "Response":
        return Response(status, json.dumps(obj, default=str), "application/json")

    @staticmethod
    def json_bytes(body: bytes, status: int = 200) -> "Response":
        """A body already encoded as JSON (a cached encoding of a snapshot)."""
        return Response(status, body, "application/json")

    @staticmethod
    def text(text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> "Response":
        return Response(status, text, content_type)


@dataclass
class StreamResponse:
    """A body written chunk by chunk as `chunks` yields (chunked transfer
    encoding, flushed per chunk): log tails, server-sent events. The server
    closes the iterator when the client goes away."""
    chunks: Iterator[bytes]
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200
    headers: Dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request, Dict[str, str]], Union[Response, StreamResponse]]


@dataclass
class DashboardContext:
    """What route modules need to reach the cluster."""
    gcs_address: str               # "IP:PORT"
    session_dir: str               # the head node's session dir
    token: str                     # the cluster token (also for gRPC metadata)
    node_ip: str
    port: int                      # the dashboard's own port


class Router:
    """Maps (method, path) to a handler. Patterns are paths whose `{name}`
    parts match one path segment; a trailing slash is optional."""

    def __init__(self) -> None:
        self._routes: List[Tuple[str, "re.Pattern[str]", Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/")) + "/?$"
        self._routes.append((method.upper(), re.compile(regex), handler))

    def match(self, method: str, path: str) -> Tuple[Handler, Dict[str, str]]:
        allowed = []
        for route_method, regex, handler in self._routes:
            m = regex.match(path)
            if m is None:
                continue
            if route_method == method.upper():
                return handler, m.groupdict()
            allowed.append(route_method)
        if allowed:
            raise HttpError(405, "%s is not allowed on %s (allowed: %s)" % (method, path, ", ".join(sorted(set(allowed)))))
        raise HttpError(404, "no such page or API: %s" % path)

    def paths(self) -> List[str]:
        return [regex.pattern for _, regex, _ in self._routes]
