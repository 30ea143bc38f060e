"""The client's working_dir / py_modules travel to its driver as zip files.

Client side, `prepare(env)` swaps each local path of a runtime_env for an
UploadedDir (its digest, and the zip the first time that digest is sent on
this connection). Driver side, `resolve(env)` unpacks it under
`<session>/runtime_resources/client_uploads/<digest>/` and puts that path
back, so the driver's own runtime_env code (snapshots, size cap, excludes
already applied) takes it from there like any local directory.
"""
import hashlib
import io
import os
import zipfile

from lumos._private.runtime_env import packaging

_FIELDS = ("working_dir", "py_modules")


class UploadedDir:
    """A client directory (or file) in transit: digest, top-level name, zip bytes or None."""

    def __init__(self, digest, name, is_dir, data):
        self.digest = digest
        self.name = name
        self.is_dir = is_dir
        self.data = data


def _zip(path, excludes):
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        files = packaging._files(path, excludes) if os.path.isdir(path) else [(os.path.basename(path), path)]
        for rel, full in files:
            try:
                total += os.path.getsize(full)
            except OSError:
                continue
            if total > packaging.MAX_BYTES:
                raise ValueError(
                    "runtime_env path %r holds more than %d MiB of files (the limit); exclude large files with "
                    "runtime_env['excludes'] (e.g. ['*.bin', 'data/'])" % (path, packaging.MAX_BYTES >> 20))
            z.write(full, rel)
    return buf.getvalue()


def prepare(env, sent):
    """`env` with local paths replaced by UploadedDirs; `sent`: digests this
    connection already shipped (updated)."""
    if not env or not isinstance(env, dict):
        return env
    out = dict(env)
    excludes = list(env.get("excludes") or [])

    def one(path):
        if not isinstance(path, str) or "://" in path:
            return path
        path = os.path.abspath(os.path.expanduser(path))
        if not os.path.exists(path):
            raise ValueError("runtime_env path %r does not exist on this (client) machine" % path)
        data = _zip(path, excludes)
        digest = hashlib.sha256(data).hexdigest()[:24]
        first = digest not in sent
        sent.add(digest)
        return UploadedDir(digest, os.path.basename(path.rstrip("/")), os.path.isdir(path), data if first else None)
    if "working_dir" in out:
        out["working_dir"] = one(out["working_dir"])
    if isinstance(out.get("py_modules"), (list, tuple)):
        out["py_modules"] = [one(p) for p in out["py_modules"]]
    return out


def _unpack(u, session_dir):
    root = os.path.join(session_dir, "runtime_resources", "client_uploads", u.digest)
    target = os.path.join(root, u.name) if u.is_dir else root
    if not os.path.isdir(root):
        if u.data is None:
            raise ValueError("the client's upload %s is missing on the driver" % u.digest)
        tmp = root + ".tmp%d" % os.getpid()
        with zipfile.ZipFile(io.BytesIO(u.data)) as z:
            z.extractall(os.path.join(tmp, u.name) if u.is_dir else tmp)
        try:
            os.rename(tmp, root)
        except OSError:
            if not os.path.isdir(root):
                raise
    return target if u.is_dir else os.path.join(root, u.name)


def resolve(env, session_dir):
    """`env` with UploadedDirs unpacked to driver-local paths."""
    if not env or not isinstance(env, dict):
        return env
    out = dict(env)
    if isinstance(out.get("working_dir"), UploadedDir):
        u = out["working_dir"]
        path = _unpack(u, session_dir)
        # working_dir is the directory itself (not its parent), as given on the client.
        out["working_dir"] = path
    if isinstance(out.get("py_modules"), (list, tuple)):
        out["py_modules"] = [_unpack(p, session_dir) if isinstance(p, UploadedDir) else p for p in out["py_modules"]]
    return out


def prepare_options(options, sent):
    if options and options.get("runtime_env"):
        options = dict(options)
        options["runtime_env"] = prepare(options["runtime_env"], sent)
    return options


def resolve_options(options, session_dir):
    if options and isinstance(options.get("runtime_env"), dict):
        options = dict(options)
        options["runtime_env"] = resolve(options["runtime_env"], session_dir)
    return options
