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
import json
import os

from lumos._private.runtime_env import packaging, validation

_resolved = {}  # (epoch, parent json, option key) -> json bytes
_MAX_CACHED = 1024


def resolve(normal, session_dir):
    """`normal` (validation.validate's form) with its local paths replaced by
    snapshots under `session_dir`; `excludes` is consumed here."""
    root = os.path.join(session_dir, "runtime_resources")
    excludes = normal.get("excludes", [])
    out = {}
    for key, value in normal.items():
        if key == "excludes":
            continue
        if key == "working_dir":
            value = packaging.snapshot(value, os.path.join(root, "working_dir"), "working_dir", excludes)
        elif key == "py_modules":
            value = [packaging.snapshot(p, os.path.join(root, "py_modules"), "py_modules", excludes,
                                        top_name=os.path.basename(p)) for p in value]
        out[key] = value
    return out


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
        child = resolve(validation.validate(option), state.session_dir)
        hit = dumps(validation.merge(state.runtime_env, child))
        if len(_resolved) >= _MAX_CACHED:
            _resolved.clear()
        _resolved[key] = hit
    return hit


def set_job_env(state, option):
    """Makes `option` (init's runtime_env, validated) the driver's environment."""
    resolved = resolve(validation.validate(option), state.session_dir)
    state.runtime_env = resolved
    state.runtime_env_json = dumps(resolved)
