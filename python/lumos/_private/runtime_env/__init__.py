"""Runtime environments (Ray's runtime_env): the submitting side.

A call's environment is its `runtime_env` option merged over the caller's
own (the job's in a driver, the worker's in a task), checked by
validation.validate, with local paths snapshotted into the session dir
(packaging.snapshot), and serialized as JSON with sorted keys. That string
goes into TaskSpec.runtime_env: it is the environment's identity (the
raylet grants only workers started for the same string) and what a worker
started for it reads (worker_setup.apply). b"" is the default environment,
which keeps the old fast path: no option means one attribute read.

Snapshots are taken once per (session, caller env, option) and cached, so a
driver that edits its working_dir after the first call does not change
later calls either (like Ray, which uploads once per job).
"""
import hashlib
import json
import os
import pickle
import sys

from lumos._private import code_pickling
from lumos._private.runtime_env import packaging, validation

_resolved: dict = {}  # (epoch, parent json, option key) -> json bytes
_MAX_CACHED = 1024


def resolve(normal, session_dir, gcs=None):
    """`normal` (validation.validate's form) with its local paths replaced by
    snapshots under `session_dir` and a callable worker_process_setup_hook
    exported to the GCS KV (`gcs`); `excludes` is consumed here."""
    root = os.path.join(session_dir, "runtime_resources")
    excludes = normal.get("excludes", [])
    out = {}
    for key, value in normal.items():
        if key == "excludes":
            continue
        if key == "working_dir":
            value = packaging.snapshot(value, os.path.join(root, "working_dir"), "working_dir", excludes)
        elif key == "worker_process_setup_hook" and callable(value):
            value = _export_hook(value, gcs)
        elif key == "py_modules":
            value = [packaging.snapshot(p, os.path.join(root, "py_modules"), "py_modules", excludes,
                                        top_name=os.path.basename(p)) for p in value]
        out[key] = value
    return out


def _export_hook(fn, gcs):
    """Stores the pickled hook (and this process's sys.path) in the GCS KV
    under its content hash; returns the string the worker finds it by."""
    if gcs is None:
        raise ValueError("runtime_env['worker_process_setup_hook'] given as a callable needs a connected cluster "
                         "(lumos.init() first), or give its import path 'module.function'")
    try:
        pickled = code_pickling.dumps(fn)
    except Exception as e:
        raise TypeError("runtime_env['worker_process_setup_hook'] %r cannot be serialized: %s" % (fn, e)) from e
    # With the caller's sys.path: a hook pickled by reference (a function of
    # the driver's own modules) imports in the worker as task functions do.
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    entry = pickle.dumps((paths, pickled), protocol=5)
    key = hashlib.sha256(entry).hexdigest()[:32]
    gcs.kv_put(validation.SETUP_HOOK_NS, key, entry, False)
    return validation.SETUP_HOOK_EXPORTED + key


def dumps(resolved):
    return json.dumps(resolved, sort_keys=True, separators=(",", ":")).encode() if resolved else b""


def _option_key(option):
    return json.dumps(option, sort_keys=True, default=repr)


def spec_env(state, option):
    """TaskSpec.runtime_env of a task or actor submitted by a process whose
    state is `state`, with the runtime_env option `option` (None: inherit)."""
    return state.runtime_env_json if option is None else for_call(state, option)


def for_call(state, option):
    """TaskSpec.runtime_env for a call whose runtime_env option is `option`
    (not None), made by a process whose state is `state`."""
    key = (state.epoch, state.runtime_env_json, _option_key(option))
    hit = _resolved.get(key)
    if hit is None:
        child = resolve(validation.validate(option), state.session_dir, state.gcs)
        hit = dumps(validation.merge(state.runtime_env, child))
        if len(_resolved) >= _MAX_CACHED:
            _resolved.clear()
        _resolved[key] = hit
    return hit


def set_job_env(state, option):
    """Makes `option` (init's runtime_env, validated) the driver's environment."""
    resolved = resolve(validation.validate(option), state.session_dir, state.gcs)
    state.runtime_env = resolved
    state.runtime_env_json = dumps(resolved)
