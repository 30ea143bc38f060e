"""A job's working_dir travels from the submitting machine to the head as
a zip package: the SDK builds it (make_package), uploads it once
(PUT /api/packages/gcs/<name>; the name is a content hash, so an unchanged
directory is not sent again), and the runtime_env says
"working_dir": "gcs://<name>". The head keeps packages under
<session_dir>/runtime_resources/job_packages/ and unpacks each once
(unpack) into a directory the entrypoint runs in.

The size cap and the file selection (excludes, __pycache__, .git) are the
runtime_env's own (lumos._private.runtime_env.packaging): one rule for
tasks and jobs.
"""
import hashlib
import io
import os
import re
import shutil
import stat
import uuid
import zipfile

from lumos._private.runtime_env import packaging

URI_PREFIX = "gcs://"
_NAME_RE = re.compile(r"^_lumos_pkg_[0-9a-f]{32}\.zip$")


def _human(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return "%.1f %s" % (n / size, unit)
    return "%d B" % n


def make_package(src, excludes=()):
    """(name, zip bytes) of the directory `src`. ValueError when it is not
    a directory or holds more than the cap, naming the biggest files and
    the `excludes` fix."""
    if not os.path.isdir(src):
        raise ValueError("working_dir %r is not a directory on this machine" % (src,))
    files = []
    total = 0
    for rel, full in packaging._files(src, list(excludes)):
        try:
            st = os.stat(full)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            files.append((rel, full, st))
            total += st.st_size
    if total > packaging.MAX_BYTES:
        biggest = sorted(files, key=lambda f: f[2].st_size, reverse=True)[:5]
        raise ValueError(
            "working_dir %r holds %s of files, over the %s limit. The biggest: %s. Leave them out with "
            "runtime_env={'working_dir': ..., 'excludes': [%s]} (--runtime-env-json), or raise "
            "LUMOS_RUNTIME_ENV_MAX_BYTES on the cluster" % (
                src, _human(total), _human(packaging.MAX_BYTES),
                ", ".join("%s (%s)" % (rel, _human(st.st_size)) for rel, _, st in biggest),
                ", ".join(repr(rel) for rel, _, _ in biggest[:2])))
    buf = io.BytesIO()
    digest = hashlib.sha256()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, full, st in files:
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if st.st_mode & stat.S_IXUSR else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(full, "rb") as f:
                data = f.read()
            digest.update(rel.encode("utf-8", "surrogateescape") + b"\0" + hashlib.sha256(data).digest())
            zf.writestr(info, data)
    return "_lumos_pkg_%s.zip" % digest.hexdigest()[:32], buf.getvalue()


def check_name(name):
    if not _NAME_RE.match(name or ""):
        raise ValueError("package name %r is not one the jobs SDK makes (_lumos_pkg_<32 hex>.zip)" % (name,))
    return name


def store_dir(session_dir):
    return os.path.join(session_dir, "runtime_resources", "job_packages")


def package_path(session_dir, name):
    return os.path.join(store_dir(session_dir), check_name(name))


def store(session_dir, name, data):
    """Writes an uploaded package (atomically). ValueError when it is not a zip."""
    path = package_path(session_dir, name)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            bad = zf.testzip()
    except zipfile.BadZipFile as e:
        raise ValueError("package %s is not a zip file (%s)" % (name, e))
    if bad is not None:
        raise ValueError("package %s is corrupt (member %s)" % (name, bad))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp-%s" % uuid.uuid4().hex[:8]
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def unpack(session_dir, uri):
    """The directory holding the package `uri` ("gcs://<name>") unpacked;
    ValueError when the package was never uploaded here."""
    name = check_name(uri[len(URI_PREFIX):])
    src = package_path(session_dir, name)
    dest = os.path.join(session_dir, "runtime_resources", "job_working_dir", name[:-len(".zip")])
    if os.path.isdir(dest):
        return dest
    if not os.path.exists(src):
        raise ValueError("working_dir package %s was not uploaded to this cluster (submit it with the jobs "
                         "SDK or `lumos job submit --working-dir`)" % uri)
    tmp = dest + ".tmp-%s" % uuid.uuid4().hex[:8]
    try:
        with zipfile.ZipFile(src) as zf:
            for info in zf.infolist():
                target = os.path.realpath(os.path.join(tmp, info.filename))
                if not target.startswith(os.path.realpath(tmp) + os.sep):
                    raise ValueError("package %s has a member outside its root: %r" % (name, info.filename))
                zf.extract(info, tmp)
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    os.chmod(target, mode)
        os.makedirs(tmp, exist_ok=True)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not os.path.isdir(dest):
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return dest
