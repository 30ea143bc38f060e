"""Snapshots of local directories for working_dir and py_modules.

A snapshot is a copy under `<session>/runtime_resources/<kind>/<digest>/`,
where the digest is a SHA-256 over the relative paths, exec bits and
contents of the files copied. Workers run from the snapshot, so a driver
that edits its files later does not change tasks already submitted, and
equal contents share one copy. The copy is written to a temporary directory
and renamed into place, so concurrent submitters never see half a snapshot.
`__pycache__` and `.git` are skipped, plus the user's `excludes` patterns
(fnmatch on the relative path and on each name).
"""
import fnmatch
import hashlib
import os
import shutil
import stat
import uuid

MAX_BYTES = int(os.environ.get("LUMOS_RUNTIME_ENV_MAX_BYTES", 100 * 1024 * 1024))
_ALWAYS_SKIP = ("__pycache__", ".git")


def _excluded(rel, name, excludes):
    if name in _ALWAYS_SKIP:
        return True
    for pattern in excludes:
        p = pattern.rstrip("/")
        if fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p.lstrip("/")):
            return True
    return False


def _files(src, excludes):
    """Sorted (relative path, absolute path) of the files to copy from `src`."""
    out = []
    for root, dirs, files in os.walk(src):
        rel_root = os.path.relpath(root, src)
        rel_root = "" if rel_root == "." else rel_root
        dirs[:] = sorted(d for d in dirs if not _excluded(os.path.join(rel_root, d), d, excludes))
        for name in sorted(files):
            rel = os.path.join(rel_root, name)
            if not _excluded(rel, name, excludes):
                out.append((rel, os.path.join(root, name)))
    return out


def snapshot(src, dest_root, field, excludes=(), top_name=None):
    """Copies the file or directory `src` into `dest_root/<digest>/` and
    returns that directory. With `top_name`, the copy keeps that name inside
    it (`<digest>/<top_name>`), as py_modules need to be importable by name.
    Raises ValueError when the files exceed MAX_BYTES."""
    if os.path.isdir(src):
        files = _files(src, excludes)
    else:
        files = [(os.path.basename(src), src)]
    os.makedirs(dest_root, exist_ok=True)
    tmp = os.path.join(dest_root, ".tmp-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8]))
    digest = hashlib.sha256()
    prefix = top_name if (top_name and os.path.isdir(src)) else ""
    digest.update(prefix.encode() + b"\0")
    total = 0
    try:
        for rel, full in files:
            try:
                st = os.stat(full)
            except OSError:
                continue  # vanished or a dangling link: nothing to ship
            if not stat.S_ISREG(st.st_mode):
                continue
            total += st.st_size
            if total > MAX_BYTES:
                raise ValueError(
                    "runtime_env[%r]=%r holds more than %d MiB of files (the limit); exclude large files with "
                    "runtime_env['excludes'] (e.g. ['*.bin', 'data/']) or raise LUMOS_RUNTIME_ENV_MAX_BYTES"
                    % (field, src, MAX_BYTES // (1024 * 1024)))
            out = os.path.join(tmp, prefix, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            h = hashlib.sha256()
            with open(full, "rb") as fin, open(out, "wb") as fout:
                while True:
                    chunk = fin.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
                    fout.write(chunk)
            executable = bool(st.st_mode & stat.S_IXUSR)
            if executable:
                os.chmod(out, 0o700)
            digest.update(rel.encode("utf-8", "surrogateescape") + b"\0" + (b"x" if executable else b"-") +
                          h.digest())
        os.makedirs(os.path.join(tmp, prefix), exist_ok=True)
        dest = os.path.join(dest_root, digest.hexdigest()[:24])
        if os.path.isdir(dest):
            return dest
        try:
            os.rename(tmp, dest)
        except OSError:
            if not os.path.isdir(dest):  # not a lost race with another submitter
                raise
        return dest
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
