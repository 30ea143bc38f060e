"""The cluster token: every TCP port of a lumos cluster (GCS gRPC, raylet and
core-worker fastpath, object transfer) refuses a peer that does not present it.

Where a process finds it, first match wins:
  1. $LUMOS_AUTH_TOKEN
  2. a token file given explicitly (`lumos start --auth-token-file F`)
  3. the `auth_token` file (0600) of a session directory of this host
     (every node writes one: a driver, CLI command or worker on a cluster
     node needs no setup, like Ray's ~/.ray/auth_token)
`lumos start --head` makes a new token when none of these gives one.
"""
import os
import secrets

TOKEN_FILE = "auth_token"


def generate():
    return secrets.token_hex(32)


def read_file(path):
    with open(path) as f:
        token = f.read().strip()
    if not token:
        raise ValueError("the cluster token file %s is empty" % path)
    return token


def write(session_dir, token):
    """Writes the token into the session dir (0600); returns the file's path."""
    path = os.path.join(session_dir, TOKEN_FILE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return path


def resolve(token_file=None, session_dir=None):
    """The token from the environment, `token_file` or `session_dir`, or None."""
    env = os.environ.get("LUMOS_AUTH_TOKEN", "").strip()
    if env:
        return env
    if token_file:
        return read_file(token_file)
    if session_dir:
        path = os.path.join(session_dir, TOKEN_FILE)
        if os.path.exists(path):
            return read_file(path)
    return None


GCS_ADDRESS_FILE = "gcs_address"
NODE_IP_FILE = "node_ip"


def node_ip_of(session_dir):
    try:
        with open(os.path.join(session_dir, NODE_IP_FILE)) as f:
            return f.read().strip() or None
    except OSError:
        return None


def sessions_of(address, root):
    """Session dirs under `root` (newest first) of nodes of the cluster whose
    GCS is at `address` (each node records it in its session's gcs_address)."""
    import glob
    out = []
    for d in glob.glob(os.path.join(root, "session_*")):
        try:
            with open(os.path.join(d, GCS_ADDRESS_FILE)) as f:
                if f.read().strip() == address:
                    out.append(d)
        except OSError:
            continue
    return sorted(out, key=lambda d: os.path.getmtime(d), reverse=True)


def require(token_file=None, session_dir=None, what="connecting to the cluster", address=None, root=None):
    """Like resolve(); with `address` and `root`, also looks for a session of
    that cluster on this host. ConnectionError naming the fix when none."""
    token = resolve(token_file, session_dir)
    if token is None and address and root:
        for d in sessions_of(address, root):
            token = resolve(session_dir=d)
            if token:
                break
    if token is None:
        raise ConnectionError(
            "no cluster token for %s: set LUMOS_AUTH_TOKEN or pass --auth-token-file with the token "
            "`lumos start --head` wrote to <session_dir>/%s on the head node" % (what, TOKEN_FILE))
    return token


def grpc_metadata(token):
    """Metadata for grpcio calls to the GCS."""
    from lumos import __version__
    return (("authorization", "Bearer " + token), ("lumos-version", __version__))


def grpc_channel(address, token):
    """A grpcio channel to the GCS at `address` whose unary calls carry the token."""
    import grpc
    metadata = grpc_metadata(token)

    class _Auth(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation, details, request):
            md = list(details.metadata or []) + list(metadata)
            details = details._replace(metadata=md) if hasattr(details, "_replace") else details
            return continuation(details, request)

    return grpc.intercept_channel(grpc.insecure_channel(address), _Auth())
